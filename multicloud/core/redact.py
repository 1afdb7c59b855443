"""URLs as they may be shown: without userinfo, query or fragment, which can carry credentials
(tokens in a query string, passwords in `user:pass@`)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """`url` with its userinfo, query and fragment replaced by `<redacted>`; unparseable text is
    replaced whole. Safe for logs, journals, artifacts and error messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<redacted url>"
    if not parts.scheme or not parts.netloc:
        return url if "?" not in url and "@" not in url else "<redacted url>"
    netloc = ("<redacted>@" if "@" in parts.netloc else "") + (f"[{host}]" if ":" in host else host)
    netloc += f":{port}" if port is not None else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "<redacted>" if parts.query else "",
                       "<redacted>" if parts.fragment else ""))
