"""Find the files to index under the given roots, and read them, without leaving the roots.

Every path is resolved (symlinks followed) and must lie inside a resolved root before it is
opened; the final open refuses a symlink swapped in since (``O_NOFOLLOW``) and anything that
is not a regular file. Hidden files and folders (``.git``, ``.ipynb_checkpoints``) and the
index folder itself are left out.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnreadableFileError
from .loaders import loader_for


@dataclass
class Found:
    """A file to index, with what tells whether it changed since the last run."""

    path: str
    """Resolved path: the file's key in the index."""
    size: int
    mtime_ns: int


@dataclass
class Walk:
    """What ``walk`` found: the files, the files skipped with why, and the roots."""

    files: list[Found]
    skipped: list[tuple[str, str]]
    roots: list[Path]


def resolve_roots(paths: list[str | Path]) -> list[Path]:
    """Resolved roots, missing ones refused with a message naming them."""
    roots: list[Path] = []
    for p in paths:
        path = Path(p).expanduser()
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise UnreadableFileError(str(p), "no such file or folder (check the path)") from None
        if real not in roots:
            roots.append(real)
    return roots


def utf8_name(path: str) -> bool:
    """True when ``path`` is valid UTF-8; Python keeps the bytes of any other name as lone surrogates."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(path: str) -> str:
    """A path that can be printed and stored as UTF-8: undecodable bytes shown as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


NOT_UTF8 = "name is not valid UTF-8: rename it (e.g. `convmv -f latin1 -t utf8 --notest NAME`) to index it"
"""The index stores names as UTF-8; a name in another encoding is skipped, not guessed at
(a guessed name would not open the file again on the next update)."""


def inside(path: Path, roots: list[Path]) -> bool:
    """Whether ``path`` lies under one of ``roots``: links may not lead out, and only files under them are pruned."""
    return any(path == r or path.is_relative_to(r) for r in roots)


def walk(roots: list[Path], exclude: Path, max_bytes: int) -> Walk:
    """Every supported file under ``roots``, deduplicated by resolved path, in a stable order."""
    files: dict[str, Found] = {}
    skipped: list[tuple[str, str]] = []
    visited: set[tuple[int, int]] = set()

    def consider_file(shown: str, real: Path, st: os.stat_result, explicit: bool) -> None:
        if not utf8_name(str(real)):
            if loader_for(real) is not None or explicit:
                skipped.append((shown, NOT_UTF8))
            return
        if loader_for(real) is None:
            if explicit:
                skipped.append((shown, f"unsupported file type {real.suffix or '(no suffix)'}"))
            return
        if not stat.S_ISREG(st.st_mode):
            skipped.append((shown, "not a regular file"))
        elif st.st_size == 0:
            skipped.append((shown, "empty file"))
        elif st.st_size > max_bytes:
            skipped.append((shown, f"too large ({st.st_size / 1e6:.0f} MB > {max_bytes / 1e6:.0f} MB)"))
        elif str(real) not in files:
            files[str(real)] = Found(str(real), st.st_size, st.st_mtime_ns)

    for root in roots:
        if not utf8_name(str(root)):
            skipped.append((str(root), NOT_UTF8))
            continue
        try:
            st = os.stat(root)
        except OSError as exc:
            skipped.append((str(root), exc.strerror or "cannot read"))
            continue
        if not stat.S_ISDIR(st.st_mode):
            consider_file(str(root), root, st, explicit=True)
            continue
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                fst = os.stat(folder)
                if (fst.st_dev, fst.st_ino) in visited:
                    continue
                visited.add((fst.st_dev, fst.st_ino))
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name, reverse=True)
            except OSError as exc:
                skipped.append((str(folder), f"cannot list folder: {exc.strerror or exc}"))
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                shown = os.path.join(folder, entry.name)
                try:
                    if entry.is_symlink():
                        try:
                            real = Path(os.path.realpath(shown, strict=True))
                        except FileNotFoundError:
                            skipped.append((shown, "broken link"))
                            continue
                        except (OSError, RuntimeError):
                            skipped.append((shown, "symlink loop"))
                            continue
                        if not inside(real, roots):
                            skipped.append((shown, f"link points outside the indexed folders ({real})"))
                            continue
                    else:
                        real = Path(shown)
                    st = os.stat(real)
                except OSError as exc:
                    skipped.append((shown, exc.strerror or "cannot read"))
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if real == exclude:
                        continue
                    if not utf8_name(str(real)):
                        skipped.append((shown, f"folder {NOT_UTF8}"))
                        continue
                    if (st.st_dev, st.st_ino) in visited:
                        if folder == real or Path(folder).is_relative_to(real):
                            skipped.append((shown, "symlink loop"))
                        continue
                    stack.append(real)
                else:
                    consider_file(shown, real, st, explicit=False)
    ordered = sorted(files.values(), key=lambda f: f.path)
    return Walk(ordered, [(shown_name(p), shown_name(r)) for p, r in skipped], roots)


def read_file(found: Found, max_bytes: int) -> bytes:
    """The file's bytes, refusing a symlink, a non-regular file or a file grown past the limit."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(found.path, flags)
    except PermissionError:
        raise UnreadableFileError(found.path, "permission denied") from None
    except OSError as exc:
        raise UnreadableFileError(found.path, f"cannot open: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFileError(found.path, "not a regular file")
        if st.st_size > max_bytes:
            raise UnreadableFileError(found.path, "too large")
        chunks = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise UnreadableFileError(found.path, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise UnreadableFileError(found.path, "too large")
    if not data:
        raise UnreadableFileError(found.path, "empty file")
    return data
