"""Health probes and an application's admin write switch over HTTP, with real timeouts."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from multicloud.config import HttpWriteSwitch
from multicloud.core import errors as E


@dataclass(frozen=True)
class Probe:
    url: str
    ok: bool
    status: int | None
    seconds: float
    error: str | None = None


def probe(url: str, timeout: float, attempts: int = 1, pause: float = 0.5) -> Probe:
    """GET `url` until a 2xx or `attempts` tries; never raises."""
    last = None
    for i in range(attempts):
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return Probe(url, 200 <= resp.status < 300, resp.status, time.monotonic() - started)
        except urllib.error.HTTPError as exc:
            last = Probe(url, False, exc.code, time.monotonic() - started, f"HTTP {exc.code}")
        except OSError as exc:
            last = Probe(url, False, None, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
        if i + 1 < attempts:
            time.sleep(pause)
    return last


def _request(method: str, url: str, timeout: float, token: str | None) -> dict:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        cls = {401: E.PermissionDenied, 403: E.PermissionDenied, 404: E.NotFound, 429: E.Throttled}.get(
            exc.code, E.Transient if exc.code >= 500 else E.InvalidInput)
        raise cls(f"HTTP {exc.code} from admin endpoint", target=url) from exc
    except OSError as exc:
        raise E.Transient(f"admin endpoint unreachable: {type(exc).__name__}", target=url) from exc


class HttpSwitch:
    """The application's own read-only flag."""

    def __init__(self, cfg: HttpWriteSwitch, timeout: float = 10):
        self.cfg, self.timeout = cfg, timeout
        self._token = os.environ.get(cfg.token_env) if cfg.token_env else None

    def mode(self) -> str:
        return _request("GET", self.cfg.url, self.timeout, self._token).get("mode", "unknown")

    def set_read_only(self) -> None:
        _request("POST", self.cfg.url.rstrip("/") + "/read-only", self.timeout, self._token)

    def set_read_write(self) -> None:
        _request("POST", self.cfg.url.rstrip("/") + "/read-write", self.timeout, self._token)
