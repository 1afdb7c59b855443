"""The comparison of our findings with the clouds' own advice: agreement (same kind, same or another
target, said), disagreement with both sides' reasons, no advice (given none, or not read), and the
cloud's recommendations we did not make, with our outcome's verdict on that resource."""

from __future__ import annotations

from decimal import Decimal

import pytest

from multicloud.core.rightsizing import CLEAR, EXCLUDED, FINDING, INSUFFICIENT, Outcome, Resource
from multicloud.core.rightsizing.advice import (
    AGREES, DIFFERS, NO_ADVICE, NOT_JUDGED, Advice, agreement_rows, compare_advice,
)
from multicloud.core.rightsizing.findings import Finding

RULES = {"idle": ("ta-low-utilization-ec2", "stop"), "oversized": ("co-ec2-over-provisioned", "resize"),
         "waste": ("unattached-disk", "snapshot_and_delete")}


def outcome(resource: str, kind: str, status: str = FINDING, reason: str = "every condition held", cloud="aws",
            resource_kind: str = "vm") -> Outcome:
    rule, action = RULES[kind]
    return Outcome(rule, resource, cloud, resource_kind, status, reason, kind, action, "https://example.test/rule")


def finding(resource: str, kind: str, target: str = "", cloud: str = "aws", **fields) -> Finding:
    res = Resource(cloud=cloud, id=resource, kind="disk" if kind == "waste" else "vm", type="m5.2xlarge")
    return Finding(outcome(resource, kind, cloud=cloud), res, target_type=target, **fields)


def advice(resource: str, kind: str, target: str = "", savings: str | None = "30", cloud: str = "aws") -> Advice:
    action = {"idle": "stop", "oversized": "resize", "waste": "snapshot_and_delete"}[kind]
    return Advice(cloud, resource, kind, action, target, Decimal(savings) if savings else None, "USD",
                  "Compute Optimizer", "Overprovisioned: CPUOverprovisioned")


def test_same_resize_target_agrees_and_both_savings_are_said():
    out, only = compare_advice([finding("i-1", "oversized", "m5.large", monthly_effective_savings=Decimal("41.5"))],
                               [advice("i-1", "oversized", "m5.large", "40")])
    assert (out[0].advice, out[0].advice_note) == (
        AGREES, "Compute Optimizer also resizes it to m5.large; it estimates 40.00 USD/month, we 41.50 USD/month")
    assert only == []


def test_another_resize_target_still_agrees_and_says_the_difference():
    out, _ = compare_advice([finding("i-1", "oversized", "m5.xlarge")], [advice("i-1", "oversized", "r6g.large")])
    assert out[0].advice == AGREES
    assert out[0].advice_note.startswith("Compute Optimizer also finds it oversized, but resizes it to r6g.large, "
                                         "we to m5.xlarge")


def test_resize_without_our_target_says_why_we_have_none():
    out, _ = compare_advice([finding("i-1", "oversized", target_note="memory unknown")],
                            [advice("i-1", "oversized", "m5.large", savings=None)])
    assert out[0].advice_note == ("Compute Optimizer also finds it oversized and resizes it to m5.large; "
                                  "we have no target: memory unknown")


def test_idle_agrees_on_the_kind():
    out, only = compare_advice([finding("i-1", "idle")], [advice("i-1", "idle", savings=None)])
    assert (out[0].advice, out[0].advice_note) == (AGREES, "Compute Optimizer also finds it idle (stop)")
    assert only == []


def test_cloud_resizes_what_we_found_idle_differs_with_both_reasons():
    ours = finding("i-1", "idle")
    out, only = compare_advice([ours], [advice("i-1", "oversized", "m5.large", "30")])
    assert out[0].advice == DIFFERS
    assert out[0].advice_note == ("Compute Optimizer says oversized: resize to m5.large (saves 30.00 USD/month); "
                                  "we found it idle under ta-low-utilization-ec2: every condition held")
    # the resize is still a recommendation we did not make; our verdict is the idle finding
    assert [(o.advice.resource_id, o.status, o.rules) for o in only] == [("i-1", "finding", "ta-low-utilization-ec2")]


def test_no_advice_from_a_cloud_that_was_read_and_one_that_was_not():
    out, _ = compare_advice([finding("i-1", "idle"), finding("vm-1", "idle", cloud="azure")], [],
                            read=["aws"])
    assert [(f.advice, f.advice_note) for f in out] == [
        (NO_ADVICE, "no advice from aws for this resource"), (NO_ADVICE, "advice from azure was not read")]


def test_a_rule_that_was_not_met_gives_its_observed_values_for_the_clouds_recommendation():
    judged = outcome("i-2", "oversized", CLEAR, "not met: p99.5 of 5-min max cpu_utilization < 40 over 14 days "
                                                "(observed 63.2)")
    _, only = compare_advice([], [advice("i-2", "oversized", "m5.large")], outcomes=[judged])
    assert [(o.status, o.rules, o.reason) for o in only] == [
        (CLEAR, "co-ec2-over-provisioned", "co-ec2-over-provisioned: not met: p99.5 of 5-min max cpu_utilization < 40 "
                                           "over 14 days (observed 63.2)")]


def test_insufficient_data_and_excluded_are_our_verdicts_too():
    judged = [outcome("i-3", "idle", INSUFFICIENT, "insufficient data: no data points"),
              outcome("i-4", "idle", EXCLUDED, "tagged multicloud:keep=true: excluded from every rule")]
    _, only = compare_advice([], [advice("i-3", "idle"), advice("i-4", "idle")], outcomes=judged)
    assert [(o.advice.resource_id, o.status) for o in only] == [("i-3", INSUFFICIENT), ("i-4", EXCLUDED)]


def test_a_resource_we_never_judged_and_a_kind_no_rule_of_ours_judges():
    judged = outcome("i-6", "oversized", CLEAR, "not met")
    _, only = compare_advice([], [advice("i-5", "idle"), advice("i-6", "idle")], outcomes=[judged])
    assert [(o.status, o.reason) for o in only] == [
        (NOT_JUDGED, "we did not judge this resource (not in our inventory, or no rule for its kind)"),
        (NOT_JUDGED, "no rule of ours judges a vm as idle")]


def test_findings_that_did_not_fire_stay_as_they_are_and_count_as_our_verdict():
    res = Resource(cloud="aws", id="vol-1", kind="disk")
    clear = Finding(outcome("vol-1", "waste", CLEAR, "not met: attached = False (observed True)",
                            resource_kind="disk"), res)
    out, only = compare_advice([clear], [advice("vol-1", "waste")])
    assert out == [clear]
    assert [(o.status, o.reason) for o in only] == [(CLEAR, "unattached-disk: not met: attached = False "
                                                            "(observed True)")]


def test_azure_ids_match_whatever_their_case():
    vm = "/subscriptions/s/resourceGroups/RG-App/providers/Microsoft.Compute/virtualMachines/vm-1"
    out, only = compare_advice([finding(vm, "idle", cloud="azure")], [advice(vm.lower(), "idle", cloud="azure")])
    assert out[0].advice == AGREES and only == []


def test_aws_ids_are_matched_exactly():
    out, only = compare_advice([finding("i-ABC", "idle")], [advice("i-abc", "idle")])
    assert out[0].advice == NO_ADVICE and len(only) == 1


def test_every_finding_keeps_its_order_and_every_cloud_only_row_its_advice():
    findings = [finding(f"i-{n}", "idle") for n in range(3)]
    given = [advice("i-2", "idle"), advice("i-9", "waste"), advice("i-0", "idle")]
    out, only = compare_advice(findings, given)
    assert [f.resource.id for f in out] == ["i-0", "i-1", "i-2"]
    assert [f.advice for f in out] == [AGREES, NO_ADVICE, AGREES]
    assert [o.advice for o in only] == [given[1]]


@pytest.mark.parametrize("field,value", [("finding", "underutilised"), ("action", "terminate")])
def test_advice_outside_the_vocabulary_is_refused_naming_the_resource(field, value):
    kwargs = {"finding": "idle", "action": "stop", field: value}
    with pytest.raises(ValueError, match=f"advice on i-1: {field} {value!r}"):
        Advice("aws", "i-1", **kwargs)


def test_the_agreement_table_has_our_rows_then_the_clouds_own():
    judged = outcome("i-2", "oversized", CLEAR, "not met")
    out, only = compare_advice([finding("i-1", "idle")], [advice("i-1", "idle"), advice("i-2", "oversized", "m5.large")],
                               outcomes=[judged])
    rows = agreement_rows(out, only)
    assert [(r["side"], r["resource"], r["advice"], r["cloud_target"]) for r in rows] == [
        ("ours", "i-1", AGREES, ""), ("cloud only", "i-2", "we: clear", "m5.large")]
    assert rows[1]["why"] == "co-ec2-over-provisioned: not met"
