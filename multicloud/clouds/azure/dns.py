"""Azure's weighted DNS: the endpoints of a Traffic Manager profile with the `Weighted` routing
method, read and re-weighted through `azure-mgmt-trafficmanager` (ARM).

Endpoint name = site name, endpoint target = the site's dns_value (see
`multicloud.config.TrafficManagerProfile`). Every ARM request has the connection's connect and
read timeouts; retries come from `retried()` (the SDK's own are off) and SDK errors are mapped
to the taxonomy by the Azure storage module's `map_error`, the target naming the profile.

Weight semantics. Traffic Manager accepts weights 1-1000 only: an endpoint gets no traffic by
being *Disabled*, not by weight 0. So here:
- `weights()` reports a Disabled endpoint as 0 and an Enabled one as its configured weight;
- `set_weights()` turns a weight of 0 into endpointStatus=Disabled (the configured weight is
  left as it is) and a weight of 1-1000 into that weight with endpointStatus=Enabled.
The profile's own status (profileStatus) is neither read nor changed.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlsplit

from multicloud.clouds.azure import storage
from multicloud.clouds.azure.session import default_token_credential
from multicloud.clouds.common import retried
from multicloud.config import Connection, TrafficManagerProfile
from multicloud.core.errors import InvalidInput, NotFound

T = TypeVar("T")

#: Traffic Manager's accepted range for an endpoint's weight; 0 is expressed as Disabled.
MAX_WEIGHT = 1000
EMULATOR_TOKEN = "multicloud-emulator-token"  # sent only to a local fake ARM server

# The path segment of each endpoint type, from the last segment of the endpoint's ARM `type`.
_ENDPOINT_TYPES = {
    "externalendpoints": "ExternalEndpoints",
    "azureendpoints": "AzureEndpoints",
    "nestedendpoints": "NestedEndpoints",
}


class StaticTokenCredential:
    """A TokenCredential that always returns one fixed, far-future token: for a local fake ARM
    server only ('emulator' credentials), never for Azure itself."""

    def __init__(self, token: str = EMULATOR_TOKEN):
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, 4102444800)  # 2100-01-01


def _client(conn: Connection, dns: TrafficManagerProfile):
    """A TrafficManagerManagementClient for `dns` with the connection's timeouts and no SDK
    retries, plus the per-call options. Raises InvalidInput for an unusable connection."""
    from azure.core.pipeline.transport import RequestsTransport
    from azure.mgmt.trafficmanager import TrafficManagerManagementClient

    base_url = dns.api_endpoint.rstrip("/") if dns.api_endpoint else None
    plain_http = bool(base_url) and urlsplit(base_url).scheme == "http"
    if conn.credentials == "emulator":
        if not base_url:
            raise InvalidInput("'emulator' credentials need the Traffic Manager profile's api_endpoint "
                               "(a local fake ARM server)", target=conn.name)
        credential: Any = StaticTokenCredential()
    elif conn.credentials == "default":
        if plain_http:
            raise InvalidInput("a bearer token is never sent over plain HTTP: api_endpoint must be https "
                               "unless the connection's credentials are 'emulator'", target=conn.name)
        credential = default_token_credential(conn)
    else:
        raise InvalidInput(f"credentials {conn.credentials!r} cannot open Azure Resource Manager: "
                           "use 'default' (or 'emulator' for a local fake)", target=conn.name)
    transport = RequestsTransport(connection_timeout=conn.connect_timeout_seconds, read_timeout=conn.timeout_seconds)
    client = TrafficManagerManagementClient(
        credential, dns.subscription_id, base_url=base_url,
        transport=transport,  # carries the timeouts
        retry_total=0,  # retried() retries from the taxonomy; SDK retries would multiply them
    )
    # Plain HTTP only ever for the emulator: the bearer policy refuses it otherwise.
    options = {"enforce_https": False} if conn.credentials == "emulator" and plain_http else {}
    return client, options


class TrafficManagerWeights:
    """The endpoints of one Weighted Traffic Manager profile, keyed by endpoint (= site) name.

    `sites` maps site name -> dns_value; `set_weights` refuses to send traffic to an endpoint named
    after a site whose target is not that site's dns_value."""

    def __init__(self, conn: Connection, dns: TrafficManagerProfile, sites: Mapping[str, str]):
        self.dns = dns
        self.sites = dict(sites)
        self.target = (f"/subscriptions/{dns.subscription_id}/resourceGroups/{dns.resource_group}"
                       f"/providers/Microsoft.Network/trafficmanagerprofiles/{dns.profile}")
        self._client, self._options = _client(conn, dns)

    def _call(self, fn: Callable[..., T], target: str | None = None) -> T:
        return retried(lambda: fn(**self._options), partial(storage.map_error, target=target or self.target))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "TrafficManagerWeights":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def endpoints(self) -> dict[str, Any]:
        """Endpoint name -> SDK Endpoint, from one GET of the profile. Raises NotFound (profile or
        resource group missing), InvalidInput (routing method is not Weighted), PermissionDenied,
        Throttled and Transient (after retries)."""
        profile = self._call(partial(self._client.profiles.get, self.dns.resource_group, self.dns.profile))
        method = str(getattr(profile.traffic_routing_method, "value", profile.traffic_routing_method) or "")
        if method.lower() != "weighted":
            raise InvalidInput(f"Traffic Manager profile uses routing method {method or 'none'!r}, not 'Weighted'",
                               target=self.target)
        return {ep.name: ep for ep in (profile.endpoints or [])}

    def weights(self) -> dict[str, int]:
        """Endpoint name -> effective weight: 0 when the endpoint is Disabled, else its weight.
        Raises as `endpoints()`."""
        return {name: _effective_weight(ep) for name, ep in self.endpoints().items()}

    def values(self) -> dict[str, list[str]]:
        """Endpoint name -> [target] (empty when the endpoint has no target). Raises as `endpoints()`."""
        return {name: [ep.target] if ep.target else [] for name, ep in self.endpoints().items()}

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """PATCH only the endpoints whose effective weight differs: 0 -> Disabled, 1-1000 ->
        that weight and Enabled. Every weight is checked before any write. The caller reads back.
        Raises NotFound (profile, or an endpoint named in `weights`), InvalidInput (not Weighted, a
        weight outside 0-1000, an endpoint pointing elsewhere than its site's dns_value),
        PermissionDenied, Throttled and Transient (after retries)."""
        current = self.endpoints()
        changes: list[tuple[str, str, dict]] = []
        for name, weight in weights.items():
            ep = current.get(name)
            if ep is None:
                raise NotFound(f"profile has no endpoint {name!r}; it has {sorted(current)}", target=self.target)
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
                raise InvalidInput(f"weight {weight!r} for endpoint {name!r} is outside 0-{MAX_WEIGHT} "
                                   "(Traffic Manager's range; 0 disables the endpoint)", target=self.target)
            if _effective_weight(ep) == weight:
                continue
            expected = self.sites.get(name)
            if weight and expected is not None and ep.target and ep.target != expected:
                raise InvalidInput(f"endpoint {name!r} targets {ep.target!r}, not site {name!r}'s dns_value "
                                   f"{expected!r}: refusing to send it traffic", target=self.target)
            props = {"endpointStatus": "Disabled"} if weight == 0 else {"weight": weight, "endpointStatus": "Enabled"}
            changes.append((name, _endpoint_type(ep), props))
        for name, etype, props in changes:
            self._call(partial(self._client.endpoints.update, self.dns.resource_group, self.dns.profile, etype, name,
                               {"properties": props}),
                       target=f"{self.target}/{etype}/{name}")


def _effective_weight(ep: Any) -> int:
    status = str(getattr(ep.endpoint_status, "value", ep.endpoint_status) or "Enabled")
    return 0 if status.lower() == "disabled" else int(ep.weight or 0)


def _endpoint_type(ep: Any) -> str:
    """The endpoint type path segment (ExternalEndpoints, ...) from its ARM resource type."""
    last = (ep.type or "").rsplit("/", 1)[-1].lower()
    return _ENDPOINT_TYPES.get(last, "ExternalEndpoints")
