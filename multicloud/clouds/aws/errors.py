"""botocore errors mapped to the project's taxonomy."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ParamValidationError,
    ReadTimeoutError, ResponseStreamingError,
)

from multicloud.core import errors as E

_BY_CODE = {
    "NoSuchKey": E.NotFound, "NoSuchBucket": E.NotFound, "NoSuchUpload": E.NotFound, "404": E.NotFound,
    "NotFound": E.NotFound,
    "BucketAlreadyOwnedByYou": E.AlreadyExists, "BucketAlreadyExists": E.AlreadyExists,
    "PreconditionFailed": E.PreconditionFailed, "412": E.PreconditionFailed,
    "ConditionalRequestConflict": E.PreconditionFailed,
    "AccessDenied": E.PermissionDenied, "403": E.PermissionDenied, "InvalidAccessKeyId": E.PermissionDenied,
    "SignatureDoesNotMatch": E.PermissionDenied, "ExpiredToken": E.PermissionDenied,
    "SlowDown": E.Throttled, "Throttling": E.Throttled, "ThrottlingException": E.Throttled,
    "RequestLimitExceeded": E.Throttled, "TooManyRequestsException": E.Throttled,
    "InternalError": E.Transient, "ServiceUnavailable": E.Transient, "RequestTimeout": E.Transient,
    "InvalidBucketName": E.InvalidInput, "InvalidArgument": E.InvalidInput, "InvalidRange": E.InvalidInput,
    "KeyTooLongError": E.InvalidInput, "InvalidRequest": E.InvalidInput, "EntityTooLarge": E.InvalidInput,
}


def map_error(exc: Exception, target: str | None = None, service: str = "S3") -> Exception:
    """The taxonomy error for a botocore exception, or `exc` itself when it is not one; messages
    start with the AWS `service` that answered (S3, EC2, CloudWatch, RDS...)."""
    if isinstance(exc, E.StoreError):
        return exc
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        cls = _BY_CODE.get(code)
        if cls is None:
            cls = E.Throttled if status in (429, 503) else E.Transient if status >= 500 else None
        if cls is None and 400 <= status < 500:
            cls = E.InvalidInput
        if cls is not None:
            return cls(f"{service} {code or status}: {err.get('Message') or 'request refused'}", target=target)
        return exc
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError,
                        ResponseStreamingError)):
        return E.Transient(f"{service} connection problem: {type(exc).__name__}", target=target)
    if isinstance(exc, ParamValidationError):
        return E.InvalidInput(f"{service} refused the request's parameters: {exc}", target=target)
    return exc
