"""A stand-in for the application at one site, on loopback: `/health` (200 or 503), `/metrics` for
Prometheus (503 while unhealthy), and an admin endpoint `/admin` (GET mode; POST /admin/read-only,
/admin/read-write) that counts calls.
Tests and the demo flip its health and make its admin endpoint fail through `/control`.

    python -m multicloud.testing.sites --name primary --port 9401
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class SiteService:
    def __init__(self, name: str, port: int = 0, host: str = "127.0.0.1"):
        self.name = name
        # unhealthy_after: answer /health well this many more times, then 503 (-1: no limit).
        self.state = {"mode": "read-write", "healthy": True, "admin_fails": False, "unhealthy_after": -1,
                      "calls": {"read-only": 0, "read-write": 0}}
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _metrics(self, healthy: bool) -> None:
                data = f'multicloud_site_healthy{{site="{service.name}"}} {int(healthy)}\n'.encode()
                self.send_response(200 if healthy else 503)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = urlsplit(self.path).path
                with service._lock:
                    if path == "/health" and service.state["unhealthy_after"] >= 0:
                        if service.state["unhealthy_after"] == 0:
                            service.state["healthy"] = False
                        service.state["unhealthy_after"] -= 1
                    st = json.loads(json.dumps(service.state))
                if path == "/health":
                    self._send(200 if st["healthy"] else 503, {"site": service.name, "mode": st["mode"]})
                elif path == "/metrics":  # Prometheus scrapes the site's health: a failed scrape is `up` 0
                    self._metrics(st["healthy"])
                elif path == "/admin":
                    self._send(200, {"site": service.name, "mode": st["mode"]})
                elif path == "/control":
                    self._send(200, st)
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self):
                parts = urlsplit(self.path)
                with service._lock:
                    if parts.path in ("/admin/read-only", "/admin/read-write"):
                        if service.state["admin_fails"]:
                            self._send(500, {"error": "admin endpoint failing (test control)"})
                            return
                        mode = parts.path.rsplit("/", 1)[1]
                        service.state["mode"] = mode
                        service.state["calls"][mode] += 1
                        self._send(200, {"site": service.name, "mode": mode})
                    elif parts.path == "/control":
                        for k, v in parse_qs(parts.query).items():
                            if k in ("healthy", "admin_fails"):
                                service.state[k] = v[0] in ("1", "true")
                            elif k == "mode":
                                service.state["mode"] = v[0]
                            elif k == "unhealthy_after":
                                service.state["unhealthy_after"] = int(v[0])
                        self._send(200, service.state)
                    else:
                        self._send(404, {"error": "not found"})

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]  # the bound port (a free one for port 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "SiteService":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    SiteService(args.name, args.port)._server.serve_forever()


if __name__ == "__main__":
    main()
