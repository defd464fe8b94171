"""Prompt templates (Jinja), the two profiles that render their variables, and the renderer.

Each state has one template: ``search``, ``init_plan``, ``write``, ``extend_plan``. They
receive the reference system's variables (``user_query``, ``current_outline``,
``current_survey``, ``current_instruction``, ``current_information``) plus a few of this
project's (``language``, ``language_name``, ``max_keywords``, ``min_sections``...,
``extendable``, ``example_key``). A user's ``prompts_dir`` replaces them: files named as the
built-in ones, or the reference system's own (``surveycpm_search.jinja``...,
``surveycpm_write.jinja``). The profile decides how the variables look: ``own`` (this
project's forms) or ``reference`` (``prompts.reference``: exactly as the reference system
renders them); ``auto`` picks ``reference`` for a folder of ``surveycpm_*`` templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import jinja2
import jinja2.meta

from ..errors import ConfigError
from ..records import Passage
from ..report import Report
from .reference import ReferenceView
from .variables import OwnView

TEMPLATES = ("search", "init_plan", "write", "extend_plan")
REFERENCE_PREFIX = "surveycpm_"
_BUILTIN = Path(__file__).parent / "templates"


class PromptView(Protocol):
    """How a profile renders the report, the passages and the instruction into variables."""

    name: str
    levels: int
    """Shortening levels the prompt fitter may use (0: as the profile shows it)."""

    def outline(self, report: Report, cursor_id: str | None, level: int = 0) -> str:
        """``current_outline`` of the search prompt, shortened by ``level``."""

    def survey(self, report: Report, cursor_id: str | None, level: int = 0) -> str:
        """``current_survey`` of the write prompt, shortened by ``level``."""

    def full_survey(self, report: Report, level: int = 0) -> str:
        """``current_survey`` of the extend prompt: the whole report, shortened by ``level``."""

    def information(self, passages: Sequence[Passage], keys: Sequence[int], chars: int) -> str:
        """``current_information``: the passages under their keys, each cut to ``chars``."""

    def instruction(self, report: Report, cursor_id: str | None, phase: str) -> str:
        """``current_instruction``: what the node at the cursor, or the phase, asks for."""


class PromptRenderer:
    """Renders the prompt of a state; user templates first, the built-in ones behind them.

    Reference templates are rendered as the reference renders them (jinja2's defaults, the
    output untouched); this project's are stripped and end in one newline, and a variable
    they do not receive is an error.
    """

    def __init__(self, prompts_dir: str | Path | None = None, profile: str = "auto") -> None:
        folders = [str(_BUILTIN)]
        self.files = {state: f"{state}.jinja" for state in TEMPLATES}
        found_reference = False
        if prompts_dir:
            folder = Path(prompts_dir).expanduser()
            if not folder.is_dir():
                raise ConfigError(f"prompts_dir {folder} is not a folder: point it at a folder of .jinja templates")
            for state in TEMPLATES:
                if (folder / f"{REFERENCE_PREFIX}{state}.jinja").is_file():
                    self.files[state] = f"{REFERENCE_PREFIX}{state}.jinja"
                    found_reference = True
            if not found_reference and not any((folder / f"{name}.jinja").is_file() for name in TEMPLATES):
                names = ", ".join(f"{n}.jinja" for n in TEMPLATES)
                raise ConfigError(f"prompts_dir {folder} has none of {names} (or surveycpm_{{state}}.jinja)")
            folders.insert(0, str(folder))
        if profile not in ("auto", "own", "reference"):
            raise ConfigError(f"prompt_profile must be auto, own or reference, got {profile!r}")
        reference = profile == "reference" or (profile == "auto" and found_reference)
        self.view: PromptView = ReferenceView() if reference else OwnView()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            undefined=jinja2.Undefined if reference else jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self._uses: dict[tuple[str, str], bool] = {}

    @property
    def profile(self) -> str:
        """``own`` or ``reference``."""
        return self.view.name

    def source(self, state: str) -> str:
        """The template text of ``state`` (the user's, or the built-in one behind it)."""
        name = self.files.get(state, f"{state}.jinja")
        try:
            return str(self.env.loader.get_source(self.env, name)[0])  # type: ignore[union-attr]
        except jinja2.TemplateError as exc:
            raise ConfigError(f"prompt template {name} failed: {exc}") from None

    def uses(self, state: str, variable: str) -> bool:
        """Whether the template of ``state`` reads ``variable`` (a template that shows no
        numbered choices cannot ask the model to choose by number)."""
        if (state, variable) not in self._uses:
            try:
                found = jinja2.meta.find_undeclared_variables(self.env.parse(self.source(state)))
            except jinja2.TemplateError:
                found = set()
            self._uses[state, variable] = variable in found
        return self._uses[state, variable]

    def render(self, state: str, **variables: Any) -> str:
        """The prompt of ``state`` with ``variables``."""
        name = self.files.get(state, f"{state}.jinja")
        try:
            text = self.env.get_template(name).render(**variables)
        except jinja2.TemplateError as exc:
            raise ConfigError(f"prompt template {name} failed: {exc}") from None
        return text if self.profile == "reference" else text.strip() + "\n"
