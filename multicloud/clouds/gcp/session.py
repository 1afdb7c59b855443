"""Cloud Storage clients built from a connection, one per connection: anonymous for the emulator or
application default credentials, a pooled requests session, the connection's timeouts, and the
SDK's background bucket-metadata fetch switched off."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import google.auth
import requests
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from requests.adapters import HTTPAdapter

from multicloud.clouds.gcp.errors import map_error
from multicloud.clouds.credential_blocks import block_credentials
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput

# requests keeps 10 connections per host by default; the delete pool alone runs 16 at once.
_HTTP_POOL = 32


@dataclass(frozen=True)
class Api:
    """One connection's client, its HTTP session and the (connect, read) timeouts of every request."""

    client: storage.Client
    session: requests.Session  # the client's transport; resumable uploads use it directly
    timeout: tuple[float, float]


_APIS: dict[str, Api] = {}
_APIS_LOCK = threading.Lock()


def _new_api(conn: Connection) -> Api:
    options = {"api_endpoint": conn.endpoint} if conn.endpoint else None
    if conn.credentials == "emulator":
        if not conn.endpoint:
            raise InvalidInput("an emulator connection needs an endpoint", target=conn.name)
        session: requests.Session = requests.Session()
        client = storage.Client(
            project=conn.account, credentials=AnonymousCredentials(), client_options=options, _http=session
        )
    elif conn.credentials == "default":
        credentials, project = google.auth.default(scopes=storage.Client.SCOPE)
        session = AuthorizedSession(credentials)
        client = storage.Client(
            project=conn.account or project, credentials=credentials, client_options=options, _http=session
        )
    elif conn.credentials == "block":
        credentials, project = _block_credentials(conn)
        session = AuthorizedSession(credentials)
        client = storage.Client(
            project=conn.account or project, credentials=credentials, client_options=options, _http=session
        )
    else:
        raise InvalidInput(f"credentials {conn.credentials!r} are not available for GCP", target=conn.name)
    # Otherwise the SDK starts a background, self-retrying bucket GET per bucket (for tracing
    # attributes), outside our timeouts and retry policy. Switched off per client, not through
    # the process environment.
    client._bucket_metadata_cache = None
    adapter = HTTPAdapter(pool_maxsize=_HTTP_POOL)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return Api(client, session, (conn.connect_timeout_seconds, conn.timeout_seconds))


def _block_credentials(conn: Connection):
    """Service-account credentials (and project) from the connection's GcpCredentials-shaped block."""
    from google.oauth2 import service_account

    block = block_credentials(conn)
    if not block.has("service_account_info"):
        raise InvalidInput(f"credentials block {block.block} holds no service_account_info", target=conn.name)
    info = block.get("service_account_info")
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=storage.Client.SCOPE)
    except (ValueError, KeyError) as exc:
        # Only the error's type: its text could quote the key.
        raise InvalidInput(f"credentials block {block.block}: service_account_info is not a service account key "
                           f"({type(exc).__name__})", target=conn.name) from None
    return credentials, block.get("project") or info.get("project_id")


def api_for(conn: Connection) -> Api:
    """The shared client of `conn`, made on first use. Raises PermissionDenied without credentials."""
    key = conn.model_dump_json()
    with _APIS_LOCK:
        api = _APIS.get(key)
        if api is None:
            try:
                api = _new_api(conn)
            except Exception as exc:
                mapped = map_error(exc, conn.name)
                if mapped is exc:
                    raise
                raise mapped from exc
            _APIS[key] = api
    return api
