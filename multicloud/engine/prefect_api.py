"""The two Prefect REST calls the alert receiver makes: post events and set a variable. Any
refusal or silence of the server is PrefectUnavailable, so the delivery is answered 503 and retried."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from multicloud.config.loading import http_url
from multicloud.core.errors import InvalidInput
from multicloud.core.redact import redact_url


class PrefectUnavailable(Exception):
    """The Prefect API refused or did not answer; the delivery is retried by Alertmanager."""


class PrefectApi:
    """A synchronous client of one Prefect API (…/api); `url` is the redacted address, for logs."""

    def __init__(self, api_url: str, headers: dict[str, str] | None = None, timeout: float = 10.0):
        self.api_url = api_url.rstrip("/")
        self.url = redact_url(self.api_url)
        self._client = httpx.Client(base_url=self.api_url + "/", headers=headers or {}, timeout=timeout)

    @classmethod
    def from_settings(cls, timeout: float, api_url: str | None = None) -> PrefectApi:
        """`api_url`, else PREFECT_API_URL (env or profile), with PREFECT_API_AUTH_STRING or
        PREFECT_API_KEY if set."""
        from prefect.settings import get_current_settings

        api = get_current_settings().api
        url = api_url or api.url
        if not url:
            raise InvalidInput("PREFECT_API_URL is not set: the receiver posts events to a Prefect server",
                               target="PREFECT_API_URL")
        try:
            http_url(url)
        except ValueError as exc:
            raise InvalidInput(f"the Prefect API address is unusable: {exc}", target="PREFECT_API_URL") from None
        return cls(url, _auth_headers(api.auth_string, api.key), timeout)

    def post_events(self, events: list[dict[str, Any]]) -> None:
        self._call("POST", "events", events)

    def set_variable(self, name: str, value: str) -> None:
        """Create the variable, or overwrite its value if it exists."""
        try:
            response = self._client.post("variables/", json={"name": name, "value": value})
            if response.status_code == 409:
                response = self._client.patch(f"variables/name/{name}", json={"value": value})
        except httpx.HTTPError as exc:
            raise PrefectUnavailable(f"variables: {type(exc).__name__}") from None
        _check(response, "variables")

    def _call(self, method: str, path: str, body: Any) -> None:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise PrefectUnavailable(f"{path}: {type(exc).__name__}") from None
        _check(response, path)

    def close(self) -> None:
        self._client.close()


def _auth_headers(auth_string: Any, api_key: Any) -> dict[str, str]:
    if auth_string:
        encoded = base64.b64encode(auth_string.get_secret_value().encode()).decode()
        return {"Authorization": f"Basic {encoded}"}
    if api_key:
        return {"Authorization": f"Bearer {api_key.get_secret_value()}"}
    return {}


def _check(response: httpx.Response, path: str) -> None:
    if not response.is_success:
        raise PrefectUnavailable(f"{path}: HTTP {response.status_code}")
