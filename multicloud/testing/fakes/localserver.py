"""What the local API servers of the tests share: serving on 127.0.0.1 from a thread, started
and stopped by the code (fixture) that uses them."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Recorded:
    """One request as a local server received it, for tests to assert what the SDK sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: dict | None
    authorization: str | None


class _Server(ThreadingHTTPServer):
    """Keeps the open connections, so stopping drops the kept-alive ones too: a client's pooled
    connection must never reach a stopped server's handler."""

    daemon_threads = True

    def __init__(self, *args, **kwargs):
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class LocalServer:
    """Serve `self._handler()` on (self.host, self.port) in a thread; `with` starts and stops it.
    Port 0 (the default) binds a free port; `self.port` is the bound one after `bind` (which
    `start` calls when needed)."""

    name = "local-server"
    host = "127.0.0.1"
    port = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _handler(self):
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self):
        """Bind the port (not serving yet), so `self.port` is known before `start`."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self._handler())
            self.port = self._server.server_address[1]
        return self

    def start(self):
        self.bind()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=10)
            self._server.drop_connections()
            self._server.server_close()
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no request log on stderr."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


def read_request(handler: BaseHTTPRequestHandler) -> tuple[str, dict[str, list[str]], bytes, object]:
    """(decoded path, query, raw body, JSON body or None when absent or not JSON)."""
    parts = urlsplit(handler.path)
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return unquote(parts.path), parse_qs(parts.query), raw, body


def send_json(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
    """Answer with `data`; a client that already gave up (its read timeout) is not an error."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    try:
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


class InjectedFailures:
    """Failure injection for a fake: `fail_next(n, status, retry_after)` makes the next n requests fail
    with that status and Retry-After header; the fake's answer asks `next_failure()` first. The fake
    sets `self._lock` and `self._failures = []`."""

    _lock: threading.Lock
    _failures: list[tuple[int, str | None]]

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "1") -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def next_failure(self) -> tuple[int, dict[str, str]] | None:
        """(status, headers) of the next injected failure, or None."""
        with self._lock:
            if not self._failures:
                return None
            status, retry_after = self._failures.pop(0)
        return status, ({"Retry-After": retry_after} if retry_after else {})
