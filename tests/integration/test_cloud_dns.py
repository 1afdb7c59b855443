"""Cloud DNS weighted records through the real REST requests, answered by a local fake API on a free port."""

from __future__ import annotations

import google.auth
import pytest
import requests
from google.oauth2.credentials import Credentials

from multicloud.clouds.gcp import dns as cloud_dns
from multicloud.clouds.gcp.dns import SCOPE, CloudDnsWeights
from multicloud.config import CloudDnsRecord, Connection
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied
from multicloud.core.failover import shift_weights
from multicloud.testing.fakes.fake_cloud_dns import FakeCloudDns, plain_record, wrr_record

PROJECT, ZONE, NAME = "ops-test", "internal-zone", "app.example.internal."
PATH = f"/dns/v1/projects/{PROJECT}/managedZones/{ZONE}/rrsets/{NAME}/CNAME"
SITES = {"primary": "primary.example.internal", "secondary": "secondary.example.internal"}
CONN = Connection(name="gcp-fake", cloud="gcp", credentials="emulator", timeout_seconds=7, connect_timeout_seconds=3)


@pytest.fixture
def api():
    with FakeCloudDns() as fake:
        fake.put(PROJECT, ZONE, wrr_record(NAME, "CNAME", [
            (70, ["primary.example.internal."]), (30, ["secondary.example.internal."]),
            (0, ["standby.example.internal."]),  # an item of no configured site: kept as it is
        ]))
        yield fake


def record(fake: FakeCloudDns, name: str = NAME, zone: str = ZONE, rtype: str = "CNAME",
           conn: Connection = CONN, sites: dict | None = None) -> CloudDnsWeights:
    dns = CloudDnsRecord(project=PROJECT, managed_zone=zone, record=name, type=rtype, api_endpoint=fake.url)
    return CloudDnsWeights(conn, dns, SITES if sites is None else sites)


def test_reads_weights_and_values(api):
    rec = record(api)
    assert rec.weights() == {"primary": 70, "secondary": 30}
    # The site's own value spelled as configured, so the runbook maps it back to the site.
    assert rec.values() == {"primary": ["primary.example.internal"], "secondary": ["secondary.example.internal"]}
    calls = api.calls()
    assert [(c.method, c.path) for c in calls] == [("GET", PATH), ("GET", PATH)]
    assert all("authorization" not in c.headers for c in calls)  # emulator: anonymous


def test_record_name_without_trailing_dot_is_made_absolute(api):
    assert record(api, name="app.example.internal").weights() == {"primary": 70, "secondary": 30}
    assert api.calls()[0].path == PATH


def test_every_request_carries_the_connection_timeouts(api, monkeypatch):
    seen = []
    original = requests.Session.request

    def spy(self, method, url, *args, **kwargs):
        seen.append((method, kwargs.get("timeout")))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    record(api).set_weights({"primary": 50, "secondary": 50})
    assert seen == [("GET", (3, 7)), ("PATCH", (3, 7))]


def test_set_weights_patches_once_only_when_something_differs(api):
    rec = record(api)
    before = api.get(PROJECT, ZONE, NAME, "CNAME")
    rec.set_weights({"primary": 70, "secondary": 30})
    assert api.calls("PATCH") == []

    rec.set_weights({"primary": 60, "secondary": 40})
    patches = api.calls("PATCH")
    assert len(patches) == 1 and patches[0].path == PATH
    sent = patches[0].body
    # The whole record set as read, only the item weights replaced.
    expected = before
    for item, weight in zip(expected["routingPolicy"]["wrr"]["items"], (60, 40, 0)):
        item["weight"] = weight
    assert sent == expected
    assert rec.weights() == {"primary": 60, "secondary": 40}
    assert api.get(PROJECT, ZONE, NAME, "CNAME")["routingPolicy"]["wrr"]["items"][2] == \
        before["routingPolicy"]["wrr"]["items"][2]

    rec.set_weights({"secondary": 40})  # unchanged again: no second PATCH
    assert len(api.calls("PATCH")) == 1


def test_a_fractional_weight_is_not_taken_for_the_integer_asked(api):
    api.put(PROJECT, ZONE, wrr_record(NAME, "CNAME", [(0.5, ["primary.example.internal."]),
                                                      (99.5, ["secondary.example.internal."])]))
    rec = record(api)
    assert rec.weights() == {"primary": 0, "secondary": 99}
    rec.set_weights({"primary": 0, "secondary": 100})
    assert len(api.calls("PATCH")) == 1
    assert rec.weights() == {"primary": 0, "secondary": 100}


def test_missing_record_or_zone_is_not_found_naming_the_record(api):
    with pytest.raises(NotFound, match="missing.example.internal.") as exc:
        record(api, name="missing.example.internal.").weights()
    assert "parameters.name" in str(exc.value)
    with pytest.raises(NotFound, match="no-such-zone") as exc:
        record(api, zone="no-such-zone").weights()
    assert NAME in exc.value.target
    assert len(api.calls()) == 2  # not retried


def test_record_without_wrr_policy_is_invalid_input_naming_it(api):
    api.put(PROJECT, ZONE, plain_record("static.example.internal.", "CNAME", ["primary.example.internal."]))
    rec = record(api, name="static.example.internal.")
    with pytest.raises(InvalidInput, match="static.example.internal."):
        rec.weights()
    with pytest.raises(InvalidInput, match="static.example.internal."):
        rec.set_weights({"primary": 0})
    assert api.calls("PATCH") == []


def test_unknown_site_or_negative_weight_writes_nothing(api):
    rec = record(api)
    with pytest.raises(InvalidInput, match="tertiary"):
        rec.set_weights({"primary": 0, "tertiary": 100})
    with pytest.raises(InvalidInput, match="negative"):
        rec.set_weights({"primary": -1})
    assert api.calls("PATCH") == []
    assert rec.weights() == {"primary": 70, "secondary": 30}


def test_transient_and_throttled_answers_are_retried_denied_ones_are_not(api):
    rec = record(api)
    api.fail_next(503, 429)
    assert rec.weights() == {"primary": 70, "secondary": 30}
    assert len(api.calls("GET")) == 3
    api.fail_next(403)
    with pytest.raises(PermissionDenied, match="injected failure 403"):
        rec.weights()
    api.fail_next(400)
    with pytest.raises(InvalidInput):
        rec.weights()
    assert len(api.calls("GET")) == 5


def test_failover_moves_all_weight_from_primary_to_secondary(api):
    rec = record(api)
    before = rec.weights()
    target = shift_weights(before, "primary", ["secondary"])
    assert target == {"primary": 0, "secondary": 100}
    rec.set_weights(target)
    assert rec.weights() == target
    assert len(api.calls("PATCH")) == 1
    items = api.get(PROJECT, ZONE, NAME, "CNAME")["routingPolicy"]["wrr"]["items"]
    assert [(i["weight"], i["rrdatas"]) for i in items] == [
        (0, ["primary.example.internal."]), (100, ["secondary.example.internal."]), (0, ["standby.example.internal."])]
    rec.set_weights(target)  # a repeat of the step changes nothing
    assert len(api.calls("PATCH")) == 1


def test_address_records_match_in_canonical_form(api):
    api.put(PROJECT, ZONE, wrr_record("db.example.internal.", "AAAA", [(1, ["2001:db8:0:0::1"]), (2, ["2001:DB8::2"])]))
    rec = record(api, name="db.example.internal.", rtype="AAAA", sites={"primary": "2001:db8::1", "secondary": "2001:db8::2"})
    assert rec.weights() == {"primary": 1, "secondary": 2}


def test_default_credentials_authorize_with_the_cloud_dns_scope(api, monkeypatch):
    asked = []

    def adc(scopes=None, **kwargs):
        asked.append(scopes)
        return Credentials(token="test-token"), PROJECT

    monkeypatch.setattr(google.auth, "default", adc)
    monkeypatch.setattr(cloud_dns, "_SESSIONS", {})
    conn = Connection(name="gcp-adc", cloud="gcp", credentials="default")
    assert record(api, conn=conn).weights() == {"primary": 70, "secondary": 30}
    assert asked == [[SCOPE]]
    assert api.calls()[-1].headers["authorization"] == "Bearer test-token"


def test_emulator_connection_needs_an_api_endpoint():
    dns = CloudDnsRecord(project=PROJECT, managed_zone=ZONE, record=NAME)
    with pytest.raises(InvalidInput, match="api_endpoint"):
        CloudDnsWeights(CONN, dns, SITES)
