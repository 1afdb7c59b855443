"""Health probes and an application's admin write switch over HTTP, with real timeouts. URLs may
carry credentials (`user:pass@`, a token in the query): they are sent, but every probe result and
error names the URL redacted."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from multicloud.config import HttpWriteSwitch
from multicloud.core import errors as E
from multicloud.core.redact import redact_url


@dataclass(frozen=True)
class Probe:
    url: str  # redacted
    ok: bool
    status: int | None
    seconds: float
    error: str | None = None


def _request_for(url: str, method: str = "GET", token: str | None = None) -> urllib.request.Request:
    """A request for `url` with its userinfo moved into a basic Authorization header (urllib would
    otherwise take `user:pass@host` for the host name)."""
    parts = urlsplit(url)
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    req = urllib.request.Request(urlunsplit(bare), method=method, data=b"" if method == "POST" else None)
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        req.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    return req


def _scrubbed(text: str, url: str) -> str:
    return text.replace(url, redact_url(url))


def probe(url: str, timeout: float, attempts: int = 1, pause: float = 0.5) -> Probe:
    """GET `url` until a 2xx or `attempts` tries; never raises."""
    shown = redact_url(url)
    last = None
    for i in range(attempts):
        started = time.monotonic()
        try:
            with urllib.request.urlopen(_request_for(url), timeout=timeout) as resp:
                return Probe(shown, 200 <= resp.status < 300, resp.status, time.monotonic() - started)
        except urllib.error.HTTPError as exc:
            last = Probe(shown, False, exc.code, time.monotonic() - started, f"HTTP {exc.code}")
        except (OSError, ValueError) as exc:  # ValueError: a URL urllib cannot use
            last = Probe(shown, False, None, time.monotonic() - started,
                         _scrubbed(f"{type(exc).__name__}: {exc}", url))
        if i + 1 < attempts:
            time.sleep(pause)
    return last


def _request(method: str, url: str, timeout: float, token: str | None) -> dict:
    try:
        with urllib.request.urlopen(_request_for(url, method, token), timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        cls = {401: E.PermissionDenied, 403: E.PermissionDenied, 404: E.NotFound, 429: E.Throttled}.get(
            exc.code, E.Transient if exc.code >= 500 else E.InvalidInput)
        raise cls(f"HTTP {exc.code} from admin endpoint", target=redact_url(url)) from exc
    except OSError as exc:
        raise E.Transient(f"admin endpoint unreachable: {type(exc).__name__}", target=redact_url(url)) from exc


def _leaf(url: str, leaf: str) -> str:
    """`url` with `/leaf` added to its path, its query kept."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + leaf))


class HttpSwitch:
    """The application's own read-only flag."""

    def __init__(self, cfg: HttpWriteSwitch, timeout: float = 10):
        self.cfg, self.timeout = cfg, timeout
        self._token = os.environ.get(cfg.token_env) if cfg.token_env else None

    def mode(self) -> str:
        return _request("GET", self.cfg.url, self.timeout, self._token).get("mode", "unknown")

    def set_read_only(self) -> None:
        _request("POST", _leaf(self.cfg.url, "read-only"), self.timeout, self._token)

    def set_read_write(self) -> None:
        _request("POST", _leaf(self.cfg.url, "read-write"), self.timeout, self._token)
