"""The pipelines' metrics endpoint: serves, on every scrape, what the flows last published to the
metrics store, plus the RPO objectives of the replicated data sets (from the rules and plans files).

    python -m deployments.metrics_exporter --store s3://ops-metrics/ [--host 127.0.0.1] [--port 9310]
        [--rules deployments/rules/replication.yaml] [--plans deployments/failover/plans.yaml]
        [--port-file PATH]

Port 0 binds a free port; `--port-file` receives the bound port. The store's credentials come from
the profile (MULTICLOUD_PROFILE), as the flows' do.
"""

from __future__ import annotations

import argparse
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from deployments.paths import REPO_ROOT
from deployments.processes import ManagedProcess
from multicloud.clouds import open_store
from multicloud.config import load_profile, load_rules
from multicloud.config.failover import load_plans
from multicloud.core.errors import InvalidInput, StoreError
from multicloud.core.metrics import ProtectedData, Sample, rpo_objectives
from multicloud.core.redact import redact_url
from multicloud.core.objects import ObjectStore
from multicloud.engine.metrics import documents, exposition

log = logging.getLogger("multicloud.metrics_exporter")

HOST = "127.0.0.1"
DEFAULT_PORT = 9310
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def objectives(rules_file: Path | None, plans_file: Path | None) -> list[Sample]:
    """The RPO of every replicated (rule, target) that holds a failover plan's data set."""
    if rules_file is None or plans_file is None:
        return []
    rules = [(r.name, r.source, r.targets) for r in load_rules(rules_file).rules]
    protected = [ProtectedData(p.name, p.rpo_seconds, d.urls[p.primary], d.urls[p.secondary])
                 for p in load_plans(plans_file).plans for d in p.datasets]
    return rpo_objectives(rules, protected)


def serve(store: ObjectStore, fixed: list[Sample], host: str, port: int) -> ThreadingHTTPServer:
    """A threaded HTTP server answering /metrics and /healthz (not yet serving: call serve_forever)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                return self._send(200, b"ok")
            if self.path != "/metrics":
                return self._send(404, b"not found")
            try:
                samples = [s for doc in documents(store) for s in doc.samples] + fixed
            except StoreError as exc:  # Prometheus records the failed scrape (`up` 0)
                log.error("metrics store unreadable: %s", exc)
                return self._send(503, f"metrics store unreadable: {type(exc).__name__}\n".encode())
            self._send(200, exposition(samples), CONTENT_TYPE)

    return ThreadingHTTPServer((host, port), Handler)


# ---- processes and CLI ------------------------------------------------------------------------

def exporter_process(state_dir: Path, store_url: str, port: int, env: dict[str, str],
                     rules: Path | None = None, plans: Path | None = None) -> ManagedProcess:
    """The exporter as a background process on 127.0.0.1:`port` (0: a free one, `.port` after
    `ensure()`); `env` carries the profile (MULTICLOUD_PROFILE, MULTICLOUD_LOCAL_DIR)."""
    port_file = state_dir / "metrics-exporter.port"
    command = [sys.executable, "-m", "deployments.metrics_exporter", "--store", store_url, "--host", HOST,
               "--port", str(port), "--port-file", str(port_file)]
    for flag, path in (("--rules", rules), ("--plans", plans)):
        if path is not None:
            command += [flag, str(path)]
    return ManagedProcess("metrics-exporter", command, f"http://{HOST}:{{port}}/healthz", state_dir, env=env,
                          cwd=REPO_ROOT, port=port, port_file=port_file)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deployments.metrics_exporter",
                                     description="The pipelines' Prometheus metrics, from the metrics store.")
    parser.add_argument("--store", required=True, help="metrics store URL (what MULTICLOUD_METRICS_URL names)")
    parser.add_argument("--host", default=HOST, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 9310); 0 binds a free port")
    parser.add_argument("--port-file", type=Path, help="file to write the bound port to, once listening")
    parser.add_argument("--rules", type=Path, help="replication rules file (for the RPO objectives)")
    parser.add_argument("--plans", type=Path, help="failover plans file (for the RPO objectives)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        store = open_store(args.store, load_profile())
        fixed = objectives(args.rules, args.plans)
    except InvalidInput as exc:
        print(f"metrics exporter: {exc}", file=sys.stderr)
        return 2
    server = serve(store, fixed, args.host, args.port)
    port = server.server_address[1]
    if args.port_file is not None:
        partial = args.port_file.with_name(args.port_file.name + ".partial")
        partial.write_text(str(port))
        partial.replace(args.port_file)
    log.info("metrics exporter on %s:%d serving %s (%d objective(s))", args.host, port, redact_url(args.store),
             len(fixed))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
