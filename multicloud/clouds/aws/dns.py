"""Route 53 weighted record sets: read the weights of one record name, write new weights."""

from __future__ import annotations

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.session import client
from multicloud.clouds.common import retried
from multicloud.config import Connection
from multicloud.core.errors import NotFound


class WeightedRecord:
    """All weighted record sets of one name and type in one hosted zone, keyed by SetIdentifier."""

    def __init__(self, conn: Connection, zone: str, name: str, rtype: str):
        self._r53 = client(conn, "route53")
        self.zone, self.name, self.type = _dot(zone), _dot(name), rtype
        self._zone_id: str | None = None

    def _call(self, fn):
        return retried(fn, lambda exc: map_error(exc, f"route53:{self.zone}{self.name}"))

    def zone_id(self) -> str:
        if self._zone_id is None:
            zones = self._call(lambda: self._r53.list_hosted_zones_by_name(DNSName=self.zone))["HostedZones"]
            match = [z["Id"] for z in zones if z["Name"] == self.zone]
            if not match:
                raise NotFound("hosted zone not found", target=self.zone)
            self._zone_id = match[0].split("/")[-1]
        return self._zone_id

    def record_sets(self) -> dict[str, dict]:
        """SetIdentifier -> record set, for the weighted sets of this name and type. Raises NotFound."""
        zone_id = self.zone_id()
        found: dict[str, dict] = {}
        kwargs = {"HostedZoneId": zone_id, "StartRecordName": self.name, "StartRecordType": self.type}
        while True:
            page = self._call(lambda: self._r53.list_resource_record_sets(**kwargs))
            for rs in page["ResourceRecordSets"]:
                if _dot(rs["Name"]) == self.name and rs["Type"] == self.type and "SetIdentifier" in rs:
                    found[rs["SetIdentifier"]] = rs
            if not page.get("IsTruncated") or _dot(page.get("NextRecordName", "")) != self.name:
                break
            kwargs.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        if not found:
            raise NotFound("no weighted record sets", target=f"{self.name} {self.type} in {self.zone}")
        return found

    def weights(self) -> dict[str, int]:
        return {sid: int(rs.get("Weight", 0)) for sid, rs in self.record_sets().items()}

    def values(self) -> dict[str, list[str]]:
        return {sid: [r["Value"] for r in rs.get("ResourceRecords", [])] for sid, rs in self.record_sets().items()}

    def set_weights(self, weights: dict[str, int]) -> None:
        """UPSERT the changed weights in one change batch, keeping values and TTLs."""
        current = self.record_sets()
        changes = []
        for sid, weight in weights.items():
            rs = dict(current[sid])
            if int(rs.get("Weight", 0)) == weight:
                continue
            rs["Weight"] = weight
            changes.append({"Action": "UPSERT", "ResourceRecordSet": rs})
        if changes:
            self._call(lambda: self._r53.change_resource_record_sets(
                HostedZoneId=self.zone_id(), ChangeBatch={"Comment": "multicloud failover", "Changes": changes}))


def _dot(name: str) -> str:
    return name if name.endswith(".") else name + "."
