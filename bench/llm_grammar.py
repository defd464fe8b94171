"""Share of the embedded model's search replies that parse, with and without the grammar,
per backend; and what enforcing the grammar costs.

    python bench/llm_grammar.py [--samples 10] [--max-tokens 256] [--backends transformers,llamacpp,openai]

A reply parses when it is ``<thought>...</thought>\\n<action>JSON</action>`` and the JSON
is a search action with 1 to 5 keywords. Sampling: temperature 0.7, top_p 0.8, seeds 0..N-1.
``openai`` starts llama-cpp-python's server on loopback (``tests/servers.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from jupyter_warp.llm import get_backend
from jupyter_warp.llm.base import Backend
from jupyter_warp.records import ChatRequest
from scripted import parses_search as parses

SEARCH_GRAMMAR = r"""root ::= "<thought>" thought "</thought>\n<action>" action "</action>"
thought ::= [^<\n]{1,300}
action ::= "{\"name\": \"search\", \"keywords\": [" kw (", " kw){0,4} "]}"
kw ::= "\"" [a-zA-Z0-9 ]{1,40} "\""
"""
THOUGHT_BY_WORDS = r'thought ::= [^<\n ]{1,30} (" " [^<\n ]{1,30}){0,59}'
"""The same cap expressed in words: xgrammar fills its mask ~100x faster near the cap."""
PROMPT = """You are gathering evidence for a research report.
Question: How do solar panels degrade over time, and what slows it down?
Current outline: (none yet)
Think briefly, then choose 1 to 5 search keywords. Answer exactly in this format:
<thought>your reasoning on one line</thought>
<action>{"name": "search", "keywords": ["keyword one", "keyword two"]}</action>"""



def run(backend: Backend, label: str, samples: int, max_tokens: int, grammar: str | None) -> None:
    requests = [ChatRequest(PROMPT, grammar=grammar, max_tokens=max_tokens, seed=i) for i in range(samples)]
    mask_before = getattr(backend, "mask_seconds", 0.0)
    started = time.perf_counter()
    out = backend.generate(requests)
    seconds = time.perf_counter() - started
    tokens = sum(c.completion_tokens for c in out)
    ok = sum(parses(c.text) for c in out)
    cut = sum(c.finish_reason == "length" for c in out)
    extra = ""
    mask = getattr(backend, "mask_seconds", 0.0) - mask_before
    if mask:
        extra = f" mask {1000 * mask / max(tokens, 1):.2f} ms/token"
    tag = "grammar" if grammar else "free"
    print(f"{label:28s} {tag:7s} parsed {ok:2d}/{samples} cut off {cut:2d} "
          f"{tokens / samples:6.1f} tok/reply {tokens / seconds:6.1f} tok/s{extra}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--backends", default="transformers,llamacpp,openai")
    parser.add_argument(
        "--thought-by-words", action="store_true", help="cap the thought at 60 words, not 300 characters"
    )
    args = parser.parse_args()
    chosen = args.backends.split(",")
    n, m = args.samples, args.max_tokens
    grammar = SEARCH_GRAMMAR
    if args.thought_by_words:
        grammar = SEARCH_GRAMMAR.replace(r"thought ::= [^<\n]{1,300}", THOUGHT_BY_WORDS)
        assert grammar != SEARCH_GRAMMAR

    if "transformers" in chosen:
        backend = get_backend("smollm2")
        run(backend, "transformers (batch)", n, m, None)
        run(backend, "transformers (batch)", n, m, grammar)
        backend.close()
    if "llamacpp" in chosen:
        backend = get_backend("llamacpp:smollm2")
        run(backend, "llamacpp", n, m, None)
        for engine in ("xgrammar", "llama"):
            backend.grammar_engine = engine  # type: ignore[attr-defined]
            run(backend, f"llamacpp ({engine} mask)", n, m, grammar)
        backend.close()
    if "openai" in chosen:
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import LlamaServer

        with LlamaServer() as server:
            backend = get_backend(f"openai:{server.url}")
            run(backend, "openai -> llama_cpp.server", n, m, None)
            run(backend, "openai -> llama_cpp.server", n, m, grammar)
            backend.close()


if __name__ == "__main__":
    main()
