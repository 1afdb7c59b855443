"""Report files (charts, CSV) written to an object store, each with a link a person's browser
opens from the Prefect UI: signed where the store can sign (S3 presign, Azure SAS, GCS signed
URL), a data URI for a chart on a store that cannot (memory, local folder)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from multicloud.core.objects import ObjectStore

#: S3 SigV4 and GCS V4 signed URLs live at most 7 days; an Azure SAS is given the same.
LINK_LIFETIME = timedelta(days=7)
# A chart inlined as a data URI goes into the artifact row in the Prefect database: keep it small.
_INLINE_LIMIT = 2 << 20


@dataclass(frozen=True)
class ReportFile:
    """One written file: its store URL (where it lives), the link a browser opens, and when that
    link stops working (None: it does not expire)."""

    name: str
    url: str
    link: str
    content_type: str
    expires: datetime | None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def opens_in_browser(self) -> bool:
        return self.link.startswith(("http://", "https://", "data:"))


def publish_files(store: ObjectStore, prefix: str, files: dict[str, tuple[bytes, str]], now: datetime,
                  lifetime: timedelta = LINK_LIFETIME) -> list[ReportFile]:
    """Write each `name: (body, content_type)` under `prefix/` and return its links, in order.
    Raises what the store's `write` raises (PermissionDenied, Transient...)."""
    written = []
    for name, (body, content_type) in files.items():
        key = f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name
        store.write(key, io.BytesIO(body), size=len(body), content_type=content_type)
        link, expires = browser_link(store, key, body, content_type, now, lifetime)
        written.append(ReportFile(name, f"{store.url.rstrip('/')}/{key}", link, content_type, expires))
    return written


def browser_link(store: ObjectStore, key: str, body: bytes, content_type: str, now: datetime,
                 lifetime: timedelta = LINK_LIFETIME) -> tuple[str, datetime | None]:
    """(link, expiry) of a stored file: a signed URL where the store signs (the `signed_urls`
    capability), else a data URI for a small image, else the store URL (not a browser link)."""
    if store.capabilities.signed_urls:
        return store.signed_url(key, int(lifetime.total_seconds())), now + lifetime
    if content_type.startswith("image/") and len(body) <= _INLINE_LIMIT:
        return f"data:{content_type};base64,{base64.b64encode(body).decode()}", None
    return f"{store.url.rstrip('/')}/{key}", None
