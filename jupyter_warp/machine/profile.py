"""How the engine talks to one model, chosen once per run from the backend and the settings.

A tiny model (the embedded SmolLM2-135M) answers in the action format only under a bounded
grammar (DESIGN.md's measurements); that grammar would cut a capable model's long analytical
sections, tables and ``\\cite{}`` citations, so every other model gets at most the skeleton
grammar (tags and JSON shape, a free Markdown body). The same model cannot write analysis
but can choose (DESIGN.md, "Grammar: only where it helps"), so it also gets search assist
(the engine's own query beside its keywords, planning by choosing among headings) and quote
mode (its sections are sentences of the passages, chosen by number). Capable models get
neither: the reference trusts them with their own keywords and their own prose. This module
is the one place that decides per model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..config import WarpConfig
from ..errors import ConfigError

BOUNDED_MODELS = re.compile(r"smollm", re.IGNORECASE)
"""Model names that need the bounded grammar: the embedded SmolLM2 family (135M to 1.7B)."""


@dataclass(frozen=True)
class ModelProfile:
    """What the engine does differently for one model."""

    model: str
    """The model's name as the backend knows it (a spec, a file name, a served id)."""
    needs_bounded_grammar: bool
    """A small model that follows the action format only under the bounded grammar."""
    grammar: str
    """The grammar sent with each request: ``full`` (bounded), ``skeleton`` or ``off``."""
    enable_thinking: bool
    """Whether the chat template's thinking mode is on (off as in the reference system)."""
    assist: bool = False
    """Search assist and planning by choice (``assist`` setting)."""
    write_mode: str = "free"
    """``quote`` (sentences of the passages, chosen by number) or ``free`` (the model writes);
    always ``free`` without a grammar, which alone holds a reply to the numbers shown."""

    @property
    def constrained(self) -> bool:
        """Whether requests carry a grammar at all."""
        return self.grammar != "off"


def choose_profile(model: str, supports_grammar: bool, config: WarpConfig) -> ModelProfile:
    """The profile for ``model`` under ``config``: ``constrained=auto`` picks the bounded
    grammar for models that need it and the skeleton for every other one; a backend that
    enforces no grammar gets none. ``assist=auto`` and ``write_mode=auto`` turn assist and
    quote mode on for the same models only."""
    bounded = bool(BOUNDED_MODELS.search(model))
    mode = config.constrained
    if mode == "auto":
        mode = "full" if bounded else "skeleton"
    if not supports_grammar:
        mode = "off"
    assist = config.assist == "on" or (config.assist == "auto" and bounded)
    write_mode = config.write_mode if config.write_mode != "auto" else ("quote" if bounded else "free")
    if mode == "off":
        write_mode = "free"  # without a grammar a reply cannot be held to the numbers shown
    return ModelProfile(model=model, needs_bounded_grammar=bounded, grammar=mode,
                        enable_thinking=config.enable_thinking, assist=assist, write_mode=write_mode)


def model_name(backend: object) -> str:
    """What identifies a backend's model: its name and, for a server, the served model id."""
    parts = [str(getattr(backend, "name", ""))]
    served = getattr(type(backend), "model", None)
    if isinstance(served, property):
        try:
            parts.append(str(backend.model))  # type: ignore[attr-defined]
        except Exception:  # an unreachable server: the run's first request says so
            pass
    return " ".join(p for p in parts if p)


def backend_options(config: WarpConfig) -> dict[str, Any]:
    """The options the backend is opened with: ``backend_options``, plus ``enable_thinking``
    when the setting turns thinking on, for every backend that takes it (they all default to
    off; an explicit backend option wins)."""
    options = dict(config.backend_options)
    if config.enable_thinking and "enable_thinking" not in options:
        from ..llm.registry import parse_spec, registry

        try:
            name = parse_spec(config.model)[0]
            known: Iterable[str] | None = registry.options(name)
            if known is None:  # it passes options on (vLLM's engine arguments): does it name this one?
                known = registry.named_options(name)
        except (ConfigError, ImportError):
            known = []
        if "enable_thinking" in known:
            options["enable_thinking"] = config.enable_thinking
    return options
