"""Reading a model's reply: the ``<thought>``/``<action>`` tags, JSON repair, and the checks
shared by the stages (allowed action names, titled entries).

A rejected reply raises ``ActionError`` with the reason; the machine records it in the step
and retries or falls back. Nothing here ever lets a stray tag reach the report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import json_repair

from ..language import language_problem

_THINK = re.compile(r"<think>.*?(?:</think>|(?=<thought>|<action>)|$)", re.DOTALL | re.IGNORECASE)
_THOUGHT = re.compile(r"<thought>(.*?)(?:</thought>|(?=<action>))", re.DOTALL | re.IGNORECASE)
_ACTION = re.compile(r"<action>(.*?)(?:</action>|$)", re.DOTALL | re.IGNORECASE)
TAG = re.compile(r"</?(?:think|thought|action|answer|tool_call|im_start|im_end)[^>]*>", re.IGNORECASE)


def strip_tags(text: str) -> str:
    """``text`` without reply tags, removed until none is left: one pass would turn
    ``<thou<thought>ght>`` into a tag."""
    while True:
        stripped = TAG.sub("", text)
        if stripped == text:
            return text
        text = stripped


class ActionError(ValueError):
    """The reply does not carry a valid action for this phase."""


@dataclass
class Reply:
    """A model reply split into its thought and its action text."""

    thought: str
    action_text: str
    closed: bool
    """Whether ``</action>`` was present (a reply cut off at the token limit lacks it)."""
    raw_action: str = ""
    """The text between the action tags as written (a choice is read exactly as written)."""


def split_reply(text: str) -> Reply:
    """Find the thought and the action, dropping ``<think>`` blocks the model may add."""
    text = _THINK.sub("", text)
    thought_match = _THOUGHT.search(text)
    thought = strip_tags(thought_match.group(1)).strip() if thought_match else ""
    action_match = _ACTION.search(text)
    if not action_match:
        raise ActionError("no <action> tag in the reply")
    closed = bool(re.search(r"</action>", text[action_match.start():], re.IGNORECASE))
    return Reply(thought=thought, action_text=action_match.group(1).strip(), closed=closed,
                 raw_action=action_match.group(1))


def parse_json_action(text: str, allowed: tuple[str, ...], closed: bool = True) -> dict[str, Any]:
    """The action's JSON object, named one of ``allowed``; broken JSON from small models is
    repaired when possible, but not JSON cut off before ``</action>`` (the token limit):
    a repaired half plan would pass for a whole one."""
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        if not closed:
            raise ActionError("the action was cut off before </action>") from None
        try:
            data = json_repair.loads(text)
        except RecursionError:
            raise ActionError("the action nests too deeply to be read") from None
    except RecursionError:
        raise ActionError("the action nests too deeply to be read") from None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise ActionError("the action is not a JSON object")
    name = str(data.get("name", "")).strip().lower().replace("_", "-")
    if not name:
        raise ActionError("the action has no name")
    if name not in allowed:
        raise ActionError(f"action {name!r} is not allowed here; expected {' or '.join(allowed)}")
    data["name"] = name
    return data


def clean_text(value: Any, what: str, limit: int = 400) -> str:
    """A non-empty string field, tags removed, cut to ``limit`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise ActionError(f"{what} must be a non-empty string")
    return strip_tags(value).strip()[:limit]


def titled_entries(items: Any, low: int, high: int, what: str) -> list[dict[str, str]]:
    """Entries with a title and a plan; a repeated title is dropped before counting."""
    if not isinstance(items, list):
        raise ActionError(f"{what} must be a list")
    out: dict[str, dict[str, str]] = {}
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ActionError(f"{what} entry {i} is not an object")
        title = clean_text(item.get("title"), f"{what} entry {i} title", 200)
        plan = clean_text(item.get("plan"), f"{what} entry {i} plan")
        out.setdefault(" ".join(title.lower().split()), {"title": title, "plan": plan})
    if not low <= len(out) <= high:
        repeated = f" ({len(items) - len(out)} repeated a title)" if len(out) < len(items) else ""
        raise ActionError(f"{what} must have {low} to {high} distinct entries, got {len(out)}{repeated}")
    return list(out.values())


def check_language(texts: list[str], language: str) -> None:
    """Titles and plans (or keywords) together must be in the question's language."""
    problem = language_problem("\n".join(texts), language)
    if problem:
        raise ActionError(problem)
