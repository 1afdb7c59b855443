"""One small error taxonomy for every cloud; retry decisions read it, never SDK types."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every storage error; `target` names the store URL or key involved."""

    retryable = False

    def __init__(self, message: str, *, target: str | None = None):
        super().__init__(f"{message} [{target}]" if target else message)
        self.target = target


class NotFound(StoreError):
    """The bucket, container or key does not exist."""


class AlreadyExists(StoreError):
    """A conditional create was refused because the key (or bucket) exists."""


class PreconditionFailed(StoreError):
    """A conditional request's precondition (etag, generation) did not hold."""


class PermissionDenied(StoreError):
    """The credentials may not perform this request."""


class Throttled(StoreError):
    """The service asked us to slow down; retried with backoff."""

    retryable = True


class Transient(StoreError):
    """A timeout, connection reset or 5xx; retried with backoff."""

    retryable = True


class InvalidInput(StoreError):
    """The request itself is wrong: a bad bucket name, key, URL or parameter."""


def is_retryable(exc: BaseException) -> bool:
    """True when `exc` is a taxonomy error that a retry may cure."""
    return isinstance(exc, StoreError) and exc.retryable
