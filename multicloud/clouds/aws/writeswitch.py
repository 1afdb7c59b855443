"""Stopping writes on AWS: an RDS parameter group with default_transaction_read_only, or a
deny-write statement in an S3 bucket policy. Each reads its state back."""

from __future__ import annotations

import json

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.session import client
from multicloud.clouds.common import retried
from multicloud.config import BucketPolicyWriteSwitch, Connection, RdsWriteSwitch
from multicloud.core.errors import NotFound

_DENY_SID = "MulticloudFailoverDenyWrites"


class RdsSwitch:
    def __init__(self, conn: Connection, cfg: RdsWriteSwitch):
        self._rds, self.cfg = client(conn, "rds"), cfg

    def _call(self, fn):
        return retried(fn, lambda exc: map_error(exc, f"rds:{self.cfg.instance}"))

    def mode(self) -> str:
        """'read-only' when the instance uses the read-only group and that group says so."""
        db = self._call(lambda: self._rds.describe_db_instances(DBInstanceIdentifier=self.cfg.instance))
        groups = [g["DBParameterGroupName"] for g in db["DBInstances"][0].get("DBParameterGroups", [])]
        if self.cfg.read_only_parameter_group not in groups:
            return "read-write"
        params = self._call(lambda: self._rds.describe_db_parameters(
            DBParameterGroupName=self.cfg.read_only_parameter_group))["Parameters"]
        value = {p["ParameterName"]: p.get("ParameterValue") for p in params}.get("default_transaction_read_only")
        return "read-only" if str(value) in ("1", "on", "true") else "read-write"

    def _use(self, group: str) -> None:
        self._call(lambda: self._rds.modify_db_instance(DBInstanceIdentifier=self.cfg.instance,
                                                        DBParameterGroupName=group, ApplyImmediately=True))

    def set_read_only(self) -> None:
        self._use(self.cfg.read_only_parameter_group)

    def set_read_write(self) -> None:
        self._use(self.cfg.read_write_parameter_group)


class BucketPolicySwitch:
    def __init__(self, conn: Connection, cfg: BucketPolicyWriteSwitch):
        self._s3, self.cfg = client(conn, "s3"), cfg

    def _call(self, fn):
        return retried(fn, lambda exc: map_error(exc, f"s3://{self.cfg.bucket} policy"))

    def _policy(self) -> dict:
        try:
            text = self._call(lambda: self._s3.get_bucket_policy(Bucket=self.cfg.bucket))["Policy"]
        except NotFound:
            return {"Version": "2012-10-17", "Statement": []}
        return json.loads(text)

    def mode(self) -> str:
        return "read-only" if any(s.get("Sid") == _DENY_SID for s in self._policy()["Statement"]) else "read-write"

    def set_read_only(self) -> None:
        policy = self._policy()
        if any(s.get("Sid") == _DENY_SID for s in policy["Statement"]):
            return
        policy["Statement"].append({
            "Sid": _DENY_SID, "Effect": "Deny", "Principal": "*",
            "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": f"arn:aws:s3:::{self.cfg.bucket}/*",
        })
        self._call(lambda: self._s3.put_bucket_policy(Bucket=self.cfg.bucket, Policy=json.dumps(policy)))

    def set_read_write(self) -> None:
        policy = self._policy()
        kept = [s for s in policy["Statement"] if s.get("Sid") != _DENY_SID]
        if len(kept) == len(policy["Statement"]):
            return
        if kept:
            policy["Statement"] = kept
            self._call(lambda: self._s3.put_bucket_policy(Bucket=self.cfg.bucket, Policy=json.dumps(policy)))
        else:
            self._call(lambda: self._s3.delete_bucket_policy(Bucket=self.cfg.bucket))
