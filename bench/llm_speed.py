"""Decode speed of the embedded model, side by side: transformers one by one, transformers
as one batch of 8, llama-cpp-python one by one. Short prompts, greedy, few tokens.

    python bench/llm_speed.py [--max-tokens 32] [--threads N]

Tokens/s counts generated tokens over wall time (prefill included).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_warp.llm import get_backend
from jupyter_warp.llm.base import Backend
from jupyter_warp.records import ChatRequest, Completion

PROMPTS = [
    "What is the capital of France?",
    "Name three colors.",
    "Explain photosynthesis in one sentence.",
    "Why is the sky blue?",
    "Give a synonym for happy.",
    "What does a compiler do?",
    "Describe a cat in five words.",
    "How many legs does a spider have?",
]


def timed(call: Callable[[], list[Completion]]) -> tuple[float, int]:
    started = time.perf_counter()
    out = call()
    return time.perf_counter() - started, sum(c.completion_tokens for c in out)


def row(label: str, seconds: float, tokens: int) -> None:
    print(f"{label:34s} {tokens:6d} tokens {seconds:8.2f} s {tokens / seconds:8.1f} tok/s", flush=True)


def bench(backend: Backend, label: str, max_tokens: int, batched: bool) -> None:
    requests = [ChatRequest(p, max_tokens=max_tokens, temperature=0.0) for p in PROMPTS]
    backend.generate(requests[:1])  # warm-up
    row(f"{label} one by one", *timed(lambda: [backend.generate([r])[0] for r in requests]))
    if batched:
        row(f"{label} batch of {len(requests)}", *timed(lambda: backend.generate(requests)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch / llama.cpp threads")
    args = parser.parse_args()
    started = time.perf_counter()
    tf = get_backend("smollm2", threads=args.threads)
    print(f"cpus={os.cpu_count()} OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')} "
          f"max_tokens={args.max_tokens} threads={args.threads or 'default'}")  # fmt: skip
    print(f"transformers load {time.perf_counter() - started:.2f} s")
    bench(tf, "transformers", args.max_tokens, batched=True)
    tf.close()

    if importlib.util.find_spec("llama_cpp") is None:
        print("llamacpp: not installed (pip install 'jupyter-warp[llamacpp]')")
        return
    started = time.perf_counter()
    lc = get_backend("llamacpp:smollm2", n_threads=args.threads)
    print(f"llamacpp load {time.perf_counter() - started:.2f} s")
    bench(lc, "llamacpp", args.max_tokens, batched=False)
    lc.close()


if __name__ == "__main__":
    main()
