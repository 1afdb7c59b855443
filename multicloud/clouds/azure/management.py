"""Azure Resource Manager clients for the read-only listings of rightsizing (compute, network, monitor,
sql): one credential rule, the connection's timeouts, and azure-core's own retry policy, bounded and
reporting every wait it makes (a 429's Retry-After, or its backoff) so a run can say how long it waited."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import RetryPolicy

from multicloud.clouds.azure.dns import StaticTokenCredential
from multicloud.clouds.azure.errors import map_error
from multicloud.clouds.azure.session import default_token_credential
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput

T = TypeVar("T")


@dataclass(frozen=True)
class ArmRetry:
    """How throttled or failing ARM requests are retried: `attempts` retries at most, exponential
    backoff from `backoff_seconds` up to `backoff_max_seconds`, and a Retry-After above
    `max_retry_after_seconds` is not waited for (the request fails as Throttled instead)."""

    attempts: int = 4
    backoff_seconds: float = 0.8
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0


class WaitRecordingRetry(RetryPolicy):
    """azure-core's RetryPolicy that appends each wait to `waits` and refuses waits over the bound."""

    def __init__(self, retry: ArmRetry, waits: list[float]):
        super().__init__(retry_total=retry.attempts, retry_backoff_factor=retry.backoff_seconds,
                         retry_backoff_max=retry.backoff_max_seconds)
        self._max_wait = retry.max_retry_after_seconds
        self.waits = waits

    def is_retry(self, settings, response) -> bool:
        wait = self.get_retry_after(response)
        if wait is not None and wait > self._max_wait:
            return False
        return super().is_retry(settings, response)

    def sleep(self, settings, transport, response=None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if not wait:
            wait = self.get_backoff_time(settings)
        if wait > 0:
            self.waits.append(wait)
            transport.sleep(wait)


@dataclass
class Arm:
    """What every ARM call of one reader shares: the subscription, the credential and endpoint, the
    per-call options, and where throttling waits are recorded."""

    conn: Connection
    subscription_id: str
    base_url: str | None
    credential: Any
    options: dict
    retry: ArmRetry
    waits: list[float]

    def client(self, cls):
        """A `cls` management client (ComputeManagementClient, ...) with the connection's timeouts and the
        recording retry policy."""
        from azure.core.pipeline.transport import RequestsTransport

        transport = RequestsTransport(connection_timeout=self.conn.connect_timeout_seconds,
                                      read_timeout=self.conn.timeout_seconds)
        kwargs = {"base_url": self.base_url} if self.base_url else {}
        return cls(self.credential, self.subscription_id, transport=transport,
                   retry_policy=WaitRecordingRetry(self.retry, self.waits), **kwargs)

    def pages(self, listing: Callable[..., Iterable[T]], target: str, count: Callable[[], None]) -> Iterator[T]:
        """Every item of an SDK listing, page by page (each page one request, counted by `count`); SDK
        errors raised as the taxonomy, naming `target`."""
        try:
            for page in listing(**self.options).by_page():
                count()
                yield from page
        except AzureError as exc:
            _raise(exc, target)

    def call(self, fn: Callable[..., T], target: str) -> T:
        try:
            return fn(**self.options)
        except AzureError as exc:
            _raise(exc, target)


def arm(conn: Connection, subscription_id: str, base_url: str | None = None, retry: ArmRetry = ArmRetry(),
        waits: list[float] | None = None) -> Arm:
    """The shared ARM settings for `conn`. 'emulator' credentials send a fixed token, and only to a local
    `base_url` (a fake ARM server, plain HTTP allowed); 'default' uses DefaultAzureCredential and never
    plain HTTP. Raises InvalidInput naming the connection or the base URL."""
    if not subscription_id:
        raise InvalidInput("an Azure Resource Manager reader needs a subscription id", target=conn.name)
    plain_http = _plain_http(base_url)
    credential = _credential(conn, base_url, plain_http)
    options = {"enforce_https": False} if plain_http else {}
    return Arm(conn, subscription_id, base_url.rstrip("/") if base_url else None, credential, options, retry,
               [] if waits is None else waits)


def _plain_http(base_url: str | None) -> bool:
    """Whether `base_url` is plain HTTP, which only a server on this machine may be."""
    if not base_url:
        return False
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"ARM base URL {base_url!r} is not an http(s) URL", target="base_url")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidInput("a bearer token is never sent over plain HTTP: the ARM base URL must be https "
                           "unless its host is this machine", target="base_url")
    return parts.scheme == "http"


def _credential(conn: Connection, base_url: str | None, plain_http: bool) -> Any:
    if conn.credentials == "emulator":
        if not base_url:
            raise InvalidInput("'emulator' credentials need the base URL of a local fake ARM server",
                               target=conn.name)
        return StaticTokenCredential()
    if conn.credentials in ("default", "block"):
        if plain_http:
            raise InvalidInput(f"{conn.credentials!r} credentials are never sent over plain HTTP", target="base_url")
        return default_token_credential(conn)  # a block's service principal, or the default chain
    raise InvalidInput(f"credentials {conn.credentials!r} cannot open Azure Resource Manager: use 'default' or "
                       "'block' (or 'emulator' for a local fake)", target=conn.name)


def _loopback(host: str) -> bool:
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost
        return False


def _raise(exc: AzureError, target: str) -> None:
    mapped = map_error(exc, target)
    if mapped is exc:
        raise exc
    raise mapped from exc
