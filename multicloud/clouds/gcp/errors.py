"""Google SDK and transport errors mapped to the project's taxonomy (the SDK error chained by the
caller, `retried`)."""

from __future__ import annotations

import requests
from google.api_core import exceptions as gapi
from google.auth import exceptions as gauth
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

from multicloud.core.errors import (
    AlreadyExists, InvalidInput, NotFound, PermissionDenied, PreconditionFailed, StoreError, Throttled, Transient,
)

_TRANSIENT = (
    gapi.InternalServerError, gapi.ServiceUnavailable, gapi.BadGateway, gapi.GatewayTimeout,
    requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, gauth.TransportError,
)


def map_error(exc: Exception, target: str | None = None, *, if_absent: bool = False) -> Exception:
    """The taxonomy error for a Google SDK or transport exception, or `exc` itself when it is
    not one. With `if_absent`, a failed generation precondition means the object exists."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, InvalidResponse) and getattr(exc, "response", None) is not None:
        # Media (upload/download) helpers raise this instead of the api_core error for the status.
        exc = gapi.from_http_response(exc.response)
    msg = f"Cloud Storage: {exc}"
    if isinstance(exc, gapi.NotFound):
        return NotFound(msg, target=target)
    if isinstance(exc, gapi.PreconditionFailed):
        return (AlreadyExists if if_absent else PreconditionFailed)(msg, target=target)
    if isinstance(exc, gapi.Conflict):
        return AlreadyExists(msg, target=target)
    if isinstance(exc, gapi.TooManyRequests):
        return Throttled(msg, target=target)
    if isinstance(exc, (*_TRANSIENT, DataCorruption)):
        return Transient(msg, target=target)
    if isinstance(exc, gapi.GoogleAPICallError) and exc.code == 408:  # api_core has no class for it
        return Transient(msg, target=target)
    if isinstance(exc, gauth.RefreshError) and getattr(exc, "retryable", False):
        return Transient(msg, target=target)  # e.g. the metadata server answered 5xx
    if isinstance(exc, (gapi.Forbidden, gapi.Unauthorized, gauth.RefreshError, gauth.DefaultCredentialsError)):
        return PermissionDenied(msg, target=target)
    if isinstance(exc, (gapi.BadRequest, gapi.RequestRangeNotSatisfiable)):
        return InvalidInput(msg, target=target)
    return exc
