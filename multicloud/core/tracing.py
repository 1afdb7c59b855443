"""What a flow or task run's trace span says about the work: the cloud and region it touches, the
operation, the rule, plan or target, and the outcome; read from the run's parameters (pure)."""

from __future__ import annotations

from typing import Mapping

OPERATION = "multicloud.operation"
RULE = "multicloud.rule"
PLAN = "multicloud.plan"
TARGET = "multicloud.target"
OUTCOME = "multicloud.outcome"
PROVIDER = "cloud.provider"  # OpenTelemetry semantic conventions: aws, azure, gcp
REGION = "cloud.region"
#: What a parent flow span takes over from its tasks when it has none of its own.
INHERITED = (PROVIDER, REGION, RULE, PLAN)


def _scheme(url: object) -> str:
    return url.split("://", 1)[0] if isinstance(url, str) and "://" in url else ""


def _urls(value: object, depth: int = 2) -> list[str]:
    """Store URLs a parameter names: a URL string, or a model's `targets`/`source`/`url`/
    `repositories` (two levels deep: a plan's source has its own `url`)."""
    if isinstance(value, str):
        return [value] if _scheme(value) else []
    if depth == 0 or value is None or isinstance(value, (int, float, bytes, dict)):
        return []
    found = []
    for field in ("url", "source", "targets", "repositories"):
        item = getattr(value, field, None)
        for one in item if isinstance(item, (list, tuple)) else [item]:
            found += _urls(one, depth - 1)
    return found


def run_attributes(operation: str, parameters: Mapping[str, object], cloud_of_scheme: Mapping[str, str]) -> dict:
    """Span attributes of one run of `operation` called with `parameters`: `multicloud.rule` from a
    replication rule, `multicloud.plan` from a backup or failover plan, `multicloud.target` from a
    `target` parameter, a parameter's own `target` (shard, batch, report) or a `source` config,
    `cloud.provider` from the first cloud store URL among them (target first), `cloud.region`
    from the profile's connection of that cloud."""
    attributes = {OPERATION: operation}
    urls: list[str] = []
    for name, value in parameters.items():
        attributes.update({k: v for k, v in _names(name, value).items() if k not in attributes})
        inner = getattr(value, "target", None)  # a shard, batch or report of one target
        if isinstance(inner, str) and _scheme(inner):
            urls.insert(0, inner)
        urls = (_urls(value) + urls) if name == "target" else urls + _urls(value)
    clouds = [cloud_of_scheme[_scheme(u)] for u in urls if _scheme(u) in cloud_of_scheme]
    if clouds:
        attributes[PROVIDER] = clouds[0]
        region = _region(parameters.values(), clouds[0])
        if region:
            attributes[REGION] = region
    return attributes


def _names(name: str, value: object) -> dict:
    """The rule, plan or target one parameter names."""
    kind = type(value).__name__
    inner = getattr(value, "target", None)
    if kind == "ReplicationRule":
        return {RULE: value.name}
    if kind.endswith("Plan") and isinstance(getattr(value, "name", None), str):
        return {PLAN: value.name}
    if isinstance(inner, str) and _scheme(inner):
        return {TARGET: inner}
    if name in ("target", "source") and isinstance(getattr(value, "name", value), str):
        return {TARGET: getattr(value, "name", value)}
    return {}


def inherited(flow: Mapping[str, object], task: Mapping[str, object]) -> dict:
    """What a flow span missing them takes from a task span: the provider, the rule and plan, and
    the region only when it is the region of the flow's own provider."""
    taken = {k: task[k] for k in INHERITED if k in task and k not in flow}
    if REGION in taken and flow.get(PROVIDER, task.get(PROVIDER)) != task.get(PROVIDER):
        del taken[REGION]
    return taken


def _region(values, cloud: str) -> str | None:
    for value in values:
        for conn in getattr(value, "connections", None) or []:
            if getattr(conn, "cloud", None) == cloud:
                return conn.region
    return None


def outcome(status_ok: bool, recorded: str | None) -> str:
    """The run's outcome: what the task recorded, else completed / failed from the span status."""
    return recorded or ("completed" if status_ok else "failed")
