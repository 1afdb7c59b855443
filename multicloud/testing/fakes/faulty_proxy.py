"""A local HTTP proxy in front of an emulator that refuses writes of chosen keys, so a test
can make a real target fail for some objects while the SDK talks to it as usual."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit, urlunsplit

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json

_DROP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "expect"}
_ACCESS_DENIED = b"<Error><Code>AccessDenied</Code><Message>refused by test proxy</Message></Error>"


class FaultyProxy(LocalServer):
    """Forwards every request to `upstream_port` except writes (`refuse_methods`, PUT by default)
    whose path contains `refuse`, which get 403 AccessDenied (S3's error body); PUTs wait `delay`
    seconds first. Binds 127.0.0.1 at `port` (0: a free one) when constructed, so `.port` is known
    before `with`. `requests` records (method, path with query) of every request received, and
    `operations` counts them by AWS operation name (see `operation`);
    `answer(method, path)` may return (status, headers, body) to send instead of forwarding."""

    name = "faulty-proxy"

    def __init__(self, upstream_port: int, port: int = 0, refuse: str | None = None, delay: float = 0.0,
                 refuse_methods: tuple[str, ...] = ("PUT",), answer=None):
        self.upstream_port, self.port, self.refuse, self.delay = upstream_port, port, refuse, delay
        self.refuse_methods, self.answer = tuple(refuse_methods), answer
        self.requests: list[tuple[str, str]] = []
        self.refused: list[str] = []
        self.operations: Counter = Counter()
        self._lock = threading.Lock()
        self.bind()

    def _refuses(self, method: str, path: str) -> bool:
        return method in self.refuse_methods and bool(self.refuse) and self.refuse in path

    def _handler(self):
        proxy = self

        class Handler(QuietHandler):
            def _forward(self):
                # One request per connection: a pooled connection must never outlive this proxy
                # and reach a stale handler of an earlier one on the same port.
                self.close_connection = True
                proxy.requests.append((self.command, self.path))
                path, _, raw, _ = read_request(self)
                with proxy._lock:
                    proxy.operations[operation(self.command, self.path, self.headers.get("X-Amz-Target"), raw)] += 1
                reply = proxy.answer(self.command, self.path) if proxy.answer else None
                if reply is not None:
                    status, headers, data = reply
                    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                    send_json(self, status, data, {**extra, "Connection": "close"},
                              content_type=headers.get("Content-Type", "application/xml"))
                    return
                if self.command == "PUT" and proxy.delay:
                    time.sleep(proxy.delay)
                if proxy._refuses(self.command, path):
                    proxy.refused.append(path)
                    send_json(self, 403, _ACCESS_DENIED, {"Connection": "close"}, content_type="application/xml")
                    return
                self._relay(raw or None)

            def _relay(self, body: bytes | None) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _DROP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                try:
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, or the proxy was stopped while this write was held

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler

    @property
    def total(self) -> int:
        """Requests received so far."""
        with self._lock:
            return sum(self.operations.values())

    def endpoint(self, upstream_url: str) -> str:
        """`upstream_url` (the emulator's endpoint) with this proxy's address in its place."""
        return urlunsplit(urlsplit(upstream_url)._replace(netloc=f"127.0.0.1:{self.port}"))


def operation(method: str, path: str, target: str | None, body: bytes) -> str:
    """The AWS operation a request calls: from X-Amz-Target (JSON protocols), the path of the
    RPC v2 CBOR protocol (/service/S/operation/Op), the query protocol's Action, else method and path."""
    if target:
        return target.rsplit(".", 1)[-1]
    if "/operation/" in path:
        return path.rsplit("/operation/", 1)[-1].split("?")[0]
    query = urlsplit(path).query
    for form in (query, body.decode("utf-8", "replace") if body and len(body) < 1_000_000 else ""):
        action = parse_qs(form).get("Action")
        if action:
            return action[0]
    return f"{method} {urlsplit(path).path}"
