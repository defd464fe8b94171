"""Backends opened once per spec and options: loading a model takes seconds, so a notebook
kernel (or a batch) keeps one pool and every run it opens draws from it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .llm.base import Backend


class BackendPool:
    """Backends opened once per spec and options: loading a model takes seconds, so a
    notebook kernel (or a batch) keeps one pool and every run it opens draws from it;
    ``factory(spec, **options)`` opens a missing one (default: the backend registry)."""

    def __init__(self, factory: Callable[..., Backend] | None = None) -> None:
        self.factory = factory
        self._open: dict[str, Backend] = {}

    @staticmethod
    def _key(spec: str, options: Mapping[str, Any] | None) -> str:
        return spec + "\n" + json.dumps(dict(options or {}), sort_keys=True, default=str)

    def holds(self, spec: str, options: Mapping[str, Any] | None = None) -> bool:
        """Whether ``get`` would hand back an open backend (no model to load)."""
        return self._key(spec, options) in self._open

    def get(self, spec: str, options: Mapping[str, Any] | None = None) -> Backend:
        """The open backend for this spec and options, opening (and keeping, if reusable) a new one."""
        options = dict(options or {})
        key = self._key(spec, options)
        if key in self._open:
            return self._open[key]
        if self.factory is not None:
            backend = self.factory(spec, **options)
        else:
            from .llm import get_backend

            backend = get_backend(spec, **options)
        if backend.reusable:
            self._open[key] = backend
        return backend
