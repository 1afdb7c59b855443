"""Typed configuration: connection profiles naming each cloud connection.

A profile is a list of connections. `load_profile()` reads, in order:
the YAML file named by `MULTICLOUD_PROFILE`, the local emulator profile when
`MULTICLOUD_PROFILE=local` (written by `make cloud-up`), or the default profile
that uses each SDK's default credential chain."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from multicloud.config.loading import load_yaml_model, repeated
from multicloud.core.errors import InvalidInput

Cloud = Literal["aws", "azure", "gcp"]

LOCAL_DIR_VARIABLE = "MULTICLOUD_LOCAL_DIR"


def local_state_dir() -> Path:
    """Where the local cloud stack keeps its profile, data and logs: `MULTICLOUD_LOCAL_DIR`, else
    `.local/cloud` under the working directory (the checkout, for workers and tests)."""
    return Path(os.environ.get(LOCAL_DIR_VARIABLE) or Path.cwd() / ".local" / "cloud")


class Connection(BaseModel):
    """One cloud connection. Secrets are never stored here: `credentials` names a source."""

    name: str = Field(description="Name used to pick this connection, e.g. 'aws-prod'.")
    cloud: Cloud = Field(description="Which cloud this connection talks to.")
    endpoint: str | None = Field(
        default=None,
        description="Service endpoint override (emulators, private endpoints). AWS: endpoint URL; "
        "Azure: blob endpoint URL (https://ACCOUNT.blob.core.windows.net); GCP: API endpoint.",
    )
    region: str | None = Field(default=None, description="AWS region (or the cloud's default location).")
    account: str | None = Field(
        default=None, description="AWS account id, Azure storage account name, or GCP project id."
    )
    credentials: Literal["default", "emulator", "connection-string-env", "block"] = Field(
        default="default",
        description="'default': the SDK's default credential chain (AWS profile/env/role, "
        "Azure DefaultAzureCredential, GCP application default credentials); 'emulator': the "
        "public well-known credentials of the local emulators; 'connection-string-env': Azure "
        "only, the connection string in AZURE_STORAGE_CONNECTION_STRING; 'block': the Prefect block "
        "named in `block`.",
    )
    block: str | None = Field(
        default=None, description="With credentials 'block': the Prefect block document holding the credentials, "
        "as 'type-slug/name': aws-credentials or multicloud-aws-credentials, azure-blob-storage-credentials or "
        "multicloud-azure-credentials, gcp-credentials or multicloud-gcp-credentials.")
    timeout_seconds: float = Field(default=60.0, gt=0, description="Read timeout of every request.")
    connect_timeout_seconds: float = Field(default=10.0, gt=0, description="Connect timeout of every request.")
    list_page_size: int | None = Field(
        default=None, ge=1, description="Objects per listing page; empty: the service maximum "
        "(S3 1,000, Azure 5,000, GCS 1,000).")


    @model_validator(mode="after")
    def _block_named_with_block_credentials(self) -> "Connection":
        if (self.credentials == "block") != bool(self.block):
            raise ValueError("`block` names the credentials block exactly when credentials is 'block'")
        return self


class Profile(BaseModel):
    """The connections a run may use."""

    name: str = "default"
    connections: list[Connection] = Field(default_factory=list)

    @field_validator("connections")
    @classmethod
    def _unique_names(cls, value: list[Connection]) -> list[Connection]:
        dupes = repeated(c.name for c in value)
        if dupes:
            raise ValueError(f"connection names must be unique; repeated: {', '.join(dupes)}")
        return value

    def connection_for(self, cloud: str, name: str | None = None) -> Connection:
        """The named connection, or the first one of `cloud`. Raises InvalidInput."""
        for conn in self.connections:
            if (name is None and conn.cloud == cloud) or conn.name == name:
                if conn.cloud != cloud:
                    raise InvalidInput(f"connection is for {conn.cloud}, not {cloud}", target=name)
                return conn
        wanted = f"connection {name!r}" if name else f"a {cloud} connection"
        raise InvalidInput(f"profile {self.name!r} has no {wanted}", target=self.name)


def default_profile() -> Profile:
    """AWS and GCP through their default chains; Azure when AZURE_STORAGE_ACCOUNT_URL is set."""
    conns = [Connection(name="aws", cloud="aws"), Connection(name="gcp", cloud="gcp")]
    if os.environ.get("AZURE_STORAGE_ACCOUNT_URL"):
        conns.insert(1, Connection(name="azure", cloud="azure", endpoint=os.environ["AZURE_STORAGE_ACCOUNT_URL"]))
    elif os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
        conns.insert(1, Connection(name="azure", cloud="azure", credentials="connection-string-env"))
    return Profile(name="default", connections=conns)


def read_profile(path: Path) -> Profile:
    """Parse a profile file (YAML or JSON). Raises InvalidInput naming the file and field."""
    return load_yaml_model(path, Profile, "profile")


def local_profile_path() -> Path:
    return local_state_dir() / "profile.json"


def load_profile(name: str | None = None) -> Profile:
    """The active profile: `name` or MULTICLOUD_PROFILE ('local', a file path) or the default."""
    choice = name or os.environ.get("MULTICLOUD_PROFILE", "")
    if not choice or choice == "default":
        return default_profile()
    if choice == "local":
        path = local_profile_path()
        if not path.exists():
            raise InvalidInput("local cloud stack is not running (run `make cloud-up`)", target=str(path))
        return read_profile(path)
    return read_profile(Path(choice))
