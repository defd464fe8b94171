"""The report tree: nodes addressed by position (``section-2.1``), the pre-order cursor,
and the edits the machine and the user make. Renderings live in ``render`` (the report,
the outline) and ``prompts.variables`` (the condensed view in prompts).

Positions are derived from the tree's shape, so they shift when a user deletes or adds a
node; every node also has a stable ``id`` that the run state uses for its cursor.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import ConfigError


class NodeStatus(str, Enum):
    """Where a node of the report stands (a run's status is ``machine.RunStatus``)."""

    PLANNED = "planned"
    WRITTEN = "written"
    FAILED = "failed"
    """The engine gave up on it (no passages, or no valid text)."""

    def __str__(self) -> str:
        return self.value


PLANNED, WRITTEN, FAILED = NodeStatus.PLANNED, NodeStatus.WRITTEN, NodeStatus.FAILED

_POSITION = re.compile(r"^section-(\d+(?:\.\d+)*)$", re.IGNORECASE)


def _new_id() -> str:
    return uuid.uuid4().hex[:10]


def parse_position(position: str) -> list[int]:
    """``"section-2.1"`` -> ``[2, 1]``; raises ConfigError on anything else."""
    match = _POSITION.match(position.strip())
    if not match:
        raise ConfigError(f"bad position {position!r}: use the form section-2 or section-2.1")
    return [int(part) for part in match.group(1).split(".")]


def format_position(path: list[int]) -> str:
    """Inverse of ``parse_position``: ``[2, 1]`` -> ``"section-2.1"``."""
    return "section-" + ".".join(str(i) for i in path)


@dataclass
class Node:
    """A section: planned (title and plan), then written (text with ``[key]`` citations)."""

    title: str
    plan: str = ""
    text: str = ""
    status: NodeStatus = PLANNED
    locked: bool = False
    """Set by the user: the engine never rewrites or extends a locked node."""
    citations: list[int] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    id: str = field(default_factory=_new_id)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the run state, children included."""
        return {
            "id": self.id,
            "title": self.title,
            "plan": self.plan,
            "text": self.text,
            "status": self.status,
            "locked": self.locked,
            "citations": list(self.citations),
            "note": self.note,
            "children": [c.to_dict() for c in self.children],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        """Inverse of ``to_dict``; a node saved without an id gets a new one."""
        return cls(
            title=data["title"],
            plan=data.get("plan", ""),
            text=data.get("text", ""),
            status=NodeStatus(data.get("status", PLANNED)),
            locked=data.get("locked", False),
            citations=list(data.get("citations", [])),
            children=[cls.from_dict(c) for c in data.get("children", [])],
            id=data.get("id") or _new_id(),
            note=data.get("note", ""),
        )


@dataclass
class Report:
    """The whole report: a title and a list of top-level sections."""

    query: str
    title: str = ""
    sections: list[Node] = field(default_factory=list)

    def walk(self) -> Iterator[tuple[str, Node, int]]:
        """Every node in pre-order as ``(position, node, depth)``; depth 1 is top level."""

        def visit(nodes: list[Node], prefix: list[int]) -> Iterator[tuple[str, Node, int]]:
            for i, node in enumerate(nodes, 1):
                path = prefix + [i]
                yield format_position(path), node, len(path)
                yield from visit(node.children, path)

        yield from visit(self.sections, [])

    def _siblings(self, position: str) -> tuple[list[Node], int]:
        """The list holding the node at ``position`` and its index in it."""
        path = parse_position(position)
        nodes = self.sections
        for depth, i in enumerate(path):
            if not 1 <= i <= len(nodes):
                raise ConfigError(f"no node at {position}: the outline has {self.positions() or 'no sections'}")
            if depth == len(path) - 1:
                return nodes, i - 1
            nodes = nodes[i - 1].children
        raise ConfigError(f"no node at {position}")

    def find(self, position: str) -> Node:
        """The node at ``position``; a ConfigError names the positions that exist."""
        nodes, i = self._siblings(position)
        return nodes[i]

    def has(self, position: str) -> bool:
        """Whether ``position`` names a node, for checks that must not raise."""
        try:
            self.find(position)
        except ConfigError:
            return False
        return True

    def positions(self) -> list[str]:
        """Every position in pre-order, as error messages list them."""
        return [pos for pos, _, _ in self.walk()]

    def by_id(self, node_id: str | None) -> tuple[str, Node, int] | None:
        """The entry of the node with this stable id (the run's cursor), or None once it is deleted."""
        for entry in self.walk():
            if entry[1].id == node_id:
                return entry
        return None

    def next_unwritten(self) -> tuple[str, Node, int] | None:
        """The cursor: the first planned, unlocked node in pre-order."""
        for entry in self.walk():
            if entry[1].status == PLANNED and not entry[1].locked:
                return entry
        return None

    def extendable(self, max_depth: int) -> list[str]:
        """Positions the deepening step may split: written leaves above the depth limit."""
        return [
            pos
            for pos, node, depth in self.walk()
            if not node.children and not node.locked and node.status == WRITTEN and depth < max_depth
        ]

    # The policy's edits.
    def init_plan(self, title: str, sections: list[dict[str, str]]) -> list[str]:
        """The first outline; sections a user added before it stay first."""
        self.title = title
        kept = len(self.sections)
        self.sections.extend(Node(title=s["title"], plan=s.get("plan", "")) for s in sections)
        return [f"title: {title}"] + [f"+ section-{i} {n.title}" for i, n in enumerate(self.sections[kept:], kept + 1)]

    def write(self, position: str, text: str, citations: list[int]) -> list[str]:
        """Store a section's text and citations and mark it written; returns the log line."""
        node = self.find(position)
        node.text, node.citations, node.status, node.note = text, citations, WRITTEN, ""
        return [f"wrote {position} {node.title} ({len(text)} chars, {len(citations)} citations)"]

    def fail(self, position: str, reason: str) -> list[str]:
        """Give up on a node, keeping the reason for the outline; returns the log line."""
        node = self.find(position)
        node.status, node.note = FAILED, reason
        return [f"gave up on {position} {node.title}: {reason}"]

    def extend(self, position: str, subsections: list[dict[str, str]]) -> list[str]:
        """Append planned subsections (the deepening step); returns the log lines."""
        node = self.find(position)
        node.children.extend(Node(title=s["title"], plan=s.get("plan", "")) for s in subsections)
        first = len(node.children) - len(subsections) + 1
        return [f"+ {position}.{i} {s['title']}" for i, s in enumerate(subsections, first)]

    # The user's edits, between steps.
    def rename(self, position: str, title: str) -> list[str]:
        """A user's new title for a node; returns the log line."""
        node = self.find(position)
        old, node.title = node.title, title
        return [f"renamed {position} {old!r} -> {title!r}"]

    def replan(self, position: str, plan: str, rewrite: bool = False) -> list[str]:
        """Change a node's plan; ``rewrite`` also clears its text so the engine writes it again."""
        node = self.find(position)
        node.plan = plan
        if rewrite and not node.locked:
            node.text, node.citations, node.status = "", [], PLANNED
        return [f"re-planned {position}" + (" (to be rewritten)" if rewrite else "")]

    def delete(self, position: str) -> list[str]:
        """Remove a node with its subtree; the positions after it shift up."""
        nodes, i = self._siblings(position)
        node = nodes.pop(i)
        return [f"deleted {position} {node.title}"]

    def lock(self, position: str, locked: bool = True) -> list[str]:
        """Lock or unlock a node: the engine never rewrites or extends a locked one."""
        self.find(position).locked = locked
        return [f"{'locked' if locked else 'unlocked'} {position}"]

    def add(self, title: str, plan: str = "", parent: str | None = None, index: int | None = None) -> list[str]:
        """Add a planned node under ``parent`` (top level when None), at ``index`` or last."""
        nodes = self.find(parent).children if parent else self.sections
        if parent and len(parse_position(parent)) >= 3:
            raise ConfigError(f"{parent} is at the deepest level (3); add the node beside it instead")
        at = len(nodes) if index is None else max(0, min(index, len(nodes)))
        nodes.insert(at, Node(title=title, plan=plan))
        prefix = parse_position(parent) if parent else []
        return [f"+ {format_position(prefix + [at + 1])} {title}"]

    # Reading and saving.
    def citation_order(self) -> list[int]:
        """Cited keys in order of first use through the document."""
        seen: dict[int, None] = {}
        for _, node, _ in self.walk():
            for key in node.citations:
                seen.setdefault(key, None)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the run state."""
        return {"query": self.query, "title": self.title, "sections": [s.to_dict() for s in self.sections]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Inverse of ``to_dict``."""
        return cls(
            query=data["query"],
            title=data.get("title", ""),
            sections=[Node.from_dict(s) for s in data.get("sections", [])],
        )
