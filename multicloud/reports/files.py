"""The markdown that shows a run's report files in the Prefect UI: charts inline as images, the
other files as links, and until when the signed links open."""

from __future__ import annotations

from multicloud.engine.report_files import ReportFile


def files_markdown(title: str, files: list[ReportFile]) -> str:
    """A heading, every image inline, every other file as a link, and where each file lives."""
    lines = [f"# {title}", ""]
    for f in files:
        if f.is_image and f.opens_in_browser:
            lines += [f"## {f.name}", "", f"![{f.name}]({f.link})", ""]
    others = [f for f in files if not f.is_image]
    if others:
        lines += ["## Files", ""] + [f"- [{f.name}]({f.link})" if f.opens_in_browser else f"- {f.name}: `{f.link}`"
                                     for f in others] + [""]
    expiry = min((f.expires for f in files if f.expires), default=None)
    if expiry:
        lines.append(f"Links are signed and open until {expiry:%Y-%m-%d %H:%M} UTC; the files stay in the store:")
    else:
        lines.append("Stored at:")
    lines += [""] + [f"- `{f.url}`" for f in files]
    return "\n".join(lines) + "\n"
