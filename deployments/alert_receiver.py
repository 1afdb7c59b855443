"""Alertmanager webhook receiver: turns alert groups into Prefect events that start (firing) or
cancel (resolved) the failover flow, exactly once per incident however often Alertmanager delivers.

Dedupe is durable (SQLite) and the event id is a uuid5 of the dedupe key, so a repeat that slips
past the receiver is also dropped by Prefect. Configuration: `deployments/alerts.yaml`.

    python -m deployments.alert_receiver [--config deployments/alerts.yaml] [--host 127.0.0.1] [--port 9300]
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from deployments.processes import ManagedProcess
from deployments.paths import REPO_ROOT
from multicloud.config import load_yaml_model
from multicloud.core.errors import InvalidInput

log = logging.getLogger("multicloud.alert_receiver")

# ---- the contract with the failover flow (prefect.yaml trigger) -----------------------------

FIRING_EVENT = "multicloud.alert.firing"
RESOLVED_EVENT = "multicloud.alert.resolved"
PLAN_RESOURCE_PREFIX = "multicloud.failover.plan."
INCIDENT_NAMESPACE = "multicloud-alert:"
RESOLVED_EVENT_NAMESPACE = "multicloud-alert-resolved:"
CANCEL_VARIABLE_PREFIX = "failover-cancel-"
CANCEL_VALUE = "resolved"

HOST = "127.0.0.1"
DEFAULT_PORT = 9300
DEFAULT_CONFIG = REPO_ROOT / "deployments" / "alerts.yaml"
PLAN_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
REJECT_REASONS = ("unauthorized", "too_large", "malformed", "invalid")


# ---- configuration --------------------------------------------------------------------------

class AlertRoute(BaseModel):
    """Alerts whose labels carry every `match` label with the same value start `plan`."""

    model_config = ConfigDict(extra="forbid")

    match: dict[str, str] = Field(min_length=1, description="Labels an alert must carry, all of them, "
                                  "with these exact values (commonLabels merged with the alert's labels).")
    plan: str = Field(pattern=PLAN_PATTERN, description="Failover plan name: lowercase, digits, dashes.")


class ReceiverConfig(BaseModel):
    """Settings of the alert receiver (deployments/alerts.yaml)."""

    model_config = ConfigDict(extra="forbid")

    token_env: str = Field(default="MULTICLOUD_ALERT_TOKEN", min_length=1,
                           description="Environment variable holding the bearer token Alertmanager sends.")
    max_body_bytes: int = Field(default=1 << 20, gt=0, description="Largest request body accepted (413 above).")
    database: Path = Field(default=Path(".local/alerts/receiver.sqlite3"),
                           description="SQLite file of the durable dedupe; relative paths are under the repo root.")
    cancel_on_resolved: bool = Field(default=True, description="On a resolved alert, also set the Prefect "
                                     "variable failover-cancel-<incident> to 'resolved' so the flow stops before DNS.")
    prefect_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of each call to the Prefect API.")
    routes: list[AlertRoute] = Field(default_factory=list, description="Label matches to plans; first match wins.")

    @property
    def database_path(self) -> Path:
        return self.database if self.database.is_absolute() else REPO_ROOT / self.database


def load_config(path: Path) -> ReceiverConfig:
    """Read and validate the receiver config. Raises InvalidInput naming the file and field."""
    return load_yaml_model(path, ReceiverConfig, "alert receiver config")


def _field_errors(exc: ValidationError) -> str:
    return "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors())


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(map(str, loc)) or "body"


# ---- Alertmanager payload (webhook version 4) -----------------------------------------------

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


# ---- pure decisions -------------------------------------------------------------------------

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


def match_plan(routes: list[AlertRoute], payload: AlertmanagerPayload, alerts: list[Alert]) -> str | None:
    """The plan of the first route that every label of some alert matches, else None."""
    label_sets = [{**payload.common_labels, **a.labels} for a in alerts]
    for route in routes:
        if any(all(labels.get(k) == v for k, v in route.match.items()) for labels in label_sets):
            return route.plan
    return None


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


# ---- metrics (Prometheus text exposition, by hand) ------------------------------------------

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


# ---- durable dedupe ----------------------------------------------------------------------------

_SCHEMA = """CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('stored', 'posted')),
    first_seen TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0
)"""


@dataclass
class Claim:
    """One incident's row, held under the write lock until the `with` block ends."""

    conn: sqlite3.Connection
    key: str
    state: str

    @property
    def posted(self) -> bool:
        return self.state == "posted"

    def mark_posted(self) -> None:
        self.conn.execute("UPDATE deliveries SET state = 'posted' WHERE key = ?", (self.key,))
        self.state = "posted"


class DedupeStore:
    """SQLite rows keyed by dedupe key. `claim` holds a thread lock and a `BEGIN IMMEDIATE`
    write lock across the post to Prefect, so concurrent duplicates (threads of this process,
    other receiver processes on the same file) see 'posted' and never post twice."""

    def __init__(self, path: Path, busy_timeout: float = 60.0):
        self.path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def claim(self, key: str, plan: str, now: datetime) -> Iterator[Claim]:
        """Store the delivery (state 'stored' if new, deliveries + 1) and yield its row; commits on exit."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR IGNORE INTO deliveries (key, plan, state, first_seen, deliveries) "
                             "VALUES (?, ?, 'stored', ?, 0)", (key, plan, now.isoformat()))
                conn.execute("UPDATE deliveries SET deliveries = deliveries + 1 WHERE key = ?", (key,))
                (state,) = conn.execute("SELECT state FROM deliveries WHERE key = ?", (key,)).fetchone()
                yield Claim(conn, key, state)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()


# ---- Prefect API ------------------------------------------------------------------------------

class PrefectUnavailable(Exception):
    """The Prefect API refused or did not answer; the delivery is retried by Alertmanager."""


class PrefectApi:
    """The two calls the receiver makes: post events, set a variable (REST, synchronous)."""

    def __init__(self, api_url: str, headers: dict[str, str] | None = None, timeout: float = 10.0):
        self.api_url = api_url.rstrip("/")
        self._client = httpx.Client(base_url=self.api_url + "/", headers=headers or {}, timeout=timeout)

    @classmethod
    def from_settings(cls, timeout: float) -> PrefectApi:
        """PREFECT_API_URL (env or profile), with PREFECT_API_AUTH_STRING or PREFECT_API_KEY if set."""
        from prefect.settings import get_current_settings

        api = get_current_settings().api
        if not api.url:
            raise InvalidInput("PREFECT_API_URL is not set: the receiver posts events to a Prefect server",
                               target="PREFECT_API_URL")
        return cls(api.url, _auth_headers(api.auth_string, api.key), timeout)

    def post_events(self, events: list[dict[str, Any]]) -> None:
        self._call("POST", "events", events)

    def set_variable(self, name: str, value: str) -> None:
        """Create the variable, or overwrite its value if it exists."""
        try:
            response = self._client.post("variables/", json={"name": name, "value": value})
            if response.status_code == 409:
                response = self._client.patch(f"variables/name/{name}", json={"value": value})
        except httpx.HTTPError as exc:
            raise PrefectUnavailable(f"variables: {type(exc).__name__}") from None
        _check(response, "variables")

    def _call(self, method: str, path: str, body: Any) -> None:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise PrefectUnavailable(f"{path}: {type(exc).__name__}") from None
        _check(response, path)

    def close(self) -> None:
        self._client.close()


def _auth_headers(auth_string: Any, api_key: Any) -> dict[str, str]:
    if auth_string:
        encoded = base64.b64encode(auth_string.get_secret_value().encode()).decode()
        return {"Authorization": f"Basic {encoded}"}
    if api_key:
        return {"Authorization": f"Bearer {api_key.get_secret_value()}"}
    return {}


def _check(response: httpx.Response, path: str) -> None:
    if not response.is_success:
        raise PrefectUnavailable(f"{path}: HTTP {response.status_code}")


# ---- the receiver's decisions -----------------------------------------------------------------

@dataclass
class Outcome:
    status_code: int
    body: dict[str, Any]


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
        alerts = payload.alerts_with(payload.status)
        plan = match_plan(self.config.routes, payload, alerts)
        if plan is None:
            self.metrics.inc("ignored")
            log.info("ignored: no route maps group %s (status %s) to a plan", payload.group_key, payload.status)
            return Outcome(202, {"status": "ignored"})
        key = dedupe_key(payload.group_key, alerts)
        if payload.status == "firing":
            return self._fire(payload, alerts, plan, key)
        return self._resolve(payload, plan, key)

    def _fire(self, payload: AlertmanagerPayload, alerts: list[Alert], plan: str, key: str) -> Outcome:
        incident = str(incident_id(key))
        with self.store.claim(key, plan, self.clock()) as claim:
            if claim.posted:
                return self._duplicate(plan, incident)
            try:
                self.prefect.post_events([firing_event(payload, alerts, plan, key, self.clock())])
            except PrefectUnavailable as exc:
                return self._unavailable(plan, incident, exc)
            claim.mark_posted()
        self.metrics.inc("triggered")
        log.info("triggered: %s for plan %s, incident %s", FIRING_EVENT, plan, incident)
        return Outcome(202, {"status": "triggered", "incident": incident, "plan": plan})

    def _resolve(self, payload: AlertmanagerPayload, plan: str, key: str) -> Outcome:
        incident_uuid = incident_id(key)
        incident = str(incident_uuid)
        variable = cancel_variable_name(incident_uuid) if self.config.cancel_on_resolved else None
        with self.store.claim(f"resolved|{key}", plan, self.clock()) as claim:
            if claim.posted:
                return self._duplicate(plan, incident)
            try:
                if variable:
                    self.prefect.set_variable(variable, CANCEL_VALUE)
                self.prefect.post_events([resolved_event(payload, plan, key, self.clock())])
            except PrefectUnavailable as exc:
                return self._unavailable(plan, incident, exc)
            claim.mark_posted()
        self.metrics.inc("resolved")
        log.info("resolved: %s for plan %s, incident %s, cancel variable %s", RESOLVED_EVENT, plan, incident,
                 variable or "(not set)")
        return Outcome(202, {"status": "resolved", "incident": incident, "plan": plan, "cancel_variable": variable})

    def _duplicate(self, plan: str, incident: str) -> Outcome:
        self.metrics.inc("duplicates")
        log.info("duplicate delivery of incident %s (plan %s)", incident, plan)
        return Outcome(200, {"status": "duplicate", "incident": incident, "plan": plan})

    def _unavailable(self, plan: str, incident: str, exc: PrefectUnavailable) -> Outcome:
        self.metrics.inc("post_failures")
        log.warning("Prefect unavailable (%s): incident %s of plan %s stored, answering 503", exc, incident, plan)
        return Outcome(503, {"status": "unavailable", "incident": incident,
                             "detail": "the event could not be posted to Prefect; retry later"})


# ---- HTTP -------------------------------------------------------------------------------------

class _Rejected(Exception):
    def __init__(self, status_code: int, reason: str, body: dict[str, Any]):
        super().__init__(reason)
        self.status_code, self.reason, self.body = status_code, reason, body


def _authorize(header: str | None, token: str) -> None:
    scheme, _, presented = (header or "").partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
    if not ok:
        raise _Rejected(401, "unauthorized", {"status": "unauthorized"})


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _Rejected(400, "malformed", {"status": "malformed", "detail": "bad Content-Length"})
        if int(declared) > limit:
            raise _Rejected(413, "too_large", {"status": "too_large", "max_body_bytes": limit})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Rejected(413, "too_large", {"status": "too_large", "max_body_bytes": limit})
    return bytes(body)


def _parse(body: bytes) -> AlertmanagerPayload:
    try:
        data = json.loads(body)
    except ValueError as exc:  # includes UnicodeDecodeError
        raise _Rejected(400, "malformed", {"status": "malformed", "detail": f"body is not JSON: {exc}"}) from None
    try:
        return AlertmanagerPayload.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": _loc(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise _Rejected(422, "invalid", {"status": "invalid", "errors": errors}) from None


def _routes(service: AlertService, token: str) -> list[Route]:
    metrics, limit = service.metrics, service.config.max_body_bytes

    async def receive_alerts(request: Request) -> Response:
        metrics.inc("received")
        try:
            _authorize(request.headers.get("authorization"), token)
            payload = _parse(await _read_body(request, limit))
        except _Rejected as rejected:
            metrics.reject(rejected.reason)
            log.info("rejected (%s) from %s", rejected.reason, request.client.host if request.client else "?")
            headers = {"WWW-Authenticate": "Bearer"} if rejected.status_code == 401 else None
            return JSONResponse(rejected.body, rejected.status_code, headers=headers)
        outcome = await run_in_threadpool(service.handle, payload)
        return JSONResponse(outcome.body, outcome.status_code)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return [Route("/alerts", receive_alerts, methods=["POST"]), Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"])]


def _without_userinfo(url: str) -> str:
    return str(httpx.URL(url).copy_with(username=None, password=None))


def _token(config: ReceiverConfig) -> str:
    token = os.environ.get(config.token_env, "")
    if not token:
        raise InvalidInput("the bearer token is not set: the receiver refuses to run without one",
                           target=config.token_env)
    return token


def create_app(config: ReceiverConfig, *, token: str | None = None, prefect: PrefectApi | None = None) -> Starlette:
    """The receiver app. The token defaults to the env var `config.token_env`, Prefect to PREFECT_API_URL."""
    token = token or _token(config)
    prefect = prefect or PrefectApi.from_settings(config.prefect_timeout_seconds)
    service = AlertService(config, DedupeStore(config.database_path), prefect, Metrics())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("alert receiver: %d route(s), dedupe in %s, events to %s", len(config.routes),
                 config.database_path, _without_userinfo(prefect.api_url))
        yield
        prefect.close()

    app = Starlette(routes=_routes(service, token), lifespan=lifespan)
    app.state.service = service
    return app


# ---- processes and CLI ------------------------------------------------------------------------

def receiver_process(state_dir: Path, port: int, env: dict[str, str], config: Path | None = None) -> ManagedProcess:
    """The receiver as a background process on 127.0.0.1:`port`, started and stopped by PID.
    `env` must carry PREFECT_API_URL and the token variable."""
    command = [sys.executable, "-m", "deployments.alert_receiver", "--host", HOST, "--port", str(port)]
    if config is not None:
        command += ["--config", str(config)]
    return ManagedProcess("alert-receiver", command, f"http://{HOST}:{port}/healthz", state_dir,
                          env=env, cwd=REPO_ROOT, port=port)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deployments.alert_receiver",
                                     description="Alertmanager webhook → Prefect events for the failover flow.")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="receiver config (YAML)")
    parser.add_argument("--host", default=HOST, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MULTICLOUD_ALERT_PORT", DEFAULT_PORT)),
                        help="port (default $MULTICLOUD_ALERT_PORT or 9300)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(load_config(args.config))
    except InvalidInput as exc:
        print(f"alert receiver: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
