"""Span attributes read from run parameters (pure): rule, plan, target, provider, region, outcome."""

from multicloud.config import Connection, Profile, ReplicationRule
from multicloud.core import tracing

SCHEMES = {"s3": "aws", "az": "azure", "gs": "gcp"}
PROFILE = Profile(connections=[Connection(name="a", cloud="aws", region="eu-west-1"),
                               Connection(name="z", cloud="azure")])


def test_a_rule_names_the_rule_and_its_source_cloud_and_region():
    rule = ReplicationRule(name="r1", source="s3://src/", targets=["az://dst/"])
    assert tracing.run_attributes("replicate", {"rule": rule, "profile": PROFILE}, SCHEMES) == {
        "multicloud.operation": "replicate", "multicloud.rule": "r1", "cloud.provider": "aws",
        "cloud.region": "eu-west-1"}


def test_a_target_parameter_wins_the_provider():
    rule = ReplicationRule(name="r1", source="s3://src/", targets=["az://dst/"])
    found = tracing.run_attributes("commit", {"target": "gs://dst/", "rule": rule, "profile": PROFILE}, SCHEMES)
    assert found["multicloud.target"] == "gs://dst/" and found["cloud.provider"] == "gcp" and "cloud.region" not in found


def test_unknown_parameters_give_only_the_operation_and_outcome_comes_from_status():
    assert tracing.run_attributes("x", {"n": 3, "when": None, "data": {"a": "s3://b"}}, SCHEMES) == {
        "multicloud.operation": "x"}
    assert tracing.outcome(True, None) == "completed" and tracing.outcome(False, None) == "failed"
    assert tracing.outcome(True, "copied 3") == "copied 3"


def test_a_flow_takes_a_region_only_from_a_task_of_its_own_provider():
    flow = {"multicloud.operation": "replicate", "cloud.provider": "aws"}
    assert tracing.inherited(flow, {"cloud.provider": "azure", "cloud.region": "westeurope", "multicloud.rule": "r"}) \
        == {"multicloud.rule": "r"}
    assert tracing.inherited(flow, {"cloud.provider": "aws", "cloud.region": "us-east-1"}) == {"cloud.region": "us-east-1"}
