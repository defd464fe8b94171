"""One configuration record for the engine. Each field carries its help text and range
once; the command line's flags, the magic's flags and the notebook's ``Warp`` traitlets are
generated from it (``jupyter_warp.options``, ``kernel_magics.magics``)."""

from __future__ import annotations

import math
import types
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from .errors import ConfigError

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
"""How a yes/no setting may be written (``--set enable_thinking=yes``)."""
GRAMMAR_MODES = ("auto", "full", "skeleton", "off")
"""``constrained``: auto (bounded for models that need it, skeleton for the others), the
bounded grammar, the reply's shape only, or none."""
ASSIST_MODES = ("auto", "on", "off")
"""``assist``: auto (on for the embedded model, off for capable models), on, off."""
WRITE_MODES = ("auto", "quote", "free")
"""``write_mode``: auto (quote for the embedded model, free for capable models), quote, free."""
PROMPT_PROFILES = ("auto", "own", "reference")
"""``prompt_profile``: how prompt variables are rendered (``auto``: ``reference`` when
``prompts_dir`` holds the reference system's ``surveycpm_*.jinja`` templates)."""


def setting(default: Any, help: str, *, low: float | None = None, high: float | None = None,
            flag: str | None = None, choices: tuple[str, ...] | None = None) -> Any:
    """A field with its help, its range or choices and, if not ``--name-with-dashes``, its flag."""
    meta = {"help": help, "low": low, "high": high, "flag": flag, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class WarpConfig:
    """Settings of a run. Defaults are the reference system's where it has one."""

    model: str = setting("smollm2", "backend spec: smollm2 (the embedded model), transformers:ID, llamacpp:GGUF, "
                                    "openai:URL[#MODEL], vllm:MODEL, replay:FILE.jsonl")
    index: str = setting(".warp/index", "index folder (build it with `jupyter-warp index PATH...`)")
    retrieval: str = setting("auto", "how the index is searched: bm25, dense, hybrid, or auto (hybrid where the "
                                     "index has vectors and jupyter-warp[semantic] is installed, else bm25)",
                             choices=("auto", "bm25", "dense", "hybrid"))
    max_steps: int = setting(140, "model turns at most", low=1)
    max_extends: int = setting(5, "deepening rounds at most", low=0)
    max_depth: int = setting(3, "deepest outline level", low=1, high=3)
    first_k: int = setting(20, "passages shown after the first search (to the planner)", low=1)
    k: int = setting(10, "passages shown after every later search (to the writer)", low=1)
    max_keywords: int = setting(5, "queries a search may use", low=1)
    passage_max_chars: int = setting(1200, "characters of each passage shown in a prompt", low=1)
    min_sections: int = setting(3, "fewest top-level sections a plan may have", low=1)
    max_sections: int = setting(12, "most top-level sections a plan may have", low=1)
    min_subsections: int = setting(2, "fewest subsections a deepening may add", low=1)
    max_subsections: int = setting(7, "most subsections a deepening may add", low=1)
    min_section_chars: int = setting(50, "shortest acceptable written section, in characters", low=0)
    max_cites: int = setting(12, "most citations in one written section", low=1)
    temperature: float = setting(0.7, "sampling temperature", low=0.0, high=2.0)
    top_p: float = setting(0.8, "nucleus sampling (above 0, at most 1)", low=0.0, high=1.0)
    max_new_tokens: int = setting(2048, "tokens a reply may have", low=1)
    constrained: str = setting("auto", "grammar for replies where the backend enforces one: auto (bounded for the "
                                       "embedded model, skeleton for other models), full (bounded), skeleton (tags "
                                       "and JSON shape, free Markdown sections), off", choices=GRAMMAR_MODES)
    assist: str = setting("auto", "search assist and planning by choice: the engine adds its own query to each "
                                  "search, drops noise keywords, and lets the model choose section titles among "
                                  "the headings found; auto: on for the embedded model, off for capable models",
                          choices=ASSIST_MODES)
    write_mode: str = setting("auto", "how a section is written: quote (the model chooses sentences of the passages, "
                                      "quoted word for word with their citations) or free (the model writes); auto: "
                                      "quote for the embedded model, free for capable models", choices=WRITE_MODES)
    enable_thinking: bool = setting(False, "let a thinking model think (<think>) before answering; off as in the "
                                           "reference system")
    context_window: int | None = setting(None, "tokens of prompt plus reply at most (none: what the backend "
                                               "reports; a larger value is capped to it)", low=256)
    prompt_profile: str = setting("auto", "how prompt variables are rendered: own, reference (the reference "
                                          "system's forms), auto (reference for a folder of surveycpm_*.jinja)",
                                  choices=PROMPT_PROFILES)
    thought_max_chars: int = setting(300, "longest thought under constrained decoding", low=5)
    write_max_chars: int = setting(1500, "longest written section under constrained decoding", low=1)
    max_retries: int = setting(3, "rejected replies in a row in one state before the engine falls back", low=1)
    prompts_dir: str | None = setting(None, "a folder of Jinja templates replacing the built-in prompts")
    seed: int | None = setting(None, "sampling seed (none: random)")
    backend_options: dict[str, Any] = setting({}, "options for the model backend, e.g. context_window=4096, "
                                                  "api_key=..., extra_body={...}", flag="--backend-opt")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Reject settings that cannot work, with a message that names the fix."""
        mode: object = self.constrained
        word = str(mode).lower()
        if isinstance(mode, bool) or word in TRUE_WORDS + FALSE_WORDS and word != "off":
            # settings saved before the grammar modes, and --set constrained=false; "off" is a
            # mode itself, and only in lower case
            self.constrained = "auto" if mode is True or word in TRUE_WORDS else "off"
        for f in fields(self):
            value, low, high = getattr(self, f.name), f.metadata.get("low"), f.metadata.get("high")
            kind = setting_type(f.name)
            if value is None and f.default is None:
                continue
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                if kind is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                    setattr(self, f.name, value)
                else:
                    raise ConfigError(f"{f.name} must be {kind.__name__}, got {value!r}")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigError(f"{f.name} must be one of {', '.join(choices)}, got {value!r}")
            if isinstance(value, (dict, str, bool)):
                continue
            if not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, got {value}")
            if low is not None and value < low or high is not None and value > high:
                span = f"{low} to {high}" if high is not None else f"at least {low}"
                raise ConfigError(f"{f.name} must be {span}, got {value}")
        if self.top_p <= 0:
            raise ConfigError(f"top_p must be above 0 and at most 1, got {self.top_p}")
        if self.min_sections > self.max_sections:
            raise ConfigError("min_sections must be at most max_sections")
        if self.min_subsections > self.max_subsections:
            raise ConfigError("min_subsections must be at most max_subsections")
        if self.write_max_chars <= self.min_section_chars:
            raise ConfigError(f"write_max_chars ({self.write_max_chars}) must be above min_section_chars "
                              f"({self.min_section_chars}), or no section could be accepted: raise one or lower "
                              "the other")

    @classmethod
    def help(cls, name: str) -> str:
        """The help line of setting ``name``, shared by its CLI flag, magic flag and traitlet."""
        return str(FIELDS[name].metadata["help"])

    def to_dict(self, secrets: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; backend options that hold secrets are left out unless asked for."""
        data = asdict(self)
        if not secrets:
            from .llm.registry import redact_options

            data["backend_options"] = redact_options(self.backend_options)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WarpConfig:
        """A config from saved settings; an unknown name or a value of the wrong type is a ``ConfigError``."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"a setting has a value of the wrong type ({exc})") from None

    def replace(self, **changes: Any) -> WarpConfig:
        """A copy with some settings changed; ``None`` values leave a setting as it is."""
        data = self.to_dict(secrets=True)
        data.update({k: v for k, v in changes.items() if v is not None})
        return WarpConfig.from_dict(data)


FIELDS = {f.name: f for f in fields(WarpConfig)}
"""The settings' fields by name, in declaration order."""
_HINTS = get_type_hints(WarpConfig)


def setting_default(name: str) -> Any:
    """A setting's default value (a fresh one for a mapping)."""
    f = FIELDS[name]
    return f.default if f.default_factory is MISSING else f.default_factory()


def setting_type(name: str) -> type:
    """The value type of a setting (``int`` for ``int | None``)."""
    hint = _HINTS[name]
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
    origin = get_origin(hint)
    return origin if isinstance(origin, type) else hint
