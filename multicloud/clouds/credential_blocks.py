"""Cloud credentials kept in Prefect blocks, as an alternative to each SDK's default chain: a
connection with `credentials: block` names a block document (`type-slug/name`) on the Prefect
server. The project's own block types are here; the Prefect integrations' `aws-credentials`
(prefect-aws), `azure-blob-storage-credentials` (prefect-azure) and `gcp-credentials` (prefect-gcp)
documents are read by their field names, so those packages need not be installed. Secrets stay
in `SecretStr` / `SecretDict` values: no repr, log or error shows them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from prefect.blocks.core import Block
from prefect.types import SecretDict
from pydantic import Field, SecretStr

from multicloud.config import Connection
from multicloud.core.errors import InvalidInput


class MulticloudAwsCredentials(Block):
    """AWS access keys for a multicloud-ops connection (the fields of prefect-aws's AwsCredentials)."""

    _block_type_slug = "multicloud-aws-credentials"
    _block_type_name = "Multicloud AWS Credentials"
    aws_access_key_id: str | None = Field(default=None, description="Access key id.")
    aws_secret_access_key: SecretStr | None = Field(default=None, description="Secret access key.")
    aws_session_token: SecretStr | None = Field(default=None, description="Session token of temporary keys.")
    profile_name: str | None = Field(default=None, description="A named profile instead of keys.")
    region_name: str | None = Field(default=None, description="Region when the connection names none.")


class MulticloudAzureCredentials(Block):
    """Azure Storage credentials: an account key, a connection string, or a service principal."""

    _block_type_slug = "multicloud-azure-credentials"
    _block_type_name = "Multicloud Azure Credentials"
    account_name: str | None = Field(default=None, description="Storage account (with account_key).")
    account_key: SecretStr | None = Field(default=None, description="Storage account key.")
    connection_string: SecretStr | None = Field(default=None, description="A storage connection string.")
    tenant_id: str | None = Field(default=None, description="Service principal: tenant.")
    client_id: str | None = Field(default=None, description="Service principal: application (client) id.")
    client_secret: SecretStr | None = Field(default=None, description="Service principal: client secret.")


class MulticloudGcpCredentials(Block):
    """A Google service account key (the fields of prefect-gcp's GcpCredentials)."""

    _block_type_slug = "multicloud-gcp-credentials"
    _block_type_name = "Multicloud GCP Credentials"
    service_account_info: SecretDict | None = Field(default=None, description="The service account JSON key.")
    project: str | None = Field(default=None, description="Project when the connection names none.")


#: Block types a connection of each cloud may name: ours, and the Prefect integration's.
BLOCK_TYPES = {
    "aws": ("multicloud-aws-credentials", "aws-credentials"),
    "azure": ("multicloud-azure-credentials", "azure-blob-storage-credentials"),
    "gcp": ("multicloud-gcp-credentials", "gcp-credentials"),
}
_SECRET_FIELDS = {"aws_secret_access_key", "aws_session_token", "account_key", "connection_string", "client_secret",
                  "service_account_info"}


@dataclass(frozen=True)
class BlockCredentials:
    """The fields of one credential block document; secret ones wrapped so they never print."""

    block: str
    values: dict = field(repr=False)

    def get(self, name: str):
        """The field's value, unwrapped (None when absent)."""
        value = self.values.get(name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    def has(self, *names: str) -> bool:
        return all(self.values.get(n) not in (None, "", {}) for n in names)


_CACHE: dict[str, BlockCredentials] = {}
_LOCK = threading.Lock()


def block_credentials(conn: Connection) -> BlockCredentials:
    """The block document `conn.block` names, read once per process from the Prefect server.
    Raises InvalidInput naming the connection and block when it is missing or of a type that
    does not hold this cloud's credentials."""
    name = conn.block or ""
    slug, _, doc = name.partition("/")
    if slug not in BLOCK_TYPES[conn.cloud] or not doc:
        raise InvalidInput(f"credentials block {name!r} is not one of {', '.join(t + '/NAME' for t in BLOCK_TYPES[conn.cloud])}",
                           target=conn.name)
    with _LOCK:
        if name not in _CACHE:
            _CACHE[name] = BlockCredentials(name, _read_document(slug, doc, conn.name))
        return _CACHE[name]


def _read_document(slug: str, doc: str, connection: str) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            found = client.read_block_document_by_name(doc, block_type_slug=slug, include_secrets=True)
        except ObjectNotFound:
            raise InvalidInput(f"credentials block {slug}/{doc} does not exist on the Prefect server",
                               target=connection) from None
    return {k: SecretStr(v) if k in _SECRET_FIELDS and isinstance(v, str) else v for k, v in found.data.items()}


def forget_cached() -> None:
    """Drop the blocks read so far (after a block is rotated, or between tests)."""
    with _LOCK:
        _CACHE.clear()
