"""Show a run's charts and report files in the Prefect UI: every pipeline that draws charts calls
`show_files` inside one of its tasks (costs today; rightsizing and the others the same way)."""

from __future__ import annotations

from datetime import datetime, timezone

from prefect.artifacts import create_image_artifact, create_markdown_artifact

from multicloud.clouds import open_store
from multicloud.config import Profile
from multicloud.core.names import slug
from multicloud.engine.report_files import ReportFile, publish_files
from multicloud.reports.files import files_markdown


def show_files(reports_url: str, profile: Profile, run: str, files: dict[str, tuple[bytes, str]], key: str,
               title: str, now: datetime | None = None) -> list[ReportFile]:
    """Write `files` (`name: (body, content_type)`) under `reports_url/run/`, then publish the
    markdown artifact `key` (charts inline, other files linked) and one image artifact per chart
    (`key-<name>`), each link opening in a browser. Call from inside a task or flow. Raises what
    the store's `write` raises."""
    written = publish_files(open_store(reports_url, profile), run, files, now or datetime.now(timezone.utc))
    if written:
        create_markdown_artifact(files_markdown(title, written), key=key, description=title)
    for f in written:
        if f.is_image and f.opens_in_browser:
            create_image_artifact(f.link, key=f"{key}-{slug(f.name.rsplit('.', 1)[0])}", description=f"{title}: {f.name}")
    return written
