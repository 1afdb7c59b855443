"""A `moto_server` of its own for tests and benchmarks that need an AWS account nobody else writes to:
served on a free 127.0.0.1 port without moto's default AMIs, stopped by the code that started it.

`--bulk-put` adds one request of the tool's own, for benchmarks that need a source of a million
objects: `POST /_multicloud/bulk-put?bucket=B&prefix=P&start=S&count=N&size=Z` stores N objects of Z
random bytes (one body for all) under `P{i // 1000:04d}/{i:07d}.bin` for i in [S, S+N), through moto's
own `put_object`, without a request each (over HTTP moto stores 180-260 objects a second here).

`cloudwatch_index=True` starts it with an index in front of moto's CloudWatch reads. Stock moto scans
every stored datum for every query (GetMetricData once per query *and period*), so with a million
datums its cost, not the client's, decides any timing; the index hands moto's own code, unchanged,
only the datums that can match the query (same metric name and first dimension), so the answers are
the same and only the scan is shorter.

`--listing-index` (`listing_index=True`) keeps each bucket's key names sorted between changes. Stock
moto copies and sorts the whole bucket for every ListObjectsV2 page, so listing a million objects
costs a thousand sorts of a million; with the index a page is a bisect and up to max-keys lookups
of the same stored keys, answered exactly as moto's code would (a delimiter, an unknown token or
max-keys 0 still go to moto's code).

    python -m multicloud.testing.moto_server [--cloudwatch-index] [--bulk-put] [--listing-index] -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

from multicloud.config import Connection

ACCOUNT = "123456789012"
START_TIMEOUT_SECONDS = 60.0
_ENV = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false", "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true"}
# The machine's CA variables break clients talking plain HTTP to loopback.
_CA_VARS = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """`with MotoServer() as moto:` starts moto in its own process group on a free port and stops it
    on exit; `moto.url` is its endpoint, `moto.connection(region)` a project connection to it."""

    def __init__(self, *, cloudwatch_index: bool = False, bulk_put: bool = False, listing_index: bool = False):
        self.flags = [flag for flag, on in (("--cloudwatch-index", cloudwatch_index), ("--bulk-put", bulk_put),
                                            ("--listing-index", listing_index)) if on]
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection(self, region: str = "us-east-1", endpoint: str | None = None) -> Connection:
        return Connection(name="aws-moto-own", cloud="aws", endpoint=endpoint or self.url, region=region,
                          account=ACCOUNT, credentials="emulator")

    def start(self) -> "MotoServer":
        env = {k: v for k, v in os.environ.items() if k not in _CA_VARS} | _ENV
        fd, log = tempfile.mkstemp(prefix="moto-own-", suffix=".log")
        os.close(fd)
        self._log = Path(log)
        for _ in range(3):  # the free port may be taken between choosing it and binding it
            self.port = _free_port()
            command = [sys.executable, "-m", "multicloud.testing.moto_server", *self.flags,
                       "-H", "127.0.0.1", "-p", str(self.port)]
            with open(self._log, "ab") as out:
                self._proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              start_new_session=True, env=env)
            if self._wait_ready():
                return self
        tail = self._log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"moto_server did not start on 127.0.0.1:\n{tail}")

    def _wait_ready(self) -> bool:
        """True once moto answers its own API; False when the process exits or the time is up."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self._proc.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2).close()
                return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        """SIGTERM moto's process group, SIGKILL if it lingers; remove its log."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.unlink(missing_ok=True)

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- the CloudWatch index (runs inside the moto process) ----------------------------------------

def install_cloudwatch_index() -> None:
    """Wrap moto's CloudWatch get_metric_data and get_metric_statistics so each query runs moto's own
    code over the datums of its metric name and first dimension only. Metric math (which reads
    other queries' results) and queries without dimension values go to moto's code with every datum."""
    from moto.cloudwatch.models import CloudWatchBackend

    get_data, get_statistics = CloudWatchBackend.get_metric_data, CloudWatchBackend.get_metric_statistics
    lock = threading.Lock()

    def candidates(backend, name: str, dimensions) -> list:
        with lock:
            index = backend.__dict__.setdefault("_multicloud_index", {"seen": 0, "keys": {}})
            data = backend.metric_data
            for datum in data[index["seen"]:]:  # moto only appends; index what came since the last query
                for dim in datum.dimensions:
                    index["keys"].setdefault((datum.name, dim.name, dim.value), []).append(datum)
            index["seen"] = len(data)
            first = dimensions[0]
            found = list(index["keys"].get((name, first["Name"], first.get("Value")), ()))
        return found + backend.aws_metric_data

    def view(backend, name: str, dimensions):
        return SimpleNamespace(get_all_metrics=lambda: candidates(backend, name, dimensions))

    def indexable(dimensions) -> bool:
        # a dimension without a value matches any value in moto, so it can't be looked up
        return bool(dimensions) and all(d.get("Value") is not None for d in dimensions)

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        if not all("MetricStat" in q and indexable(q["MetricStat"]["Metric"].get("Dimensions")) for q in queries):
            return get_data(self, queries, start_time, end_time, scan_by)
        out = []
        for q in queries:
            metric = q["MetricStat"]["Metric"]
            out += get_data(view(self, metric["MetricName"], metric["Dimensions"]), [q], start_time, end_time, scan_by)
        return out

    def get_metric_statistics(self, namespace, metric_name, start_time, end_time, period, stats, dimensions,
                              unit=None):
        target = view(self, metric_name, dimensions) if indexable(dimensions) else self
        return get_statistics(target, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit)

    CloudWatchBackend.get_metric_data = get_metric_data
    CloudWatchBackend.get_metric_statistics = get_metric_statistics


# ---- bulk seeding (runs inside the moto process) -------------------------------------------------

BULK_PUT_PATH = "/_multicloud/bulk-put"


def bulk_keys(prefix: str, start: int, count: int) -> Iterator[str]:
    """The keys a bulk put stores, in order."""
    return (f"{prefix}{i // 1000:04d}/{i:07d}.bin" for i in range(start, start + count))


def install_bulk_put() -> None:
    """Answer POST BULK_PUT_PATH in moto's WSGI application; every other request goes to moto."""
    import json
    from urllib.parse import parse_qs

    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends
    from moto.server import DomainDispatcherApplication

    call = DomainDispatcherApplication.__call__

    def answer(start_response, status: str, body: dict) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != BULK_PUT_PATH or environ.get("REQUEST_METHOD") != "POST":
            return call(self, environ, start_response)
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            bucket, prefix = query["bucket"], query.get("prefix", "")
            start, count, size = int(query.get("start", 0)), int(query["count"]), int(query.get("size", 256))
            if start < 0 or count < 0 or size < 0:
                raise ValueError("start, count and size must not be negative")
        except (KeyError, ValueError) as exc:
            return answer(start_response, "400 Bad Request", {"error": f"bulk-put: {exc!r} in {query}"})
        backend = s3_backends[ACCOUNT]["aws"]
        try:
            backend.get_bucket(bucket)
        except MissingBucket as exc:
            return answer(start_response, "404 Not Found", {"error": f"bulk-put: bucket {bucket!r}: {exc}"})
        body = os.urandom(size)
        for key in bulk_keys(prefix, start, count):
            backend.put_object(bucket, key, body, disable_notification=True)
        return answer(start_response, "200 OK", {"stored": count})

    DomainDispatcherApplication.__call__ = __call__


# ---- the listing index (runs inside the moto process) -------------------------------------------

def install_listing_index() -> None:
    """Answer ListObjectsV2 without a delimiter from each bucket's key names, sorted once per change
    of its key store (every mutating method of moto's _VersionedKeyStore counts a change)."""
    import bisect

    from moto.s3.models import FakeDeleteMarker, S3Backend
    from moto.s3.utils import _VersionedKeyStore
    from moto.utilities.utils import md5_hash

    for name in ("__setitem__", "__delitem__", "setlist", "pop", "popitem", "clear", "update", "setdefault"):
        def changed(self, *args, _method=getattr(_VersionedKeyStore, name), **kwargs):
            self.__dict__["_changes"] = self.__dict__.get("_changes", 0) + 1
            return _method(self, *args, **kwargs)
        setattr(_VersionedKeyStore, name, changed)

    list_v2, lock = S3Backend.list_objects_v2, threading.Lock()

    def sorted_names(keys: _VersionedKeyStore) -> list[str]:
        with lock:
            changes, names = keys.__dict__.get("_sorted", (None, None))
            if changes != keys.__dict__.get("_changes", 0):
                changes = keys.__dict__.get("_changes", 0)
                names = sorted(list(dict.keys(keys)))
                keys.__dict__["_sorted"] = (changes, names)
            return names

    def list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys):
        keys = getattr(bucket, "keys", None)
        if (delimiter or not max_keys or not isinstance(keys, _VersionedKeyStore)
                or (continuation_token and continuation_token not in self._pagination_tokens)):
            return list_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        prefix = prefix or ""
        after = self._pagination_tokens[continuation_token] if continuation_token else start_after
        names = sorted_names(keys)
        at = bisect.bisect_left(names, prefix)
        if after:
            at = max(at, bisect.bisect_right(names, after))
        page, more = [], False
        while at < len(names) and names[at].startswith(prefix):
            key, at = keys.get(names[at]), at + 1
            if key is None or isinstance(key, FakeDeleteMarker):
                continue
            if len(page) == max_keys:
                more = True
                break
            page.append(key)
        token = None
        if more:
            token = md5_hash(page[-1].name.encode("utf-8")).hexdigest()
            self._pagination_tokens[token] = page[-1].name
        return page, more, token

    S3Backend.list_objects_v2 = list_objects_v2


def main(argv: list[str]) -> None:
    for flag, install in (("--cloudwatch-index", install_cloudwatch_index), ("--bulk-put", install_bulk_put),
                          ("--listing-index", install_listing_index)):
        if flag in argv:
            argv = [a for a in argv if a != flag]
            install()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
