"""Action planning on rightsizing findings: approval, keep tag, automatable actions, practice mode, one
action per resource, and the re-check against the resource as read again just before acting."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from multicloud.core.rightsizing import actions as A
from multicloud.core.rightsizing.evaluate import CLEAR, FINDING, Outcome, Resource
from multicloud.core.rightsizing.findings import Finding

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def finding(kind: str, action: str, *, rid: str | None = None, rule: str = "r", status: str = FINDING,
            tags: dict | None = None, **res) -> Finding:
    rid = rid or f"{kind}-1"
    defaults = {"vm": {"state": "running"}, "disk": {"attached": False}, "ip": {"associated": False}}.get(kind, {})
    resource = Resource("aws", rid, kind, region="us-east-1", tags=tags or {}, **{**defaults, **res})
    outcome = Outcome(rule, rid, "aws", kind, status, "because", "idle", action, "https://example.test/rule")
    return Finding(outcome, resource, monthly_effective_savings=Decimal("12.5"))


def plan(findings, approve="all", practice=False, approver="ops-lead"):
    ids = [A.finding_id(f) for f in findings] if approve == "all" else approve
    return A.plan_actions(findings, ids, practice, NOW, approver)


def test_approved_automatable_findings_are_acted_on_with_the_approver_named():
    found = [finding("vm", "stop"), finding("disk", "snapshot_and_delete"), finding("ip", "release")]
    planned = plan(found)
    assert [(p.do, p.decision) for p in planned] == [("stop", A.ACT), ("snapshot_and_delete", A.ACT),
                                                     ("release", A.ACT)]
    assert all(p.will_change and "approved by ops-lead" in p.why and p.planned_at == NOW for p in planned)


def test_not_approved_is_untouched():
    found = [finding("vm", "stop"), finding("ip", "release")]
    planned = plan(found, approve=[A.finding_id(found[1])])
    assert (planned[0].decision, planned[0].do, planned[0].why) == (A.NOT_APPROVED, "", "not approved in the form")
    assert planned[1].decision == A.ACT


def test_keep_tag_wins_over_approval():
    for tags in ({"multicloud:keep": "true"}, {"multicloud-keep": "TRUE"}):
        [p] = plan([finding("vm", "stop", tags=tags)])
        assert (p.decision, p.do) == (A.KEPT, "") and "multicloud:keep=true" in p.why
    [p] = plan([finding("vm", "stop", tags={"multicloud:keep": "false"})])
    assert p.decision == A.ACT


@pytest.mark.parametrize("kind,action", [("vm", "resize"), ("snapshot", "review"), ("database", "review"),
                                         ("snapshot", "delete"), ("vm", "release"), ("ip", "stop")])
def test_actions_needing_judgement_or_on_the_wrong_kind_are_not_automated(kind, action):
    [p] = plan([finding(kind, action)])
    assert (p.decision, p.do) == (A.NOT_AUTOMATED, "") and f"{action} of a {kind} is not automated" in p.why


def test_delete_of_a_disk_is_done_as_snapshot_then_delete():
    [p] = plan([finding("disk", "delete")])
    assert (p.decision, p.do) == (A.ACT, "snapshot_and_delete") and "asked: delete" in p.why


def test_practice_mode_walks_through_approved_actions_and_changes_nothing():
    found = [finding("vm", "stop"), finding("ip", "release")]
    planned = plan(found, approve=[A.finding_id(found[0])], practice=True)
    assert (planned[0].decision, planned[0].do, planned[0].will_change, planned[0].will_run) == (
        A.PRACTICE, "stop", False, True)
    assert "practice mode: would stop" in planned[0].why
    assert planned[1].decision == A.NOT_APPROVED and not planned[1].will_run


def test_a_finding_that_did_not_fire_is_not_acted_on():
    [p] = plan([finding("vm", "stop", status=CLEAR)])
    assert p.decision == A.NOT_A_FINDING and "did not fire (clear)" in p.why


def test_two_rules_on_one_resource_act_once():
    found = [finding("vm", "stop", rule="advisor"), finding("vm", "stop", rule="trusted-advisor")]
    first, second = plan(found)
    assert first.decision == A.ACT and (second.decision, second.do) == (A.DUPLICATE, "")
    assert "already planned under rule advisor" in second.why
    assert [f.outcome.rule for f in A.actionable(found)] == ["advisor"]


def test_no_anonymous_action():
    [p] = plan([finding("vm", "stop")], approver="  ")
    assert (p.decision, p.do) == (A.NO_APPROVER, "")


def test_an_unknown_approved_id_is_refused_by_name():
    with pytest.raises(ValueError, match="deadbeef00"):
        plan([finding("vm", "stop")], approve=["deadbeef00"])


def test_finding_ids_are_stable_and_distinct():
    a, b = finding("vm", "stop", rule="x"), finding("vm", "stop", rule="y")
    assert A.finding_id(a) == A.finding_id(finding("vm", "stop", rule="x")) != A.finding_id(b)
    assert len(A.finding_id(a)) == 10


def test_actionable_lists_only_what_could_be_done():
    found = [finding("vm", "stop", rid="a"), finding("vm", "resize", rid="b"),
             finding("disk", "snapshot_and_delete", rid="c", tags={"multicloud:keep": "true"}),
             finding("ip", "release", rid="d", status=CLEAR), finding("disk", "delete", rid="e")]
    assert [f.resource.id for f in A.actionable(found)] == ["a", "e"]
    rows = A.form_rows(A.actionable(found))
    assert rows[1] == {"id": A.finding_id(found[4]), "cloud": "aws", "resource": "e", "kind": "disk", "rule": "r",
                       "monthly_savings": "12.50 USD", "action": "snapshot_and_delete"}
    text = A.form_markdown(rows, practice=True)
    assert rows[0]["id"] in text and "Practice mode is on" in text


def test_recheck_refuses_a_resource_changed_since_the_scan():
    stop, delete, release = plan([finding("vm", "stop"), finding("disk", "snapshot_and_delete"),
                                  finding("ip", "release")])
    assert A.recheck(stop, stop.resource) == ""
    assert A.recheck(stop, None) == "vm-1 no longer exists"
    assert "state is now 'stopped'" in A.recheck(stop, replace(stop.resource, state="stopped"))
    assert "since the scan" in A.recheck(stop, replace(stop.resource, tags={"multicloud:keep": "true"}))
    assert A.recheck(delete, delete.resource) == ""
    assert "attached to i-9 since the scan" == A.recheck(delete, replace(delete.resource, attached=True,
                                                                         attached_to="i-9"))
    assert "cannot be read" in A.recheck(delete, replace(delete.resource, attached=None))
    assert A.recheck(release, release.resource) == ""
    assert "associated with eni-1" in A.recheck(release, replace(release.resource, associated=True,
                                                                 attached_to="eni-1"))


def test_snapshot_name_is_valid_everywhere_and_repeatable():
    [p] = plan([finding("disk", "snapshot_and_delete")])
    name = A.snapshot_name(p)
    assert name == A.snapshot_name(p) and name == name.lower() and len(name) <= 63
    assert name.replace("-", "").isalnum()


def test_report_rows_say_what_happened():
    found = [finding("vm", "stop"), finding("ip", "release")]
    planned = plan(found, approve=[A.finding_id(found[0])])
    rows = A.result_rows(planned, {planned[0].finding_id: {"outcome": A.DONE, "why": "stopped"}})
    assert [(r["outcome"], r["why"]) for r in rows] == [(A.DONE, "stopped"), ("not run", "not approved in the form")]
    assert "| stop | done | stopped |" in A.report_markdown(rows, practice=False)
    assert "practice: nothing was changed" in A.report_markdown(rows, practice=True)
