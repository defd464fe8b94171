"""A model as a judge: prompts from this package's templates, replies constrained by a
grammar where the backend enforces one, parsed robustly otherwise, and every judgement
kept with its prompt and reply so that any score can be audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jinja2
import json_repair

from ..errors import ConfigError
from ..llm.base import Backend
from ..records import ChatRequest

TEMPLATES = Path(__file__).resolve().parent / "templates"
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
Parser = Callable[[str], Any]


class ParseError(ValueError):
    """The judge's reply carries no usable answer."""


@dataclass
class Judgement:
    """One question to the judge and its answer."""

    kind: str
    """``race``, ``fact`` or ``pairwise``."""
    subject: str
    """What was judged, e.g. ``58 / insight`` or ``run-id / section-2 / [7]``."""
    prompt: str
    reply: str = ""
    parsed: Any = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    truncated: bool = False
    """Whether a text in the prompt was shortened to fit the judge's context window."""
    id: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the result's ``judgements``."""
        return asdict(self)


@dataclass
class Ask:
    """A judgement to make: the prompt, its reply grammar and how to read the reply."""

    kind: str
    subject: str
    prompt: str
    grammar: str | None
    parse: Parser
    truncated: bool = False


def reply_json(text: str) -> Any:
    """The JSON value in a reply: ``<think>`` blocks, code fences and chatter around it
    are ignored, and broken JSON is repaired."""
    text = _THINK.sub("", text).strip()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ParseError("no JSON in the reply")
    body = text[start:]
    end = max(body.rfind("}"), body.rfind("]"))
    candidate = body[:end + 1] if end >= 0 else body
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        value = json_repair.loads(body)
        if value in ("", None, [], {}):
            raise ParseError("the reply's JSON could not be repaired") from None
        return value


class Judge:
    """Asks a backend for judgements in batches and keeps every one of them.

    Parameters
    ----------
    backend:
        Any ``Backend``; ``get_backend(spec)`` builds one from a spec.
    max_tokens:
        Reply budget of each judgement.
    context:
        The prompt budget in tokens (default: the backend's context window less
        ``max_tokens``); long articles are shortened to fit it.
    batch_size:
        Judgements sent to the backend in one call.
    """

    def __init__(self, backend: Backend, *, max_tokens: int = 512, context: int | None = None,
                 temperature: float = 0.0, seed: int | None = 0, batch_size: int = 8) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        window = backend.context_window - max_tokens - 16
        self.context = min(context, window) if context else window
        if self.context < 256:
            raise ConfigError(f"the judge's context window ({backend.context_window} tokens) leaves no room for a "
                              f"prompt after {max_tokens} reply tokens: lower --judge-max-tokens")
        self.temperature = temperature
        self.seed = seed
        self.batch_size = max(1, batch_size)
        self.judgements: list[Judgement] = []
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                                      undefined=jinja2.StrictUndefined, keep_trailing_newline=False)

    @property
    def name(self) -> str:
        """The judge's backend name, for the result and the table."""
        return getattr(self.backend, "name", type(self.backend).__name__)

    def render(self, template: str, **variables: Any) -> str:
        """One judge prompt from its template in ``evaluate/templates``."""
        return self.env.get_template(f"{template}.jinja").render(**variables).strip() + "\n"

    def count(self, text: str) -> int:
        """Tokens of ``text`` in the judge's model."""
        return self.backend.count_tokens(text)

    def fit(self, template: str, texts: dict[str, str], **variables: Any) -> tuple[str, bool]:
        """Render ``template`` with the long ``texts`` shortened, longest first, until the
        prompt fits the judge's budget; returns the prompt and whether anything was cut."""
        texts = dict(texts)
        cut = False
        for _ in range(12):
            prompt = self.render(template, **texts, **variables)
            over = self.count(prompt) - self.context
            if over <= 0:
                return prompt, cut
            name = max(texts, key=lambda k: len(texts[k]))
            text = texts[name]
            if len(text) < 200:
                break
            ratio = max(0.1, 1 - (over * 1.15 + 32) / max(1, self.count(text)))
            texts[name] = text[:int(len(text) * ratio)].rstrip() + "\n[... shortened to fit the judge's context ...]"
            cut = True
        raise ConfigError(f"a {template} prompt does not fit the judge's {self.context}-token budget: "
                          "use a judge with a larger context window")

    def grammar(self, gbnf: str) -> str | None:
        """The reply grammar when the backend enforces grammars, else None."""
        return gbnf if self.backend.supports_grammar else None

    def ask(self, asks: Sequence[Ask], on_done: Callable[[int], None] | None = None) -> list[Judgement]:
        """Ask every judgement, ``batch_size`` at a time; a reply that cannot be parsed is
        kept with its error and ``parsed`` None."""
        out: list[Judgement] = []
        for start in range(0, len(asks), self.batch_size):
            chunk = asks[start:start + self.batch_size]
            requests = [ChatRequest(prompt=a.prompt, grammar=a.grammar, max_tokens=self.max_tokens,
                                    temperature=self.temperature, top_p=1.0, seed=self.seed) for a in chunk]
            for ask, completion in zip(chunk, self.backend.generate(requests), strict=True):
                judgement = Judgement(kind=ask.kind, subject=ask.subject, prompt=ask.prompt, reply=completion.text,
                                      prompt_tokens=completion.prompt_tokens,
                                      completion_tokens=completion.completion_tokens,
                                      latency_s=completion.latency_s, truncated=ask.truncated,
                                      id=len(self.judgements) + 1)
                if completion.error:
                    judgement.error = f"the judge call failed: {completion.error}"
                else:
                    try:
                        judgement.parsed = ask.parse(completion.text)
                    except (ParseError, ValueError, TypeError, KeyError) as exc:
                        judgement.error = f"unparsable reply: {exc}"
                self.judgements.append(judgement)
                out.append(judgement)
            if on_done:
                on_done(len(chunk))
        return out


def build_judge(spec: str | Backend, max_tokens: int = 512, context: int | None = None) -> Judge:
    """A judge from a backend spec (``get_backend``) or a ready ``Backend``."""
    if isinstance(spec, Backend):
        return Judge(spec, max_tokens=max_tokens, context=context)
    from ..llm import get_backend

    return Judge(get_backend(spec), max_tokens=max_tokens, context=context)
