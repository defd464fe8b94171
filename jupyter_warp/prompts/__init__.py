"""Prompt templates (Jinja) and their renderer.

Each state has one template: ``search``, ``init_plan``, ``write``, ``extend_plan``. They
receive the reference system's variables (``user_query``, ``current_outline``,
``current_survey``, ``current_instruction``, ``current_information``) plus a few of this
project's (``language``, ``max_keywords``, ``min_sections``... ``extendable``,
``example_key``). A user's ``prompts_dir`` with files of the same names replaces them, so a
model can run on the prompts it was trained with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from ..errors import ConfigError

TEMPLATES = ("search", "init_plan", "write", "extend_plan")
_BUILTIN = Path(__file__).parent / "templates"


class PromptRenderer:
    """Renders the prompt of a state; user templates first, the built-in ones behind them."""

    def __init__(self, prompts_dir: str | Path | None = None) -> None:
        folders = [str(_BUILTIN)]
        if prompts_dir:
            folder = Path(prompts_dir).expanduser()
            if not folder.is_dir():
                raise ConfigError(f"prompts_dir {folder} is not a folder: point it at a folder of .jinja templates")
            if not any((folder / f"{name}.jinja").is_file() for name in TEMPLATES):
                raise ConfigError(
                    f"prompts_dir {folder} has none of {', '.join(n + '.jinja' for n in TEMPLATES)}"
                )
            folders.insert(0, str(folder))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )

    def render(self, state: str, **variables: Any) -> str:
        try:
            return self.env.get_template(f"{state}.jinja").render(**variables).strip() + "\n"
        except jinja2.TemplateError as exc:
            raise ConfigError(f"prompt template {state}.jinja failed: {exc}") from None
