"""Backend names to factories: built-ins first, then the ``jupyter_warp.backends`` entry points.

A factory is any callable ``factory(target: str | None, **options) -> Backend``; ``target``
is what follows the first ``:`` of the spec. Built-ins are named by ``module:attribute``
and imported only when asked for, so this module loads no model library. Each plugin
loads in its own try: one that fails to import is logged and skipped, never breaking
the others.

Options are checked before the factory runs: an unknown one is a ``ConfigError`` that
lists the backend's options (a class's ``OPTIONS``, else its keyword parameters). A
backend that passes any option on (vLLM's engine arguments) checks them itself.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import Any

from ..errors import ConfigError
from .base import Backend

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "jupyter_warp.backends"
Factory = Callable[..., Backend]

BUILTINS: dict[str, str] = {
    "smollm2": "jupyter_warp.llm.transformers_backend:smollm2",
    "transformers": "jupyter_warp.llm.transformers_backend:TransformersBackend.from_spec",
    "llamacpp": "jupyter_warp.llm.llamacpp_backend:LlamaCppBackend.from_spec",
    "openai": "jupyter_warp.llm.openai_backend:OpenAIBackend.from_spec",
    "vllm": "jupyter_warp.llm.vllm_backend:VLLMBackend.from_spec",
    "replay": "jupyter_warp.llm.replay:ReplayBackend.from_spec",
}


OPTION_SOURCES: dict[str, tuple[str, ...]] = {
    "smollm2": ("jupyter_warp.llm.transformers_backend:TransformersBackend",),
    "llamacpp": ("jupyter_warp.llm.llamacpp_backend:LlamaCppBackend", "llama_cpp:Llama"),
}
"""Where a built-in's options are declared when its factory only passes ``**options`` on:
the keyword parameters of each, together (their own ``**kwargs`` are not options)."""
_SECRET = re.compile(
    r"(^|[_-])(api[_-]?key|key|token|secret|password|passwd|auth|authorization|credentials?|cookie)$",
    re.IGNORECASE,
)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``"name:target"`` -> ``("name", "target")``; ``"name"`` -> ``("name", None)``."""
    name, sep, target = spec.strip().partition(":")
    if not name:
        raise ConfigError(f"empty backend name in model spec {spec!r}")
    return name.lower(), (target if sep and target else None)


def _resolve(path: str) -> Factory:
    module_name, _, attrs = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in attrs.split("."):
        obj = getattr(obj, attr)
    return obj  # type: ignore[no-any-return]


def _declared(obj: Any, exhaustive: bool) -> tuple[set[str], bool]:
    """(option names ``obj`` declares, whether it also takes any other name)."""
    owner = getattr(obj, "__self__", None)
    cls = obj if isinstance(obj, type) else owner if isinstance(owner, type) else None
    declared = getattr(cls, "OPTIONS", None) if cls is not None else None
    if declared is not None:
        return set(declared), False
    try:
        init = cls.__init__ if cls is not None else obj  # type: ignore[misc]
        params = inspect.signature(init).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = {p.name for p in params if p.kind in named and p.name not in ("self", "target")}
    takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params)
    return names, takes_any and not exhaustive


class BackendRegistry:
    """Backend factories by name. Tests build a fresh one; the package uses one default."""

    def __init__(self, builtins: dict[str, str] | None = None, entry_points: bool = True) -> None:
        self._factories: dict[str, Factory | str] = dict(BUILTINS if builtins is None else builtins)
        self._builtins = {name for name, path in self._factories.items() if BUILTINS.get(name) == path}
        self._load_entry_points = entry_points
        self._discovered = False

    def register(self, name: str, factory: Factory | str) -> None:
        """Add or replace a backend; ``factory`` may be a ``"module:attr"`` string."""
        self._factories[name.lower()] = factory
        self._builtins.discard(name.lower())

    def _discover(self) -> None:
        """Load the entry-point plugins once, each in its own try."""
        if self._discovered or not self._load_entry_points:
            self._discovered = True
            return
        self._discovered = True
        try:
            found = metadata.entry_points(group=ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken distribution's metadata must not stop the built-ins
            log.warning("cannot read %s entry points: %s", ENTRY_POINT_GROUP, exc)
            return
        for ep in found:
            name = ep.name.lower()
            if name in self._factories:
                log.warning("backend plugin %r (%s) ignored: a backend of that name exists", name, ep.value)
                continue
            try:
                self._factories[name] = ep.load()
            except Exception as exc:
                dist = getattr(getattr(ep, "dist", None), "name", None) or ep.value.split(":")[0]
                log.warning(
                    "backend plugin %r could not load (%s: %s): install its requirements, "
                    "e.g. `pip install %s`",
                    name,
                    type(exc).__name__,
                    exc,
                    dist,
                )

    def known(self) -> list[str]:
        """Backend names, sorted."""
        self._discover()
        return sorted(self._factories)

    def factory(self, name: str) -> Factory:
        """The factory registered as ``name``; an unknown name lists the known ones."""
        self._discover()
        factory = self._factories.get(name.lower())
        if factory is None:
            raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(self.known())}")
        if isinstance(factory, str):
            factory = _resolve(factory)
            self._factories[name.lower()] = factory
        return factory

    def options(self, name: str) -> list[str] | None:
        """The options backend ``name`` accepts, sorted; None when it takes any name."""
        factory = self.factory(name)
        sources = OPTION_SOURCES.get(name.lower()) if name.lower() in self._builtins else None
        known: set[str] = set()
        for source in sources or [factory]:
            try:
                obj = _resolve(source) if isinstance(source, str) else source
            except ImportError:
                return None  # its library is missing: the factory says how to install it
            names, takes_any = _declared(obj, exhaustive=bool(sources))
            if takes_any:
                return None
            known |= names
        return sorted(known)

    def named_options(self, name: str) -> set[str]:
        """The option names backend ``name``'s factory names itself, even where it also takes
        any other name (vLLM's engine arguments)."""
        return _declared(self.factory(name), exhaustive=True)[0]

    def get(self, spec: str, **options: Any) -> Backend:
        """Build the backend a spec names, passing ``options`` to its factory."""
        name, target = parse_spec(spec)
        factory = self.factory(name)
        known = self.options(name)
        unknown = sorted(set(options) - set(known)) if known is not None else []
        listed = f"; its options: {', '.join(known)}" if known else ""
        if unknown:
            raise ConfigError(f"backend {name!r} has no option {', '.join(map(repr, unknown))}{listed}")
        try:
            return factory(target, **options)
        except TypeError as exc:
            if "unexpected keyword argument" in str(exc) or "multiple values" in str(exc):
                raise ConfigError(f"backend {name!r}: {exc}{listed}") from exc
            raise


registry = BackendRegistry()


def get_backend(spec: str, **options: Any) -> Backend:
    """The backend a model spec names (see ``jupyter_warp.llm`` for the syntax)."""
    return registry.get(spec, **options)


def register_backend(name: str, factory: Factory | str) -> None:
    """Make ``name`` available to ``get_backend``; ``factory(target, **options) -> Backend``."""
    registry.register(name, factory)


def known_backends() -> list[str]:
    """Every backend name ``get_backend`` accepts."""
    return registry.known()


def parse_backend_options(items: Iterable[str]) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` from a command line or a magic, as backend options.

    Each value is read as JSON where it is JSON (``4096``, ``true``, ``{"top_k": 20}``) and
    kept as text otherwise (``api_key=sk-...``).
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"backend option {item!r} is not KEY=VALUE, e.g. context_window=4096")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of backend options without secrets (API keys, tokens, passwords), for a run's record."""
    return {
        key: redact_options(value) if isinstance(value, Mapping) else value
        for key, value in options.items()
        if not _SECRET.search(str(key))
    }
