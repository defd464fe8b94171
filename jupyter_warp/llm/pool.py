"""Backends opened once per spec and options: loading a model takes seconds, so a notebook
kernel (or a batch) keeps one pool and every run it starts draws from it."""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from .base import Backend


class BackendPool:
    """Open backends by spec and options; ``factory(spec, **options)`` opens a missing one."""

    def __init__(self, factory: Callable[..., Backend] | None = None) -> None:
        self.factory = factory
        self._open: dict[str, Backend] = {}

    def get(self, spec: str, options: Mapping[str, Any] | None = None) -> Backend:
        options = dict(options or {})
        key = spec + "\n" + json.dumps(options, sort_keys=True, default=str)
        if key in self._open:
            return self._open[key]
        factory = self.factory
        if factory is None:
            from .registry import get_backend

            factory = get_backend
        backend = factory(spec, **options)
        if backend.reusable:
            self._open[key] = backend
        return backend

    def clear(self) -> None:
        """Forget every open backend (a new factory, or models to unload)."""
        self._open.clear()
