"""The alert receiver against a real Prefect server: exactly one event per incident however often
Alertmanager delivers, the resolved path with its cancel variable, and every refusal counted."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments.alert_receiver import create_app
from multicloud.config import ReceiverConfig, load_receiver_config
from multicloud.core.alerts import AlertmanagerPayload, match_plan
from multicloud.core.errors import InvalidInput
from tests.support import (
    ALERT_MAX_BODY_BYTES as MAX_BODY_BYTES, ALERT_PLAN as PLAN, T_EARLY, T_LATE, PrefectEvents, Receiver,
    alert_group, closed_port, expected_incident, expected_key,
)

FIRING = "multicloud.alert.firing"
RESOLVED = "multicloud.alert.resolved"


# ---- the happy path ---------------------------------------------------------------------------

def test_healthz(receiver: Receiver) -> None:
    response = receiver.client.get(f"{receiver.url}/healthz")
    assert (response.status_code, response.text) == (200, "ok")


def test_one_firing_alert_posts_one_event(receiver: Receiver, prefect_events: PrefectEvents) -> None:
    payload = alert_group("one", fingerprints=("ff00000000000002", "ff00000000000001"), starts=(T_LATE, T_EARLY))
    incident = expected_incident(payload)

    response = receiver.post(payload)

    assert response.status_code == 202
    assert response.json() == {"status": "triggered", "incident": incident, "plan": PLAN}
    [event] = prefect_events.for_group(FIRING, payload["groupKey"], expect=1)
    assert event["id"] == incident
    assert event["resource"] == {"prefect.resource.id": f"multicloud.failover.plan.{PLAN}",
                                 "prefect.resource.name": PLAN}
    received_at = event["payload"].pop("received_at")
    assert received_at.startswith(event["occurred"][:19])  # the RTO clock of the failover it starts
    assert event["payload"] == {
        "plan": PLAN, "incident": incident, "group_key": payload["groupKey"], "alertnames": ["PrimarySiteDown"],
        "starts_at": T_EARLY, "labels": payload["commonLabels"], "receiver": "multicloud-failover",
    }
    assert receiver.row(expected_key(payload)) == (PLAN, "posted", 1)


def test_fifty_deliveries_concurrent_and_across_a_restart_give_one_event(
        receiver: Receiver, prefect_events: PrefectEvents) -> None:
    payload = alert_group("fifty", fingerprints=("dd00000000000001", "dd00000000000002"), starts=(T_EARLY, T_LATE))
    statuses: list[int] = []
    bodies: list[dict[str, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def sender(count: int) -> None:  # one of an HA pair of Alertmanagers
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            for _ in range(count):
                r = client.post(f"{receiver.url}/alerts", json=payload,
                                headers={"Authorization": f"Bearer {receiver.token}"})
                with lock:
                    statuses.append(r.status_code)
                    bodies.append(r.json())

    threads = [threading.Thread(target=sender, args=(10,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(15):
        r = receiver.post(payload)
        statuses.append(r.status_code), bodies.append(r.json())
    receiver.restart()  # same SQLite file
    for _ in range(15):
        r = receiver.post(payload)
        statuses.append(r.status_code), bodies.append(r.json())

    assert len(statuses) == 50
    assert all(200 <= s < 300 for s in statuses), statuses
    assert sorted(statuses) == [200] * 49 + [202]
    assert {b["incident"] for b in bodies} == {expected_incident(payload)}
    assert [b["status"] for b in bodies].count("triggered") == 1
    assert receiver.row(expected_key(payload)) == (PLAN, "posted", 50)
    after_restart = receiver.metrics()
    assert after_restart["multicloud_alerts_duplicates_total"] == 15
    assert after_restart["multicloud_alerts_triggered_total"] == 0
    events = prefect_events.for_group(FIRING, payload["groupKey"], expect=1)
    assert [e["id"] for e in events] == [expected_incident(payload)]


def test_new_firing_set_gives_a_second_event(receiver: Receiver, prefect_events: PrefectEvents) -> None:
    first = alert_group("second-set", fingerprints=("cc00000000000001",))
    grown = alert_group("second-set", fingerprints=("cc00000000000001", "cc00000000000002"), starts=(T_EARLY, T_LATE))

    assert receiver.post(first).status_code == 202
    assert receiver.post(first).status_code == 200
    second = receiver.post(grown)

    assert second.status_code == 202 and second.json()["status"] == "triggered"
    events = prefect_events.for_group(FIRING, first["groupKey"], expect=2)
    assert sorted(e["id"] for e in events) == sorted([expected_incident(first), expected_incident(grown)])


def test_resolved_posts_resolved_event_and_sets_cancel_variable(
        receiver: Receiver, prefect_events: PrefectEvents) -> None:
    firing = alert_group("resolve", fingerprints=("bb00000000000001", "bb00000000000002"), starts=(T_LATE, T_EARLY))
    resolved = alert_group("resolve", status="resolved", fingerprints=("bb00000000000001", "bb00000000000002"),
                           starts=(T_LATE, T_EARLY))
    incident = expected_incident(firing)
    assert expected_incident(resolved, "resolved") == incident
    assert receiver.post(firing).status_code == 202

    response = receiver.post(resolved)
    repeat = receiver.post(resolved)

    assert response.status_code == 202
    assert response.json() == {"status": "resolved", "incident": incident, "plan": PLAN,
                               "cancel_variable": f"failover-cancel-{incident}"}
    assert repeat.status_code == 200 and repeat.json()["status"] == "duplicate"
    [event] = prefect_events.for_group(RESOLVED, firing["groupKey"], expect=1)
    assert event["payload"] == {"plan": PLAN, "group_key": firing["groupKey"], "incident": incident}
    assert event["resource"]["prefect.resource.id"] == f"multicloud.failover.plan.{PLAN}"
    assert event["id"] != incident  # a distinct id, or Prefect would drop it as a repeat of the firing event
    assert prefect_events.variable(f"failover-cancel-{incident}") == "resolved"
    assert len(prefect_events.for_group(FIRING, firing["groupKey"], expect=1)) == 1


# ---- refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Bearer"}, {"Authorization": "Basic x"},
], ids=["no-header", "wrong-token", "empty-token", "basic-scheme"])
def test_unauthenticated_is_401_and_posts_nothing(
        receiver: Receiver, prefect_events: PrefectEvents, headers: dict[str, str]) -> None:
    payload = alert_group(f"unauth-{uuid.uuid4().hex[:8]}")

    response = receiver.post(payload, token=None, headers=headers)

    assert response.status_code == 401
    assert receiver.token not in response.text
    assert prefect_events.for_group(FIRING, payload["groupKey"], expect=0) == []
    assert receiver.row(expected_key(payload)) is None


def test_token_in_scheme_other_than_bearer_is_refused(receiver: Receiver) -> None:
    response = receiver.post(alert_group("basic"), token=None, headers={"Authorization": f"Basic {receiver.token}"})
    assert response.status_code == 401


def test_oversized_body_is_413(receiver: Receiver) -> None:
    payload = alert_group("big")
    payload["commonAnnotations"]["description"] = "x" * (MAX_BODY_BYTES + 1)

    declared = receiver.post(payload)
    chunked = receiver.post(content=iter([b"[" + b" " * 8192] * ((MAX_BODY_BYTES // 8192) + 2)),
                            headers={"Content-Type": "application/json"})

    assert declared.status_code == 413
    assert "Transfer-Encoding" not in declared.request.headers
    assert chunked.status_code == 413
    assert chunked.request.headers.get("Transfer-Encoding") == "chunked"


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00"], ids=["syntax", "empty", "not-utf8"])
def test_malformed_json_is_400(receiver: Receiver, body: bytes) -> None:
    assert receiver.post(content=body, headers={"Content-Type": "application/json"}).status_code == 400


@pytest.mark.parametrize(("change", "field"), [
    (lambda p: p.pop("groupKey"), "groupKey"),
    (lambda p: p.update(version="3"), "version"),
    (lambda p: p["alerts"][0].pop("fingerprint"), "alerts.0.fingerprint"),
    (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
    (lambda p: p.update(alerts=[]), "alerts"),
], ids=["missing-groupKey", "wrong-version", "missing-fingerprint", "bad-startsAt", "no-alerts"])
def test_schema_invalid_is_422_naming_the_field(receiver: Receiver, change: Any, field: str) -> None:
    payload = alert_group("invalid")
    change(payload)

    response = receiver.post(payload)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("labels", [
    {"alertname": "DiskFull", "site": "primary"},
    {"alertname": "PrimarySiteDown", "site": "secondary"},
    {"alertname": "PrimarySiteDown"},
], ids=["other-alertname", "other-site", "missing-site"])
def test_unmapped_labels_are_ignored(receiver: Receiver, prefect_events: PrefectEvents,
                                     labels: dict[str, str]) -> None:
    payload = alert_group(f"unmapped-{uuid.uuid4().hex[:8]}", labels=labels)
    before = receiver.metrics()

    response = receiver.post(payload)

    assert (response.status_code, response.json()) == (202, {"status": "ignored"})
    assert receiver.metrics()["multicloud_alerts_ignored_total"] == before["multicloud_alerts_ignored_total"] + 1
    assert prefect_events.for_group(FIRING, payload["groupKey"], expect=0) == []


def test_prefect_unreachable_is_503_then_a_retry_posts_once(
        receiver: Receiver, prefect_events: PrefectEvents) -> None:
    payload = alert_group("outage", fingerprints=("ee00000000000001",))
    port = closed_port()
    # Credentials in the API address (userinfo, a signed query) must never reach the log.
    receiver.restart(api_url=f"http://ops:s3cret-pass@127.0.0.1:{port}/api?sig=s3cret-sig")
    try:
        failed = [receiver.post(payload) for _ in range(3)]
        assert [r.status_code for r in failed] == [503, 503, 503]
        assert receiver.row(expected_key(payload)) == (PLAN, "stored", 3)
        assert receiver.metrics()["multicloud_alerts_post_failures_total"] == 3
    finally:
        receiver.restart()
    log_text = receiver.logfile.read_text()
    assert f"events to http://<redacted>@127.0.0.1:{port}/api?<redacted>" in log_text
    assert "s3cret" not in log_text

    retried = receiver.post(payload)
    repeat = receiver.post(payload)

    assert (retried.status_code, retried.json()["status"]) == (202, "triggered")
    assert (repeat.status_code, repeat.json()["status"]) == (200, "duplicate")
    assert receiver.row(expected_key(payload)) == (PLAN, "posted", 5)
    events = prefect_events.for_group(FIRING, payload["groupKey"], expect=1)
    assert [e["id"] for e in events] == [expected_incident(payload)]


# ---- metrics and secrecy --------------------------------------------------------------------------

def test_metrics_count_each_outcome(receiver: Receiver) -> None:
    before = receiver.metrics()
    payload = alert_group("metrics", fingerprints=("aa00000000000009",))
    bad_version = {**payload, "version": "3"}
    big = alert_group("metrics-big")
    big["commonAnnotations"]["description"] = "x" * (MAX_BODY_BYTES + 1)

    assert receiver.post(payload).status_code == 202
    assert receiver.post(payload).status_code == 200
    assert receiver.post(payload, token="nope").status_code == 401
    assert receiver.post(big).status_code == 413
    assert receiver.post(content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    assert receiver.post(bad_version).status_code == 422
    assert receiver.post(alert_group("metrics-unmapped", labels={"alertname": "Other"})).status_code == 202
    after = receiver.metrics()

    delta = {name: after[name] - before.get(name, 0) for name in after}
    assert delta["multicloud_alerts_received_total"] == 7
    assert delta["multicloud_alerts_triggered_total"] == 1
    assert delta["multicloud_alerts_duplicates_total"] == 1
    assert delta["multicloud_alerts_ignored_total"] == 1
    for reason in ("unauthorized", "too_large", "malformed", "invalid"):
        assert delta[f'multicloud_alerts_rejected_total{{reason="{reason}"}}'] == 1
    text = receiver.client.get(f"{receiver.url}/metrics")
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE multicloud_alerts_received_total counter" in text.text


def test_token_never_logged(receiver: Receiver) -> None:
    receiver.post(alert_group("log-check"), token="wrong")
    receiver.post(alert_group("log-check"))
    log_text = receiver.logfile.read_text()
    assert "rejected (unauthorized)" in log_text and "incident" in log_text  # the log is the receiver's
    assert receiver.token not in log_text


# ---- configuration and start-up, in process ----------------------------------------------------

def test_bad_config_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("max_body_bytes: 0\nprefect_api_url: ftp://ops:s3cret@prefect.example/api\n"
                    "routes:\n  - match: {alertname: X}\n    plan: Not_A_Plan\n")
    with pytest.raises(InvalidInput) as info:
        load_receiver_config(path)
    message = str(info.value)
    assert str(path) in message and "max_body_bytes" in message and "routes.0.plan" in message
    assert "prefect_api_url" in message and "ftp://<redacted>@prefect.example/api" in message
    assert "s3cret" not in message


def test_shipped_config_routes_the_demo_alert() -> None:
    config = load_receiver_config(Path(__file__).resolve().parents[2] / "deployments" / "alerts.yaml")
    payload = AlertmanagerPayload.model_validate(alert_group("demo"))
    assert match_plan(config.routes, payload, payload.alerts) == "demo-primary-to-secondary"
    assert config.cancel_on_resolved and config.token_env == "MULTICLOUD_ALERT_TOKEN"


def test_app_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MULTICLOUD_ALERT_TOKEN", raising=False)
    config = ReceiverConfig(database=tmp_path / "db.sqlite3")
    with pytest.raises(InvalidInput, match="MULTICLOUD_ALERT_TOKEN"):
        create_app(config)


def test_prefect_address_from_the_config_wins_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    config = ReceiverConfig(database=tmp_path / "db.sqlite3", prefect_api_url="http://ops:pw@config.example:4200/api")
    with temporary_settings(updates={PREFECT_API_URL: "http://settings.example:4200/api"}):
        app = create_app(config, token="t")
        assert app.state.service.prefect.url == "http://<redacted>@config.example:4200/api"
    with temporary_settings(updates={PREFECT_API_URL: "settings.example:4200/api?key=k3y"}):
        with pytest.raises(InvalidInput, match="PREFECT_API_URL") as info:
            create_app(ReceiverConfig(database=tmp_path / "db.sqlite3"), token="t")
    assert "k3y" not in str(info.value)
