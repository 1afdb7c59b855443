"""Alertmanager webhook payloads (version 4) and what the alert receiver does with them: the dedupe
key and incident id of an alert group, the plan its labels route to, and the Prefect events to post."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from multicloud.core.errors import InvalidInput

# The contract with the failover flow: its deployment trigger in prefect.yaml matches these names,
# and flows/failover.py reads the cancel variable.
FIRING_EVENT = "multicloud.alert.firing"
RESOLVED_EVENT = "multicloud.alert.resolved"
PLAN_RESOURCE_PREFIX = "multicloud.failover.plan."
INCIDENT_NAMESPACE = "multicloud-alert:"
RESOLVED_EVENT_NAMESPACE = "multicloud-alert-resolved:"
CANCEL_VARIABLE_PREFIX = "failover-cancel-"
CANCEL_VALUE = "resolved"
PLAN_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


# ---- the payload ------------------------------------------------------------------------------

def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 time with its zone (Go's nanoseconds are truncated to microseconds)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("time must carry a zone (RFC 3339)")
    return parsed


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: str = Field(alias="startsAt")
    ends_at: str | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(min_length=1)

    @field_validator("starts_at")
    @classmethod
    def _starts_at_is_a_time(cls, value: str) -> str:
        parse_rfc3339(value)
        return value


class AlertmanagerPayload(BaseModel):
    """The webhook body; unknown fields (truncatedAlerts, routeLabels, ...) are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1)
    status: Literal["firing", "resolved"]
    receiver: str
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Alert] = Field(min_length=1)

    @model_validator(mode="after")
    def _an_alert_has_the_group_status(self) -> AlertmanagerPayload:
        if not self.alerts_with(self.status):
            raise ValueError(f"status is {self.status!r} but no alert has that status")
        return self

    def alerts_with(self, status: str) -> list[Alert]:
        return [a for a in self.alerts if a.status == status]


class PayloadRejected(InvalidInput):
    """A webhook body that is not JSON (`reason` 'malformed') or not a valid payload ('invalid',
    with one {"field", "message"} per problem in `errors`)."""

    def __init__(self, reason: Literal["malformed", "invalid"], detail: str,
                 errors: list[dict[str, str]] | None = None):
        super().__init__(detail, target="request body")
        self.reason, self.detail, self.errors = reason, detail, errors or []


def parse_payload(body: bytes) -> AlertmanagerPayload:
    """The validated payload of a webhook body; PayloadRejected naming each bad field otherwise."""
    try:
        data = json.loads(body)
    except ValueError as exc:  # includes UnicodeDecodeError
        raise PayloadRejected("malformed", f"body is not JSON: {exc}") from None
    try:
        return AlertmanagerPayload.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])) or "body", "message": e["msg"]} for e in exc.errors()]
        raise PayloadRejected("invalid", "the body is not an Alertmanager v4 payload", errors) from None


# ---- identities ----------------------------------------------------------------------------------

def earliest_start(alerts: list[Alert]) -> str:
    """The startsAt string of the alert that started first."""
    return min(alerts, key=lambda a: parse_rfc3339(a.starts_at)).starts_at


def dedupe_key(group_key: str, alerts: list[Alert]) -> str:
    """groupKey | sorted fingerprints | earliest startsAt: one value per incident."""
    fingerprints = ",".join(sorted(a.fingerprint for a in alerts))
    return f"{group_key}|{fingerprints}|{earliest_start(alerts)}"


def incident_id(key: str) -> uuid.UUID:
    """The incident id, which is also the firing event's id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, INCIDENT_NAMESPACE + key)


def resolved_event_id(key: str) -> uuid.UUID:
    """Differs from the firing event id so Prefect does not drop the resolved event as a repeat."""
    return uuid.uuid5(uuid.NAMESPACE_URL, RESOLVED_EVENT_NAMESPACE + key)


def cancel_variable_name(incident: uuid.UUID) -> str:
    return f"{CANCEL_VARIABLE_PREFIX}{incident}"


# ---- routing ---------------------------------------------------------------------------------------

class Route(Protocol):
    """A label match and the plan it starts (multicloud.config.AlertRoute)."""

    match: Mapping[str, str]
    plan: str


def match_plan(routes: Sequence[Route], payload: AlertmanagerPayload, alerts: list[Alert]) -> str | None:
    """The plan of the first route that every label of some alert matches, else None."""
    label_sets = [{**payload.common_labels, **a.labels} for a in alerts]
    for route in routes:
        if any(all(labels.get(k) == v for k, v in route.match.items()) for labels in label_sets):
            return route.plan
    return None


# ---- events ----------------------------------------------------------------------------------------

def plan_resource(plan: str) -> dict[str, str]:
    return {"prefect.resource.id": f"{PLAN_RESOURCE_PREFIX}{plan}", "prefect.resource.name": plan}


def firing_event(payload: AlertmanagerPayload, alerts: list[Alert], plan: str, key: str,
                 now: datetime) -> dict[str, Any]:
    incident = str(incident_id(key))
    return {
        "id": incident,
        "occurred": now.isoformat(),
        "event": FIRING_EVENT,
        "resource": plan_resource(plan),
        "payload": {
            "plan": plan,
            "incident": incident,
            "group_key": payload.group_key,
            "alertnames": sorted({a.labels["alertname"] for a in alerts if "alertname" in a.labels}),
            "starts_at": earliest_start(alerts),
            "received_at": now.isoformat(),  # the failover's RTO clock starts here
            "labels": payload.common_labels,
            "receiver": payload.receiver,
        },
    }


def resolved_event(payload: AlertmanagerPayload, plan: str, key: str, now: datetime) -> dict[str, Any]:
    return {
        "id": str(resolved_event_id(key)),
        "occurred": now.isoformat(),
        "event": RESOLVED_EVENT,
        "resource": plan_resource(plan),
        "payload": {"plan": plan, "group_key": payload.group_key, "incident": str(incident_id(key))},
    }


# ---- the decision ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertDecision:
    """What to do with one delivery, and why. `action` 'ignore' posts nothing; 'trigger' and
    'resolve' post `events` (after setting `cancel_variable`, if any) once per `claim_key`."""

    action: Literal["ignore", "trigger", "resolve"]
    why: str
    plan: str | None = None
    claim_key: str | None = None
    incident: str | None = None
    events: tuple[dict[str, Any], ...] = ()
    cancel_variable: str | None = None


def decide(payload: AlertmanagerPayload, routes: Sequence[Route], now: datetime, *,
           cancel_on_resolved: bool) -> AlertDecision:
    """The decision for a validated payload received at `now`."""
    alerts = payload.alerts_with(payload.status)
    plan = match_plan(routes, payload, alerts)
    if plan is None:
        return AlertDecision("ignore", f"no route maps group {payload.group_key} (status {payload.status}) to a plan")
    key = dedupe_key(payload.group_key, alerts)
    incident = incident_id(key)
    if payload.status == "firing":
        return AlertDecision("trigger", f"firing alerts of group {payload.group_key} match plan {plan}",
                             plan, key, str(incident), (firing_event(payload, alerts, plan, key, now),))
    variable = cancel_variable_name(incident) if cancel_on_resolved else None
    why = f"resolved alerts of group {payload.group_key} end incident {incident} of plan {plan}"
    return AlertDecision("resolve", why, plan, f"resolved|{key}", str(incident),
                         (resolved_event(payload, plan, key, now),), variable)
