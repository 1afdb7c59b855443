"""Carries out the alert receiver's decisions: each incident's events reach Prefect exactly once
(claimed in the dedupe store, posted, marked), with the receiver's counters."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from multicloud.config.alerts import ReceiverConfig
from multicloud.core.alerts import CANCEL_VALUE, AlertDecision, AlertmanagerPayload, decide
from multicloud.engine.alert_store import DedupeStore
from multicloud.engine.prefect_api import PrefectApi, PrefectUnavailable

log = logging.getLogger("multicloud.alert_receiver")

REJECT_REASONS = ("unauthorized", "too_large", "malformed", "invalid")
_COUNTERS = {
    "received": "Webhook requests received on POST /alerts.",
    "duplicates": "Deliveries of an incident already posted to Prefect.",
    "triggered": "Firing events posted to Prefect (one per incident).",
    "resolved": "Resolved events posted to Prefect (one per incident).",
    "ignored": "Alert groups no route maps to a plan.",
    "post_failures": "Deliveries answered 503 because Prefect could not be reached.",
}


class Metrics:
    """Thread-safe counters of this process (they restart at zero with it, as Prometheus expects)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(_COUNTERS, 0)
        self._rejected = dict.fromkeys(REJECT_REASONS, 0)

    def inc(self, name: str) -> None:
        with self._lock:
            self._values[name] += 1

    def reject(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] += 1

    def render(self) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        with self._lock:
            values, rejected = dict(self._values), dict(self._rejected)
        lines: list[str] = []
        for name, help_text in _COUNTERS.items():
            metric = f"multicloud_alerts_{name}_total"
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter", f"{metric} {values[name]}"]
        metric = "multicloud_alerts_rejected_total"
        lines += [f"# HELP {metric} Requests refused, by reason.", f"# TYPE {metric} counter"]
        lines += [f'{metric}{{reason="{reason}"}} {count}' for reason, count in rejected.items()]
        return "\n".join(lines) + "\n"


@dataclass
class Outcome:
    """The HTTP answer to one delivery."""

    status_code: int
    body: dict[str, Any]


_POSTED_STATUS = {"trigger": "triggered", "resolve": "resolved"}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class AlertService:
    """Validated payload in, one Prefect event per incident out (synchronous; run in a thread)."""

    config: ReceiverConfig
    store: DedupeStore
    prefect: PrefectApi
    metrics: Metrics
    clock: Callable[[], datetime] = field(default=_utcnow)

    def handle(self, payload: AlertmanagerPayload) -> Outcome:
        now = self.clock()
        decision = decide(payload, self.config.routes, now, cancel_on_resolved=self.config.cancel_on_resolved)
        if decision.action == "ignore":
            self.metrics.inc("ignored")
            log.info("ignored: %s", decision.why)
            return Outcome(202, {"status": "ignored"})
        with self.store.claim(decision.claim_key, decision.plan, now) as claim:
            if claim.posted:
                return self._duplicate(decision)
            try:
                self._post(decision)
            except PrefectUnavailable as exc:
                return self._unavailable(decision, exc)
            claim.mark_posted()
        return self._posted(decision)

    def _post(self, decision: AlertDecision) -> None:
        if decision.cancel_variable:
            self.prefect.set_variable(decision.cancel_variable, CANCEL_VALUE)
        self.prefect.post_events(list(decision.events))

    def _posted(self, decision: AlertDecision) -> Outcome:
        body = {"status": _POSTED_STATUS[decision.action], "incident": decision.incident, "plan": decision.plan}
        if decision.action == "resolve":
            body["cancel_variable"] = decision.cancel_variable
        self.metrics.inc(body["status"])
        log.info("%s: %s; incident %s, event %s, cancel variable %s", body["status"], decision.why,
                 decision.incident, decision.events[0]["event"], decision.cancel_variable or "(not set)")
        return Outcome(202, body)

    def _duplicate(self, decision: AlertDecision) -> Outcome:
        self.metrics.inc("duplicates")
        log.info("duplicate delivery of incident %s (plan %s)", decision.incident, decision.plan)
        return Outcome(200, {"status": "duplicate", "incident": decision.incident, "plan": decision.plan})

    def _unavailable(self, decision: AlertDecision, exc: PrefectUnavailable) -> Outcome:
        self.metrics.inc("post_failures")
        log.warning("Prefect unavailable (%s): incident %s of plan %s stored, answering 503", exc,
                    decision.incident, decision.plan)
        return Outcome(503, {"status": "unavailable", "incident": decision.incident,
                             "detail": "the event could not be posted to Prefect; retry later"})
