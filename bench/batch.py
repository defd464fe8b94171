"""Lockstep batching against sequential runs, on one batching server (GitHub issue 6).

The same N research questions run twice with the same settings and step budget: one
``Run`` after another (``sequential``), then all together with ``run_lockstep``, where
every round is one batched ``backend.generate`` call whose requests the openai backend
sends concurrently and the server decodes in one batch (continuous batching). Each mode
gets a fresh server, so neither finds the other's prompts in its cache. Prints::

    sequential_s: X
    lockstep_s: Y
    speedup: Z
    tokens_per_s_sequential: A     (completion tokens per second of wall time)
    tokens_per_s_lockstep: B
    ...plus prompt+completion tokens/s, seconds per step, the share of steps with
    ``error is None`` (parsed and validated) and of replies in the action format, and
    how concurrent each mode was (the server's busy slots per decode)

Sampling is the engine's default (temperature 0.7, top_p 0.8) with per-step seeds
(``--seed``), so both modes ask the same first prompts; batched decoding changes the
numerics slightly, so later steps can differ between the modes (compare tokens/s and
seconds per step as well as wall time).

By default it builds (once, cached) and starts llama.cpp's ``llama-server`` on loopback
with ``--parallel`` slots and one thread (``--threads``) on the embedded SmolLM2 model; ``--server URL`` uses a running
OpenAI-compatible server instead (``vllm serve`` on a GPU box, for example). The questions
are the first N English ones of DeepResearch Bench; the corpus is the Python Language
Reference (``pydoc_data.topics``), which every machine has offline. The corpus does not
answer these questions: this measures throughput of the loop, not report quality.

    python bench/batch.py [--n 8] [--max-steps 12] [--server http://HOST:PORT/v1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_warp.language import query_language  # noqa: E402
from jupyter_warp.machine.reply import ActionError, split_reply  # noqa: E402
from jupyter_warp.batch import Question, run_lockstep  # noqa: E402
from jupyter_warp.config import WarpConfig  # noqa: E402
from jupyter_warp.llm.base import Backend  # noqa: E402
from jupyter_warp.records import ChatRequest, Completion, Searcher  # noqa: E402
from jupyter_warp.runs import Run, peek  # noqa: E402

DEFAULT_QUESTIONS = ROOT.parent / "shared" / "data" / "deep_research_bench" / "query.jsonl"


class RecordingBackend(Backend):
    """Passes calls through and records each ``generate`` call: size, wall time, request latencies."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.context_window = inner.context_window
        self.supports_grammar = inner.supports_grammar
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        t0 = time.perf_counter()
        out = self.inner.generate(requests)
        wall = time.perf_counter() - t0
        with self._lock:
            self.calls.append({"n": len(requests), "wall_s": wall, "latency_s": [c.latency_s for c in out],
                               "errors": sum(c.error is not None for c in out)})
        return out

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()

    def overlap(self) -> float:
        """Sum of request latencies over the sum of call wall times: 1 when requests run one
        at a time, up to the batch size when they all run together."""
        wall = sum(c["wall_s"] for c in self.calls)
        return sum(sum(c["latency_s"]) for c in self.calls) / wall if wall else 0.0


def english_questions(path: Path, n: int) -> list[Question]:
    """The first ``n`` English questions (DeepResearch Bench's ``language``, else detected)."""
    out: list[Question] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        text = str(data.get("prompt") or data.get("question") or "").strip()
        if text and (data.get("language") or query_language(text)) == "en":
            out.append(Question(f"q{data.get('id', len(out) + 1)}", text))
        if len(out) == n:
            break
    if len(out) < n:
        raise SystemExit(f"{path} has only {len(out)} English questions, {n} asked")
    return out


def pydoc_index(work: Path) -> Path:
    """Index of the Python Language Reference topics (built once, then reused incrementally)."""
    from jupyter_warp.corpus import build_index
    from jupyter_warp.corpus.samples import export_pydoc_topics

    corpus, index = work / "corpus", work / "index"
    export_pydoc_topics(corpus)
    build_index([corpus], index, progress=False)
    return index


@contextlib.contextmanager
def serve(args: argparse.Namespace, name: str = "llama-server") -> Iterator[tuple[str, Any]]:
    """The backend spec to use, and the llama-server handle when this process started it."""
    if args.server:
        url, sep, model = args.server.partition("#")
        url = url.rstrip("/")
        yield f"openai:{url if url.endswith('/v1') else url + '/v1'}{sep}{model}", None
        return
    from jupyter_warp.tools.llama_server import llama_server

    t0 = time.perf_counter()
    with llama_server(parallel=args.parallel, ctx_per_slot=args.ctx_per_slot, threads=args.threads or None,
                      log_path=args.out / f"{name}.log") as server:
        print(f"llama-server ready in {time.perf_counter() - t0:.1f} s at {server.base_url} "
              f"({args.parallel} slots, ctx {server.ctx_size}); log {server.log_path}", file=sys.stderr)
        yield server.spec, server


def well_formed(state: str, reply: str) -> bool:
    """The reply has a thought, a closed action, and (but for ``write``) strict JSON in it:
    what the grammar enforces, before the engine's checks of the content."""
    try:
        parsed = split_reply(reply)
        if not parsed.closed:
            return False
        if state != "write":
            json.loads(parsed.action_text)
        return True
    except (ActionError, ValueError):
        return False


def _status(run: Run) -> str:
    """The status on disk (``Run.resume`` turns a failed run back into a running one)."""
    info = peek(run.dir)
    return info.status if info else str(run.state.status)


def step_stats(runs: Sequence[Run]) -> dict[str, Any]:
    steps = [s for r in runs for s in r.steps]
    ok = sum(s.error is None for s in steps)
    formed = sum(well_formed(s.state, s.reply) for s in steps)
    by_state: dict[str, list[int]] = {}
    for s in steps:
        by_state.setdefault(s.state, [0, 0])
        by_state[s.state][0] += s.error is None
        by_state[s.state][1] += 1
    return {
        "steps": len(steps),
        "ok_steps": ok,
        "parse_share": round(ok / len(steps), 3) if steps else 0.0,
        "ok_by_state": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_state.items())},
        "well_formed_steps": formed,
        "format_share": round(formed / len(steps), 3) if steps else 0.0,
        "prompt_tokens": sum(r.state.counters["tokens_in"] for r in runs),
        "completion_tokens": sum(r.state.counters["tokens_out"] for r in runs),
        "status": dict(Counter(_status(r) for r in runs)),
        "errors": sorted({(s.error or "")[:80] for s in steps if s.error})[:8],
    }


def run_sequential(questions: Sequence[Question], config: WarpConfig, out: Path, backend: Backend,
                   searcher: Searcher) -> tuple[float, list[Run]]:
    runs: list[Run] = []
    t0 = time.perf_counter()
    for q in questions:
        run = Run.create(q.question, config, run_dir=out / q.id / "run", backend=backend, searcher=searcher)
        run.run()
        runs.append(run)
        print(f"  sequential {q.id}: {run.snapshot().summary}", file=sys.stderr)
    return time.perf_counter() - t0, runs


def run_lockstep_timed(questions: Sequence[Question], config: WarpConfig, out: Path, backend: Backend,
                       searcher: Searcher) -> tuple[float, list[Run]]:
    t0 = time.perf_counter()
    rows = run_lockstep(questions, config, out, backend=backend, searcher=searcher,
                        on_round=lambda rnd, left: print(f"  lockstep round {rnd}: {left} running", file=sys.stderr))
    seconds = time.perf_counter() - t0
    bad = [r for r in rows if r.status not in ("done", "failed")]
    if bad:
        print(f"  lockstep rows not done: {[(r.id, r.status, r.error) for r in bad]}", file=sys.stderr)
    return seconds, [Run.load(out / q.id / "run") for q in questions]


def metrics_delta(server: Any, before: dict[str, float] | None) -> dict[str, float]:
    """Server-side counters over one mode (llama-server only)."""
    if server is None:
        return {}
    now = server.metrics()
    keys = ("prompt_tokens_total", "prompt_tokens_cached_total", "tokens_predicted_total", "prompt_seconds_total",
            "tokens_predicted_seconds_total", "n_decode_total")
    out = {k: round(now.get(k, 0.0) - (before or {}).get(k, 0.0), 3) for k in keys}
    out["busy_slots_per_decode"] = round(server.busy_slots_per_decode(since=before), 3)
    return out


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from jupyter_warp.corpus import open_index
    from jupyter_warp.llm import get_backend

    args.out.mkdir(parents=True, exist_ok=True)
    questions = english_questions(args.questions, args.n)
    index = pydoc_index(args.out)
    config = WarpConfig(index=str(index), max_steps=args.max_steps, max_extends=args.max_extends,
                        first_k=args.first_k, k=args.k, passage_max_chars=args.passage_max_chars,
                        write_max_chars=args.write_max_chars, thought_max_chars=args.thought_max_chars,
                        temperature=args.temperature, seed=args.seed)
    result: dict[str, Any] = {"n": args.n, "config": config.to_dict(), "questions": [q.id for q in questions]}
    with open_index(index) as searcher:
        for mode in args.modes:
            # A fresh llama-server per mode: the second mode must not find the first one's
            # prompts (the same questions, the same seeds) in the server's prompt cache.
            with serve(args, f"llama-server-{mode}") as (spec, server), RecordingBackend(get_backend(spec)) as backend:
                result["server"] = spec
                folder = args.out / mode
                shutil.rmtree(folder, ignore_errors=True)
                before = server.metrics() if server is not None else None
                print(f"{mode}: {len(questions)} questions, max_steps {args.max_steps}", file=sys.stderr)
                fn = run_sequential if mode == "sequential" else run_lockstep_timed
                seconds, runs = fn(questions, config.replace(model=spec), folder, backend, searcher)
                stats = step_stats(runs)
                stats.update(seconds=round(seconds, 2), calls=len(backend.calls),
                             requests=sum(c["n"] for c in backend.calls), overlap=round(backend.overlap(), 2),
                             server_metrics=metrics_delta(server, before))
                result[mode] = stats
    return result


def report_lines(result: dict[str, Any]) -> list[str]:
    """The figures, one ``name: value`` a line; the headline ones first."""
    modes = [(m, result[m]) for m in ("sequential", "lockstep") if result.get(m)]
    seq, lock = result.get("sequential"), result.get("lockstep")
    lines = [f"{m}_s: {r['seconds']:.1f}" for m, r in modes]
    if seq and lock:
        lines.append(f"speedup: {seq['seconds'] / lock['seconds']:.2f}  (same questions and step budget; "
                     f"steps taken {seq['steps']} vs {lock['steps']})")
    lines += [f"tokens_per_s_{m}: {r['completion_tokens'] / r['seconds']:.1f}  (completion tokens)" for m, r in modes]
    lines += [f"total_tokens_per_s_{m}: {(r['prompt_tokens'] + r['completion_tokens']) / r['seconds']:.1f}  "
              f"(prompt+completion: {r['prompt_tokens']}+{r['completion_tokens']})" for m, r in modes]
    lines += [f"seconds_per_step_{m}: {r['seconds'] / max(1, r['steps']):.2f}" for m, r in modes]
    if seq and lock and seq["steps"] and lock["steps"]:
        lines.append(f"speedup_per_step: {(seq['seconds'] / seq['steps']) / (lock['seconds'] / lock['steps']):.2f}")
    lines += [f"parse_share_{m}: {r['parse_share']:.2f}  ({r['ok_steps']}/{r['steps']} steps with error None; "
              f"by state {r['ok_by_state']})" for m, r in modes]
    lines += [f"format_share_{m}: {r['format_share']:.2f}  ({r['well_formed_steps']}/{r['steps']} replies in the "
              "action format: tags closed, strict JSON)" for m, r in modes]
    for m, r in modes:
        sm = r.get("server_metrics") or {}
        line = f"concurrency_{m}: {r['requests']} requests in {r['calls']} calls, latency overlap {r['overlap']:.2f}"
        if sm:
            line += (f"; server: busy slots per decode {sm['busy_slots_per_decode']:.2f}, prompt processing "
                     f"{sm['prompt_seconds_total']:.0f} s for {sm['prompt_tokens_total']:.0f} tokens "
                     f"(+{sm['prompt_tokens_cached_total']:.0f} cached), {sm['n_decode_total']:.0f} decode calls")
        lines.append(line)
    lines += [f"runs_{m}: {r['status']}" for m, r in modes]
    return lines


def restat(result: dict[str, Any], out: Path) -> dict[str, Any]:
    """Recompute the step figures of a finished bench from its run folders (``--report-only``)."""
    for mode in ("sequential", "lockstep"):
        if result.get(mode):
            runs = [Run.load(out / mode / q / "run") for q in result["questions"]]
            result[mode].update(step_stats(runs))
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=8, help="questions (the first N English ones)")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    p.add_argument("--server", default=None,
                   help="an OpenAI-compatible server's URL (http://HOST:PORT/v1[#MODEL]) instead of building and "
                        "starting llama-server; note its prompt cache may favour the second mode")
    p.add_argument("--parallel", type=int, default=8, help="llama-server slots")
    p.add_argument("--ctx-per-slot", type=int, default=4096)
    p.add_argument("--threads", type=int, default=1,
                   help="llama-server threads; 0: its own default (all cores). On a small shared machine 1 is "
                        "far faster: spinning worker threads lose their core to other work")
    p.add_argument("--max-steps", type=int, default=12)
    p.add_argument("--max-extends", type=int, default=0)
    p.add_argument("--first-k", type=int, default=4)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--passage-max-chars", type=int, default=400)
    p.add_argument("--write-max-chars", type=int, default=600)
    p.add_argument("--thought-max-chars", type=int, default=150)
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (the default, 0.7)")
    p.add_argument("--seed", type=int, default=0, help="per-step seeds (seed + step) so both modes ask alike")
    p.add_argument("--modes", default="sequential,lockstep", help="comma-separated: sequential, lockstep")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "bench-batch")
    p.add_argument("--json", type=Path, default=None, help="write the full result here (default: OUT/result.json)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: print the figures of the bench already in --out")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - {"sequential", "lockstep"}
    if unknown:
        p.error(f"unknown mode(s) {sorted(unknown)}: use sequential, lockstep")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.json or args.out / "result.json"
    if args.report_only:
        result = restat(json.loads(path.read_text(encoding="utf-8")), args.out)
    else:
        result = bench(args)
    for line in report_lines(result):
        print(line)
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"result: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
