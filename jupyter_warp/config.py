"""One configuration record for the engine; the notebook's ``Warp`` traitlets mirror it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ConfigError


@dataclass
class WarpConfig:
    """Settings of a run. Defaults are the reference system's where it has one."""

    model: str = "smollm2"
    """Backend spec: ``smollm2``, ``transformers:PATH``, ``openai:URL#MODEL``, ``vllm:MODEL``..."""
    index: str = ".warp/index"
    max_steps: int = 140
    max_extends: int = 5
    max_depth: int = 3
    first_k: int = 20
    """Passages shown after the first search (to the planner)."""
    k: int = 10
    """Passages shown after every later search (to the writer)."""
    max_keywords: int = 5
    passage_max_chars: int = 1200
    """Characters of each passage shown in a prompt."""
    min_sections: int = 3
    max_sections: int = 12
    min_subsections: int = 2
    max_subsections: int = 7
    min_section_chars: int = 50
    max_cites: int = 12
    temperature: float = 0.7
    top_p: float = 0.8
    max_new_tokens: int = 2048
    constrained: bool = True
    """Constrain replies to the action format with a grammar where the backend can."""
    thought_max_chars: int = 300
    write_max_chars: int = 1500
    """Upper bound on a written section under constrained decoding."""
    max_retries: int = 3
    """Consecutive rejected replies in one state before the engine falls back."""
    prompts_dir: str | None = None
    """A folder of Jinja templates replacing the built-in prompts (same file names)."""
    seed: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Reject settings that cannot work, with a message that names the fix."""
        for name in ("max_steps", "first_k", "k", "max_keywords", "max_depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_extends < 0:
            raise ConfigError(f"max_extends must be 0 or more, got {self.max_extends}")
        if not 1 <= self.max_depth <= 3:
            raise ConfigError(f"max_depth must be 1 to 3, got {self.max_depth}")
        if not 1 <= self.min_sections <= self.max_sections:
            raise ConfigError("min_sections must be at least 1 and at most max_sections")
        if not 1 <= self.min_subsections <= self.max_subsections:
            raise ConfigError("min_subsections must be at least 1 and at most max_subsections")
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError(f"temperature must be 0 to 2, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p must be above 0 and at most 1, got {self.top_p}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WarpConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**data)

    def replace(self, **changes: Any) -> "WarpConfig":
        """A copy with some settings changed; ``None`` values leave a setting as it is."""
        data = self.to_dict()
        data.update({k: v for k, v in changes.items() if v is not None})
        return WarpConfig.from_dict(data)
