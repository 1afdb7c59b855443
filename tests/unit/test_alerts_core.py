"""The alert receiver's pure part: payload parsing, the dedupe key and incident id, routing, and the
decision with the events it posts (multicloud.core.alerts)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from multicloud.config import AlertRoute, ReceiverConfig
from multicloud.core.alerts import (
    AlertmanagerPayload, PayloadRejected, decide, dedupe_key, incident_id, match_plan, parse_payload,
)
from tests.support import T_EARLY, T_LATE, alert_group, expected_incident, expected_key

NOW = datetime(2026, 3, 1, 10, 6, tzinfo=timezone.utc)
ROUTES = [AlertRoute(match={"alertname": "PrimarySiteDown", "site": "primary"}, plan="demo-primary-to-secondary")]


def payload_of(body: dict) -> AlertmanagerPayload:
    return parse_payload(json.dumps(body).encode())


def test_dedupe_key_and_incident_match_the_contract() -> None:
    firing = alert_group("pure", fingerprints=("f2", "f1"), starts=(T_LATE, T_EARLY))
    payload = payload_of(firing)
    key = dedupe_key(payload.group_key, payload.alerts_with("firing"))
    assert key == f"{firing['groupKey']}|f1,f2|{T_EARLY}" == expected_key(firing)
    assert str(incident_id(key)) == expected_incident(firing)


def test_earliest_start_compares_times_not_strings() -> None:
    # 09:59+00:00 written in another zone sorts after 10:00Z as a string, yet started first.
    body = alert_group("zones", fingerprints=("a", "b"), starts=("2026-03-01T10:00:00Z", "2026-03-01T11:59:00+02:00"))
    payload = payload_of(body)
    assert dedupe_key(payload.group_key, payload.alerts).endswith("|2026-03-01T11:59:00+02:00")


def test_first_matching_route_wins_and_common_labels_count() -> None:
    config = ReceiverConfig.model_validate({"routes": [
        {"match": {"alertname": "PrimarySiteDown", "site": "primary"}, "plan": "first"},
        {"match": {"alertname": "PrimarySiteDown"}, "plan": "second"},
    ]})
    payload = payload_of(alert_group("routes"))
    assert match_plan(config.routes, payload, payload.alerts) == "first"
    payload.alerts[0].labels.pop("site")  # still matched through commonLabels
    assert match_plan(config.routes, payload, payload.alerts) == "first"
    payload.common_labels.pop("site")
    assert match_plan(config.routes, payload, payload.alerts) == "second"


def test_firing_decision_carries_one_event_with_the_incident_id() -> None:
    body = alert_group("fire", fingerprints=("f2", "f1"), starts=(T_LATE, T_EARLY))

    decision = decide(payload_of(body), ROUTES, NOW, cancel_on_resolved=True)

    incident = expected_incident(body)
    assert (decision.action, decision.plan, decision.incident) == ("trigger", "demo-primary-to-secondary", incident)
    assert decision.claim_key == expected_key(body) and decision.cancel_variable is None
    assert "demo-primary-to-secondary" in decision.why and body["groupKey"] in decision.why
    [event] = decision.events
    assert event == {
        "id": incident, "occurred": NOW.isoformat(), "event": "multicloud.alert.firing",
        "resource": {"prefect.resource.id": "multicloud.failover.plan.demo-primary-to-secondary",
                     "prefect.resource.name": "demo-primary-to-secondary"},
        "payload": {"plan": "demo-primary-to-secondary", "incident": incident, "group_key": body["groupKey"],
                    "alertnames": ["PrimarySiteDown"], "starts_at": T_EARLY, "received_at": NOW.isoformat(),
                    "labels": body["commonLabels"], "receiver": "multicloud-failover"},
    }


@pytest.mark.parametrize("cancel", [True, False])
def test_resolved_decision_names_the_firing_incident_and_its_cancel_variable(cancel: bool) -> None:
    firing = alert_group("res", fingerprints=("r1", "r2"), starts=(T_EARLY, T_LATE))
    resolved = alert_group("res", status="resolved", fingerprints=("r1", "r2"), starts=(T_EARLY, T_LATE))

    decision = decide(payload_of(resolved), ROUTES, NOW, cancel_on_resolved=cancel)

    incident = expected_incident(firing)
    assert (decision.action, decision.incident) == ("resolve", incident)
    assert decision.claim_key == f"resolved|{expected_key(firing)}"  # its own row: the firing one is 'posted'
    assert decision.cancel_variable == (f"failover-cancel-{incident}" if cancel else None)
    [event] = decision.events
    assert event["event"] == "multicloud.alert.resolved" and event["id"] != incident
    assert event["id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "multicloud-alert-resolved:" + expected_key(firing)))
    assert event["payload"] == {"plan": "demo-primary-to-secondary", "group_key": firing["groupKey"],
                                "incident": incident}


def test_only_alerts_of_the_group_status_count() -> None:
    body = alert_group("mixed", fingerprints=("m1", "m2"), starts=(T_EARLY, T_LATE))
    body["alerts"][1]["status"] = "resolved"
    decision = decide(payload_of(body), ROUTES, NOW, cancel_on_resolved=True)
    assert decision.claim_key == f"{body['groupKey']}|m1|{T_EARLY}"


def test_unrouted_group_is_ignored_saying_why() -> None:
    body = alert_group("other", labels={"alertname": "DiskFull", "site": "primary"})
    decision = decide(payload_of(body), ROUTES, NOW, cancel_on_resolved=True)
    assert (decision.action, decision.events, decision.claim_key) == ("ignore", (), None)
    assert "no route" in decision.why and body["groupKey"] in decision.why


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00"], ids=["syntax", "empty", "not-utf8"])
def test_a_body_that_is_not_json_is_malformed(body: bytes) -> None:
    with pytest.raises(PayloadRejected) as info:
        parse_payload(body)
    assert info.value.reason == "malformed" and info.value.errors == []


@pytest.mark.parametrize(("change", "field"), [
    (lambda p: p.pop("groupKey"), "groupKey"),
    (lambda p: p.update(version="3"), "version"),
    (lambda p: p["alerts"][0].pop("fingerprint"), "alerts.0.fingerprint"),
    (lambda p: p["alerts"][0].update(startsAt="2026-03-01T10:00:00"), "alerts.0.startsAt"),  # no zone
    (lambda p: p.update(alerts=[]), "alerts"),
    (lambda p: p.update(status="resolved"), "body"),  # no alert has the group's status
], ids=["missing-groupKey", "wrong-version", "missing-fingerprint", "startsAt-without-zone", "no-alerts",
        "status-of-no-alert"])
def test_an_invalid_payload_names_the_field(change, field: str) -> None:
    body = alert_group("invalid")
    change(body)
    with pytest.raises(PayloadRejected) as info:
        parse_payload(json.dumps(body).encode())
    assert info.value.reason == "invalid"
    assert field in [e["field"] for e in info.value.errors]
