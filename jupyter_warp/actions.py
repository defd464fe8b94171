"""Reply parsing and validation: ``<thought>``/``<action>`` tags, JSON repair, and the
checks each state applies ("hard mode" of the reference system).

A rejected reply raises ``ActionError`` with the reason; the policy records it in the step
and retries or falls back. Nothing here ever lets a stray tag reach the report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

import json_repair

from .citations import CheckedText, check_citations
from .config import WarpConfig
from .errors import ConfigError
from .report import Report, parse_position

STATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "search": ("search",),
    "init_plan": ("init-plan",),
    "write": ("write",),
    "extend_plan": ("extend-plan", "nop"),
}

_THINK = re.compile(r"<think>.*?(?:</think>|(?=<thought>|<action>)|$)", re.DOTALL | re.IGNORECASE)
_THOUGHT = re.compile(r"<thought>(.*?)(?:</thought>|(?=<action>))", re.DOTALL | re.IGNORECASE)
_ACTION = re.compile(r"<action>(.*?)(?:</action>|$)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?(?:think|thought|action|answer|tool_call|im_start|im_end)[^>]*>", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_HEADING = re.compile(r"^\s{0,3}#", re.MULTILINE)


class ActionError(ValueError):
    """The reply does not carry a valid action for this state."""


@dataclass
class Reply:
    thought: str
    action_text: str
    closed: bool
    """Whether ``</action>`` was present (a reply cut off at the token limit lacks it)."""


def split_reply(text: str) -> Reply:
    """Find the thought and the action, dropping ``<think>`` blocks the model may add."""
    text = _THINK.sub("", text)
    thought_match = _THOUGHT.search(text)
    thought = _TAG.sub("", thought_match.group(1)).strip() if thought_match else ""
    action_match = _ACTION.search(text)
    if not action_match:
        raise ActionError("no <action> tag in the reply")
    closed = bool(re.search(r"</action>", text[action_match.start():], re.IGNORECASE))
    return Reply(thought=thought, action_text=action_match.group(1).strip(), closed=closed)


def parse_json_action(text: str) -> dict[str, Any]:
    """The action's JSON object; broken JSON from small models is repaired when possible."""
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = json_repair.loads(text)
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise ActionError("the action is not a JSON object")
    name = str(data.get("name", "")).strip().lower().replace("_", "-")
    if not name:
        raise ActionError("the action has no name")
    data["name"] = name
    return data


def _text(value: Any, what: str, limit: int = 400) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ActionError(f"{what} must be a non-empty string")
    return _TAG.sub("", value).strip()[:limit]


def _sections(items: Any, low: int, high: int, what: str) -> list[dict[str, str]]:
    """Entries with a title and a plan; a repeated title is dropped before counting."""
    if not isinstance(items, list):
        raise ActionError(f"{what} must be a list")
    out: dict[str, dict[str, str]] = {}
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ActionError(f"{what} entry {i} is not an object")
        title = _text(item.get("title"), f"{what} entry {i} title", 200)
        plan = _text(item.get("plan") or item.get("title"), f"{what} entry {i} plan")
        out.setdefault(" ".join(title.lower().split()), {"title": title, "plan": plan})
    if not low <= len(out) <= high:
        repeated = f" ({len(items) - len(out)} repeated a title)" if len(out) < len(items) else ""
        raise ActionError(f"{what} must have {low} to {high} distinct entries, got {len(out)}{repeated}")
    return list(out.values())


def check_name(action: dict[str, Any], state: str) -> None:
    allowed = STATE_ACTIONS[state]
    if action["name"] not in allowed:
        raise ActionError(f"action {action['name']!r} is not allowed here; expected {' or '.join(allowed)}")


def validate_search(action: dict[str, Any], config: WarpConfig) -> dict[str, Any]:
    check_name(action, "search")
    keywords = action.get("keywords")
    if isinstance(keywords, str):
        keywords = [keywords]
    if not isinstance(keywords, list):
        raise ActionError("keywords must be a list of strings")
    seen: dict[str, None] = {}
    for kw in keywords:
        if isinstance(kw, str) and kw.strip():
            seen.setdefault(_TAG.sub("", kw).strip()[:200], None)
    if not seen:
        raise ActionError("search needs 1 to 5 non-empty keywords")
    if len(seen) > config.max_keywords:
        raise ActionError(f"search takes at most {config.max_keywords} keywords, got {len(seen)}")
    return {"name": "search", "keywords": list(seen)}


def validate_init_plan(action: dict[str, Any], config: WarpConfig) -> dict[str, Any]:
    check_name(action, "init_plan")
    sections = _sections(action.get("sections"), config.min_sections, config.max_sections, "sections")
    return {"name": "init-plan", "title": _text(action.get("title"), "title", 300), "sections": sections}


def validate_extend(action: dict[str, Any], report: Report, config: WarpConfig) -> dict[str, Any]:
    check_name(action, "extend_plan")
    if action["name"] == "nop":
        return {"name": "nop"}
    position = str(action.get("position", "")).strip().lower()
    try:
        depth = len(parse_position(position))
    except ConfigError as exc:
        raise ActionError(str(exc)) from None
    if not report.has(position):
        raise ActionError(f"position {position} does not exist")
    node = report.find(position)
    if node.children:
        raise ActionError(f"{position} already has subsections")
    if node.locked:
        raise ActionError(f"{position} is locked")
    if depth >= config.max_depth:
        raise ActionError(f"{position} is at the deepest level ({config.max_depth})")
    subsections = _sections(action.get("subsections"), config.min_subsections, config.max_subsections, "subsections")
    return {"name": "extend-plan", "position": position, "subsections": subsections}


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among letters (digits, spaces and punctuation not counted)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _CJK.match(c)) / len(letters)


def query_language(query: str) -> str:
    """``zh`` when the question is mostly Chinese, else ``en``; the report follows it."""
    return "zh" if cjk_ratio(query) > 0.3 else "en"


def validate_write(body: str, allowed: Iterable[int], language: str, config: WarpConfig) -> CheckedText:
    """Check a section body; return it with citations normalised to ``[k]``."""
    body = _TAG.sub("", body).strip()
    if _HEADING.search(body):
        raise ActionError("a section must not contain # headings")
    checked = check_citations(body, allowed)
    if len(checked.text) <= config.min_section_chars:
        raise ActionError(f"the section is too short ({len(checked.text)} characters)")
    if not 1 <= len(checked.cited) <= config.max_cites:
        raise ActionError(
            f"a section must cite 1 to {config.max_cites} of the passages shown, cited {len(checked.cited)}"
            + (f" (and {checked.removed} unknown)" if checked.removed else "")
        )
    ratio = cjk_ratio(re.sub(r"\[\d+\]", "", checked.text))
    if language == "zh" and ratio < 0.6:
        raise ActionError(f"the question is in Chinese but the section is {ratio:.0%} Chinese")
    if language == "en" and ratio > 0.01:
        raise ActionError(f"the question is in English but the section is {ratio:.0%} CJK")
    return checked
