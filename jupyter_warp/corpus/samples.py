"""A real document collection every machine has offline: CPython's language reference topics.

``pydoc_data.topics`` ships with CPython (it backs ``help("assignment")``): about 80 topics of
the Python Language Reference as plain text. Exported one Markdown file per topic, they make
a small collection that no one in this project wrote, for the demo and for tests.
"""

from __future__ import annotations

import re
from pathlib import Path

_UNDERLINE = re.compile(r"^([*=\-~^])\1{2,}\s*$")
_LEVEL = {"*": "#", "=": "##", "-": "###", "~": "####", "^": "####"}


def _markdown(topic: str, text: str) -> str:
    """Underlined titles become Markdown headings; the first line names the topic."""
    lines = text.splitlines()
    out: list[str] = []
    for line in lines:
        under = _UNDERLINE.match(line)
        title = out[-1] if out else ""
        above = out[-2] if len(out) > 1 else ""
        heading = bool(title.strip()) and title == title.lstrip() and not above.strip()
        if under and heading and len(line.strip()) >= len(title.strip()):
            out[-1] = f"{_LEVEL[under.group(1)]} {out[-1].strip()}"
            continue
        out.append(line)
    body = "\n".join(out).strip()
    if not body.startswith("# "):
        body = f"# {topic.replace('-', ' ')}\n\n{body}"
    return body + "\n"


def export_pydoc_topics(dest: Path) -> list[Path]:
    """Write one ``<topic>.md`` per topic under ``dest``; unchanged files are not rewritten."""
    from pydoc_data.topics import topics

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for topic in sorted(topics):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", topic) + ".md"
        path = dest / name
        data = _markdown(topic, topics[topic]).encode("utf-8")
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if not same:
            path.write_bytes(data)
        written.append(path)
    return written
