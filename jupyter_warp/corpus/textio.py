"""Bytes to text for the text formats: refuse binaries, accept UTF-8 and the usual legacy encodings."""

from __future__ import annotations

import codecs
import re

from ..errors import UnreadableFileError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CJK_TEXT = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")


def decode_text(data: bytes, path: str) -> tuple[str, str | None]:
    """Decode a text file; return the text and a note when it was not UTF-8.

    Order: a BOM's encoding, UTF-8, GB18030 when the result is mostly Chinese (common for
    Chinese documents), then Windows-1252 and Latin-1 (every byte decodes). A file with NUL
    bytes or many control characters is a binary file and raises ``UnreadableFileError``.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _checked(data[3:].decode("utf-8", errors="replace"), path), None
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return _checked(data[2:].decode(name, errors="replace"), path), None
    if b"\x00" in data[:65536]:
        raise UnreadableFileError(path, "binary file (NUL bytes)")
    try:
        return _checked(data.decode("utf-8"), path), None
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        non_ascii = [c for c in text if ord(c) > 127]
        if non_ascii and sum(1 for c in non_ascii if _CJK_TEXT.match(c)) >= 0.9 * len(non_ascii):
            return _checked(text, path), "not UTF-8: decoded as GB18030"
    except UnicodeDecodeError:
        pass
    try:
        return _checked(data.decode("cp1252"), path), "not UTF-8: decoded as Windows-1252"
    except UnicodeDecodeError:
        return _checked(data.decode("latin-1"), path), "not UTF-8: decoded as Latin-1"


def _checked(text: str, path: str) -> str:
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > 0.02 * len(sample):
        raise UnreadableFileError(path, "binary file (control characters)")
    return text
