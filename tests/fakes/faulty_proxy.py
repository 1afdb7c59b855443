"""A local HTTP proxy in front of an emulator that refuses writes of chosen keys, so a test
can make a real target fail for some objects while the SDK talks to it as usual."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit, urlunsplit

_DROP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "expect"}


class FaultyProxy:
    """Forwards every request to `upstream_port` except writes whose path contains `refuse`,
    which get 403 AccessDenied (S3's error body); writes wait `delay` seconds first. Binds
    127.0.0.1 at `port`. `requests` records (method, path with query) of every request received."""

    def __init__(self, upstream_port: int, port: int = 0, refuse: str | None = None, delay: float = 0.0,
                 answer=None):
        """`answer(method, path)` may return (status, headers, body) to send instead of forwarding."""
        proxy = self
        self.refused: list[str] = []
        self.requests: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, headers: dict, data: bytes):
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(data)), "Connection": "close"}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _forward(self):
                # One request per connection: a pooled connection must never outlive this proxy
                # and reach a stale handler of an earlier one on the same port.
                self.close_connection = True
                proxy.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                path = unquote(urlsplit(self.path).path)
                reply = answer(self.command, self.path) if answer else None
                if reply is not None:
                    self._send(*reply)
                    return
                if self.command == "PUT" and delay:
                    time.sleep(delay)
                if self.command == "PUT" and refuse and refuse in path:
                    proxy.refused.append(path)
                    msg = b"<Error><Code>AccessDenied</Code><Message>refused by test proxy</Message></Error>"
                    self._send(403, {"Content-Type": "application/xml"}, msg)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _DROP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def endpoint(self, upstream_url: str) -> str:
        """`upstream_url` (the emulator's endpoint) with this proxy's address in its place."""
        return urlunsplit(urlsplit(upstream_url)._replace(netloc=f"127.0.0.1:{self.port}"))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
