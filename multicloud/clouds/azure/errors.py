"""Azure SDK errors (storage and management) mapped to the project's taxonomy, the SDK error chained
by the caller (`retried`); messages never carry a SAS query string."""

from __future__ import annotations

import re

from azure.core.exceptions import (
    ClientAuthenticationError, HttpResponseError, ResourceExistsError, ResourceModifiedError,
    ResourceNotFoundError, ServiceRequestError, ServiceResponseError,
)

from multicloud.core.errors import (
    AlreadyExists, InvalidInput, NotFound, PermissionDenied, PreconditionFailed, StoreError, Throttled, Transient,
)

_QUERY = re.compile(r"\?[^\s'\"]*")
# What a service or emulator answers for an API it does not offer (e.g. the Blob Batch API).
_NOT_SUPPORTED_CODES = frozenset({"NotImplemented", "APINotImplemented", "FeatureNotSupportedForAccount"})


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    # SAS tokens ride in query strings; no message of ours may carry one.
    return _QUERY.sub("?<redacted>", text.splitlines()[0] if text else type(exc).__name__)


def error_code(exc: HttpResponseError) -> str:
    """The service's error code: `error_code` for storage errors, `error.code` for management (ARM) ones."""
    raw = getattr(exc, "error_code", None) or getattr(getattr(exc, "error", None), "code", None)
    return str(getattr(raw, "value", raw) or "")


def is_not_supported(exc: BaseException) -> bool:
    """Whether the endpoint said it does not offer the API called (501, or a not-implemented code)."""
    return isinstance(exc, HttpResponseError) and (exc.status_code == 501 or error_code(exc) in _NOT_SUPPORTED_CODES)


def map_error(exc: Exception, target: str | None = None) -> Exception:
    """The taxonomy error for an Azure SDK error (storage or management), or `exc` itself when it
    has no mapping."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        code = error_code(exc)
        message = f"{code or status or type(exc).__name__}: {_first_line(exc)}"
        if isinstance(exc, ResourceNotFoundError) or status == 404:
            return NotFound(message, target=target)
        if code == "ContainerBeingDeleted":  # a 409 that clears by itself, unlike a true conflict
            return Transient(message, target=target)
        if isinstance(exc, ResourceExistsError) or status == 409:
            return AlreadyExists(message, target=target)
        if isinstance(exc, ResourceModifiedError) or status == 412:
            return PreconditionFailed(message, target=target)
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            return PermissionDenied(message, target=target)
        if status in (429, 503) or code == "ServerBusy":
            return Throttled(message, target=target)
        if status is None or status >= 500:  # no status: the body broke off mid-read
            return Transient(message, target=target)
        if status == 400:
            return InvalidInput(message, target=target)
        return exc
    if isinstance(exc, ClientAuthenticationError):  # e.g. a credential that could not get a token
        return PermissionDenied(f"{type(exc).__name__}: {_first_line(exc)}", target=target)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, TimeoutError, ConnectionError)):
        return Transient(f"{type(exc).__name__}: {_first_line(exc)}", target=target)
    return exc
