"""Errors of the restic repository engine, each a member of the project's error taxonomy."""

from __future__ import annotations

from multicloud.core.errors import InvalidInput, PermissionDenied, StoreError


class WrongPassword(PermissionDenied):
    """No key file of the repository opens with the given password."""


class NotARepository(InvalidInput):
    """The store holds no restic repository (no config or no key), or something else."""


class UnsupportedVersion(InvalidInput):
    """The repository's format version is not the one this engine writes (2)."""


class CorruptData(StoreError):
    """A file or blob fails its MAC, its hash or its layout: the repository is damaged."""


class RepositoryLocked(StoreError):
    """Another process holds a lock that conflicts with ours."""
