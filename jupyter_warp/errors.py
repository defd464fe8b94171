"""Errors a user can cause: each says what to do next, in one line."""

from __future__ import annotations


class WarpError(Exception):
    """Base class; the message is shown alone, without a traceback."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback for a magic cell that failed."""
        return [f"{type(self).__name__}: {self}"]


def describe(exc: BaseException) -> str:
    """An error in one line: a ``WarpError``'s own words, any other with its type's name."""
    return str(exc) if isinstance(exc, WarpError) else f"{type(exc).__name__}: {exc}"


class ConfigError(WarpError):
    """A bad argument or setting."""


class IndexMissingError(WarpError):
    """No index where one was expected."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"no index at {path}: build one with `jupyter-warp index FOLDER --index {path}`"
        )


class IndexEmptyError(IndexMissingError):
    """An index with no passages: built from no readable file, still being built, or cut short."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        WarpError.__init__(self, message)


class IndexDamagedError(IndexMissingError):
    """An index whose files are truncated or corrupt; `jupyter-warp index` rebuilds it."""

    def __init__(self, path: str, problem: str, command: str = "") -> None:
        self.path = path
        self.problem = problem
        command = command or f"jupyter-warp index FOLDER --index {path}"
        WarpError.__init__(
            self, f"the index at {path} is damaged ({problem}): run `{command}` to rebuild it from the files")


class IndexWriteError(WarpError):
    """The index folder cannot be written (read-only, permissions, disk full)."""


class IndexLockedError(WarpError):
    """Another process holds the index's write lock."""


class UnreadableFileError(WarpError):
    """A document could not be read (corrupt, encrypted, binary, too large)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class BackendError(WarpError):
    """The model backend failed (unreachable server, bad model spec, missing extra)."""


class BackendUnavailableError(BackendError):
    """A model server did not answer; the run can be resumed once it is back."""


class MissingExtraError(BackendError):
    """An optional dependency is not installed."""

    def __init__(self, what: str, install: str) -> None:
        self.what = what
        self.install = install
        super().__init__(f"{what} is not installed: run `{install}`")


class RunError(WarpError):
    """A run directory that cannot be used (missing, corrupt, or finished)."""
