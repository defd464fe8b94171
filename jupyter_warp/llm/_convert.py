"""A GGUF file converted once into a safetensors folder, so later loads skip the parse.

transformers de-quantizes a GGUF in Python (about 17 s for SmolLM2-135M on 2 cores);
the converted folder loads in under a second with identical weights. The folder is
written under a temporary name and renamed into place, so a killed process never
leaves a half-written cache that a later run would trust.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FORMAT = "1"
"""Bumped when the folder layout changes, so old caches are not reused."""
_TMP = ".tmp-"


def gguf_key(gguf: Path) -> str:
    """``<stem>-<hash>`` from the file's size and its first and last MiB (cheap, location-free)."""
    digest = hashlib.sha256(CACHE_FORMAT.encode())
    size = gguf.stat().st_size
    digest.update(str(size).encode())
    with gguf.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return f"{gguf.stem}-{digest.hexdigest()[:12]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(models_dir: Path, key: str) -> None:
    """Temporary folders for ``key`` whose writer process is gone."""
    for tmp in models_dir.glob(f".{key}{_TMP}*"):
        try:
            pid = int(tmp.name[len(f".{key}{_TMP}") :].split("-")[0])
        except ValueError:
            continue
        if not _alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def converted_gguf(gguf: Path, models_dir: Path) -> Path:
    """The safetensors folder for ``gguf`` under ``models_dir``, converting it first if needed."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    key = gguf_key(gguf)
    final = models_dir / key
    if (final / "config.json").is_file():
        return final
    models_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(models_dir, key)
    tmp = models_dir / f".{key}{_TMP}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    log.warning("converting %s once to a safetensors cache at %s (about 20 s)", gguf.name, final)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        model.hf_quantizer = None  # type: ignore[assignment]  # saved as a plain model
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        del model
        try:
            tmp.rename(final)
        except OSError:
            if not (final / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
