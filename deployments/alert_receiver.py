"""Alertmanager webhook receiver: an ASGI service (Starlette under uvicorn) that checks the bearer
token and the body size and hands each alert group to the alert service, which starts (firing) or
cancels (resolved) the failover flow exactly once per incident. Configuration: `deployments/alerts.yaml`.

    python -m deployments.alert_receiver [--config deployments/alerts.yaml] [--host 127.0.0.1]
                                         [--port 9300] [--port-file PATH]

Port 0 binds a free port; `--port-file` receives the bound port.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from deployments.paths import REPO_ROOT
from deployments.processes import ManagedProcess
from multicloud.config import ReceiverConfig, load_receiver_config
from multicloud.core.alerts import AlertmanagerPayload, PayloadRejected, parse_payload
from multicloud.core.errors import InvalidInput
from multicloud.engine.alert_delivery import AlertService, Metrics
from multicloud.engine.alert_store import DedupeStore
from multicloud.engine.prefect_api import PrefectApi

log = logging.getLogger("multicloud.alert_receiver")

HOST = "127.0.0.1"
DEFAULT_PORT = 9300
DEFAULT_CONFIG = REPO_ROOT / "deployments" / "alerts.yaml"
_PAYLOAD_STATUS = {"malformed": 400, "invalid": 422}


class _Rejected(Exception):
    def __init__(self, status_code: int, reason: str, body: dict[str, Any]):
        super().__init__(reason)
        self.status_code, self.reason, self.body = status_code, reason, body


def _authorize(header: str | None, token: str) -> None:
    scheme, _, presented = (header or "").partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
    if not ok:
        raise _Rejected(401, "unauthorized", {"status": "unauthorized"})


def _check_declared_length(declared: str | None, limit: int) -> None:
    if declared is not None and not declared.isdigit():
        raise _Rejected(400, "malformed", {"status": "malformed", "detail": "bad Content-Length"})
    if declared is not None and int(declared) > limit:
        raise _Rejected(413, "too_large", {"status": "too_large", "max_body_bytes": limit})


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed `limit`, declared or streamed."""
    _check_declared_length(request.headers.get("content-length"), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Rejected(413, "too_large", {"status": "too_large", "max_body_bytes": limit})
    return bytes(body)


def _parse(body: bytes) -> AlertmanagerPayload:
    try:
        return parse_payload(body)
    except PayloadRejected as exc:
        details = {"errors": exc.errors} if exc.reason == "invalid" else {"detail": exc.detail}
        raise _Rejected(_PAYLOAD_STATUS[exc.reason], exc.reason, {"status": exc.reason, **details}) from None


def _refusal(rejected: _Rejected, request: Request, metrics: Metrics) -> Response:
    metrics.reject(rejected.reason)
    log.info("rejected (%s) from %s", rejected.reason, request.client.host if request.client else "?")
    headers = {"WWW-Authenticate": "Bearer"} if rejected.status_code == 401 else None
    return JSONResponse(rejected.body, rejected.status_code, headers=headers)


def _routes(service: AlertService, token: str) -> list[Route]:
    metrics, limit = service.metrics, service.config.max_body_bytes

    async def receive_alerts(request: Request) -> Response:
        metrics.inc("received")
        try:
            _authorize(request.headers.get("authorization"), token)
            payload = _parse(await _read_body(request, limit))
        except _Rejected as rejected:
            return _refusal(rejected, request, metrics)
        outcome = await run_in_threadpool(service.handle, payload)
        return JSONResponse(outcome.body, outcome.status_code)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return [Route("/alerts", receive_alerts, methods=["POST"]), Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"])]


def _token(config: ReceiverConfig) -> str:
    token = os.environ.get(config.token_env, "")
    if not token:
        raise InvalidInput("the bearer token is not set: the receiver refuses to run without one",
                           target=config.token_env)
    return token


def create_app(config: ReceiverConfig, *, token: str | None = None, prefect: PrefectApi | None = None) -> Starlette:
    """The receiver app. The token defaults to the env var `config.token_env`; Prefect to
    `config.prefect_api_url`, else PREFECT_API_URL."""
    token = token or _token(config)
    prefect = prefect or PrefectApi.from_settings(config.prefect_timeout_seconds, config.prefect_api_url)
    database = config.database_path(REPO_ROOT)
    service = AlertService(config, DedupeStore(database), prefect, Metrics())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("alert receiver: %d route(s), dedupe in %s, events to %s", len(config.routes), database, prefect.url)
        yield
        prefect.close()

    app = Starlette(routes=_routes(service, token), lifespan=lifespan)
    app.state.service = service
    return app


# ---- processes and CLI ------------------------------------------------------------------------

def receiver_process(state_dir: Path, port: int, env: dict[str, str], config: Path | None = None) -> ManagedProcess:
    """The receiver as a background process on 127.0.0.1:`port`, started and stopped by PID; port 0
    binds a free one, which is `.port` once `ensure()` returns. `env` must carry PREFECT_API_URL (or
    the config its prefect_api_url) and the token variable."""
    port_file = state_dir / "alert-receiver.port"
    command = [sys.executable, "-m", "deployments.alert_receiver", "--host", HOST, "--port", str(port),
               "--port-file", str(port_file)]
    if config is not None:
        command += ["--config", str(config)]
    return ManagedProcess("alert-receiver", command, f"http://{HOST}:{{port}}/healthz", state_dir,
                          env=env, cwd=REPO_ROOT, port=port, port_file=port_file)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deployments.alert_receiver",
                                     description="Alertmanager webhook → Prefect events for the failover flow.")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="receiver config (YAML)")
    parser.add_argument("--host", default=HOST, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MULTICLOUD_ALERT_PORT", DEFAULT_PORT)),
                        help="port (default $MULTICLOUD_ALERT_PORT or 9300); 0 binds a free port")
    parser.add_argument("--port-file", type=Path, help="file to write the bound port to, once listening")
    return parser.parse_args(argv)


def _listen(host: str, port: int, port_file: Path | None) -> socket.socket:
    """A listening socket on host:port; its bound port written to `port_file` (atomically)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    if port_file is not None:
        partial = port_file.with_name(port_file.name + ".partial")
        partial.write_text(str(sock.getsockname()[1]))
        partial.replace(port_file)
    return sock


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(load_receiver_config(args.config))
    except InvalidInput as exc:
        print(f"alert receiver: {exc}", file=sys.stderr)
        return 2
    sock = _listen(args.host, args.port, args.port_file)
    log.info("alert receiver listening on %s:%d", args.host, sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
