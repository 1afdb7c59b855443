"""A backup plan's repository password, from where the plan says: an environment variable, a Prefect
Secret block, or a password generated once, wrapped by a cloud KMS key (AWS KMS, Azure Key Vault,
Google Cloud KMS) and stored wrapped beside each repository, unwrapped on later runs."""

from __future__ import annotations

import os
import secrets
from typing import Sequence

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.config.backups import KmsWrap, PasswordSource
from multicloud.core.backups.passwords import (
    CONTEXT, MAX_DOCUMENT_BYTES, WrappedLocation, WrappedPassword, decode_wrapped, wrapped_location,
)
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound, StoreError, Transient
from multicloud.core.redact import redact_url

PASSWORD_BYTES = 32  # 256 bits of randomness, as 43 URL-safe characters


def repository_password(source: PasswordSource, profile: Profile, repository: str, plan: str, *,
                        mirrors: Sequence[str] = (), create: bool = True) -> str:
    """The password of `repository` (and of its `mirrors`, which share it: they hold the same key
    files). A KMS-wrapped password is read beside the first of them that has one; with `create`
    (backups), one is generated when none has, and copied beside those that lack it; without
    (restores, drills) a missing one is NotFound. Every error names the plan: InvalidInput (variable
    unset, bad location), NotFound (no Secret block, no wrapped password), PermissionDenied (the key
    cannot unwrap it: another key, or altered bytes), Transient."""
    if source.env is not None:
        return _from_env(source.env, plan)
    if source.secret is not None:
        return _from_secret(source.secret, plan)
    return _from_kms(source.kms, profile, [repository, *mirrors], plan, create)


def _from_env(variable: str, plan: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise InvalidInput(f"plan {plan!r}: the password variable {variable} is not set (or empty)", target=plan)
    return value


def _from_secret(block: str, plan: str) -> str:
    import httpx
    from prefect.blocks.system import Secret
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        value = Secret.load(block, _sync=True).get()
    except ValueError:  # Prefect's answer for a block that does not exist (or a name it cannot hold)
        raise NotFound(f"plan {plan!r}: no Prefect Secret block named {block!r}", target=plan) from None
    except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
        raise Transient(f"plan {plan!r}: the Prefect API did not answer for Secret block {block!r}: "
                        f"{type(exc).__name__}", target=plan) from exc
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"plan {plan!r}: Prefect Secret block {block!r} does not hold a non-empty string",
                           target=plan)
    return value


# ---- KMS-wrapped ---------------------------------------------------------------------------------

def _wrap(wrap: KmsWrap, profile: Profile, plaintext: bytes) -> bytes:
    conn = profile.connection_for(wrap.provider, wrap.connection)
    aad = _aad()
    if wrap.provider == "aws":
        from multicloud.clouds.aws import kms

        return kms.encrypt(_aws_connection(conn, wrap), wrap.key, plaintext, CONTEXT)
    if wrap.provider == "azure":
        from multicloud.clouds.azure import keyvault

        return keyvault.wrap(conn, wrap.key, plaintext)
    from multicloud.clouds.gcp import kms as gcp_kms

    return gcp_kms.encrypt(conn, wrap.key, plaintext, aad, endpoint=wrap.endpoint)


def _unwrap(wrap: KmsWrap, profile: Profile, ciphertext: bytes) -> bytes:
    conn = profile.connection_for(wrap.provider, wrap.connection)
    if wrap.provider == "aws":
        from multicloud.clouds.aws import kms

        return kms.decrypt(_aws_connection(conn, wrap), wrap.key, ciphertext, CONTEXT)
    if wrap.provider == "azure":
        from multicloud.clouds.azure import keyvault

        return keyvault.unwrap(conn, wrap.key, ciphertext)
    from multicloud.clouds.gcp import kms as gcp_kms

    return gcp_kms.decrypt(conn, wrap.key, ciphertext, _aad(), endpoint=wrap.endpoint)


def _aad() -> bytes:
    return "&".join(f"{k}={v}" for k, v in sorted(CONTEXT.items())).encode()


def _aws_connection(conn, wrap: KmsWrap):
    return conn.model_copy(update={"endpoint": wrap.endpoint}) if wrap.endpoint else conn


def _read(location: WrappedLocation, profile: Profile) -> bytes | None:
    store = open_store(location.parent, profile=profile)
    try:
        with store.open(location.key) as reader:
            return reader.read(MAX_DOCUMENT_BYTES + 1)
    except NotFound:
        return None


def _store(location: WrappedLocation, profile: Profile, document: bytes) -> bool:
    """Write the document if the location has none; False when another run wrote one first."""
    import io

    store = open_store(location.parent, profile=profile)
    try:
        store.write(location.key, io.BytesIO(document), size=len(document), content_type="application/json",
                    if_absent=True)
    except AlreadyExists:
        return False
    return True


def _where(location: WrappedLocation) -> str:
    return f"{redact_url(location.parent)}{location.key}"


def _open(wrap: KmsWrap, profile: Profile, document: bytes, location: WrappedLocation, plan: str) -> str:
    wrapped = decode_wrapped(document, _where(location))
    if wrapped.provider != wrap.provider:
        raise InvalidInput(f"plan {plan!r}: the password beside {location.repository} was wrapped by "
                           f"{wrapped.provider}, the plan names {wrap.provider}", target=plan)
    try:
        return _unwrap(wrap, profile, wrapped.ciphertext).decode("utf-8")
    except StoreError as exc:
        raise type(exc)(f"plan {plan!r}: the password beside {location.repository} (wrapped by {wrapped.key}) "
                        f"does not unwrap with {wrap.key}: {exc}", target=plan) from exc
    except UnicodeDecodeError:
        raise InvalidInput(f"plan {plan!r}: the password beside {location.repository} unwraps to bytes that "
                           "are not text", target=plan) from None


def _locations(repositories: list[str], plan: str) -> list[WrappedLocation]:
    try:
        return [wrapped_location(r) for r in repositories]
    except InvalidInput as exc:
        raise InvalidInput(f"plan {plan!r}: {exc}", target=plan) from None


def _from_kms(wrap: KmsWrap, profile: Profile, repositories: list[str], plan: str, create: bool) -> str:
    locations = _locations(repositories, plan)
    for _attempt in range(2):  # a second pass only when another run stored its password first
        documents = [_read(loc, profile) for loc in locations]
        found = next(((loc, doc) for loc, doc in zip(locations, documents) if doc is not None), None)
        if found is not None:
            password, document = _open(wrap, profile, found[1], found[0], plan), found[1]
        elif create:
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            document = WrappedPassword(wrap.provider, wrap.key, _wrap(wrap, profile, password.encode())).encode()
        else:
            raise NotFound(f"plan {plan!r}: no wrapped password beside {repositories[0]} "
                           f"({_where(locations[0])})", target=plan)
        if not create or _spread(wrap, profile, locations, documents, document, password, plan):
            return password
    raise Transient(f"plan {plan!r}: the wrapped password kept changing while it was stored", target=plan)


def _spread(wrap: KmsWrap, profile: Profile, locations: list[WrappedLocation], documents: list[bytes | None],
            document: bytes, password: str, plan: str) -> bool:
    """Store `document` where it is missing; a location holding another document must open to the
    same password (mirrors share one). False when another run stored a password first."""
    for location, existing in zip(locations, documents):
        if existing is None:
            if not _store(location, profile, document):
                return False
        elif existing != document and _open(wrap, profile, existing, location, plan) != password:
            raise InvalidInput(f"plan {plan!r}: the repositories' wrapped passwords differ ({location.repository} "
                               "holds another): they cannot be mirrors of one another", target=plan)
    return True
