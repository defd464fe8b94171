"""Lockstep against one question after another, profiled by phase (GitHub issues 6 and 18).

The same N research questions run with the same settings and step budget in each mode, each
on a fresh backend (a freshly loaded in-process model with an empty grammar cache, or a
fresh llama-server), so no mode finds another's work in a cache:

- ``sequential``: one ``Run`` after another;
- ``lockstep``: all together through ``jupyter_warp.batch.run_lockstep`` (what
  ``jupyter-warp batch --lockstep`` runs): an in-process transformers backend refills its batch
  as rows finish; any other backend answers in rounds through the self-measuring fallback
  (``Pacer``);
- ``rounds`` (opt-in): the same, but one batched ``generate`` call a round and no refill.

Printed per target::

    # in_process (smollm2; 4 questions, max_steps 8)     the default
    sequential_s: X
    lockstep_s: Y
    speedup: Z
    ...then the profile by phase side by side, occupancy, tokens, steps

``--server URL`` (a running OpenAI-compatible server) or ``--llama-server`` (built once,
cached, started with ``--parallel`` slots and one thread) compares on a server instead;
``--in-process`` keeps the in-process comparison beside it.

Phases: prompt building (the machine's ``prepare``), chat template and tokenizing, grammar
compile, prefill, decode (with the grammar mask and sampling inside it), rows joining and
leaving the batch, the engine (validating a reply, searching, saving the step) and
``other`` (the rest of the wall time); for a server, its calls and the time a reply waited
for the slowest one of its round. Backend phases come from the backend's own
``last_profile`` (the transformers backend), never from guesses.

Sampling is the engine's default (temperature 0.7, top_p 0.8) with per-step seeds; the
transformers backend samples each row from its own seeded generator, so every mode takes
the same steps there (compare the token counts). The questions are the first N English ones
of DeepResearch Bench; the corpus is the Python Language Reference (``pydoc_data.topics``);
the settings are the demo's (``DEMO_BUDGET``) with 8 steps.

    python bench/batch.py [--n 4] [--max-steps 8] [--modes sequential,lockstep,rounds]
                          [--llama-server | --server URL [--in-process]] [--no-refill] [--pacer]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from batch_profile import RecordingBackend, RoundsOnly, timed_policy

from jupyter_warp.batch import Question, run_lockstep
from jupyter_warp.config import WarpConfig
from jupyter_warp.demo import DEMO_BUDGET
from jupyter_warp.language import query_language
from jupyter_warp.llm.base import Backend
from jupyter_warp.lockstep import Pacer
from jupyter_warp.records import Searcher
from jupyter_warp.runs import Run, peek

DEFAULT_QUESTIONS = ROOT.parent / "shared" / "data" / "deep_research_bench" / "query.jsonl"
MODES = ("sequential", "lockstep", "rounds")
PHASE_NAMES = {
    "prompt_s": "prompt building (machine.prepare)",
    "tokenize_s": "chat template + tokenize",
    "compile_s": "grammar compile",
    "prefill_s": "prefill",
    "decode_s": "decode",
    "wait_s": "  of which on finished rows (waiting on the longest)",
    "mask_s": "  of which grammar mask",
    "sample_s": "  of which sampling",
    "merge_s": "rows joining and leaving the batch",
    "row_wait_s": "replies waiting for their round's slowest",
    "backend_s": "backend calls in all",
    "engine_s": "engine (validate, search, save)",
    "other_s": "other (reports, bookkeeping)",
}


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
def serve(args: argparse.Namespace, target: str, mode: str) -> Iterator[tuple[str, Any]]:
    """The backend spec for ``target`` and the llama-server handle when this process started it."""
    if target == "in_process":
        yield args.model, None
    elif args.server:
        url, sep, model = args.server.partition("#")
        url = url.rstrip("/")
        yield f"openai:{url if url.endswith('/v1') else url + '/v1'}{sep}{model}", None
    else:
        from jupyter_warp.tools.llama_server import llama_server

        t0 = time.perf_counter()
        with llama_server(parallel=args.parallel, ctx_per_slot=args.ctx_per_slot, threads=args.threads or None,
                          log_path=args.out / f"llama-server-{mode}.log") as server:
            print(f"llama-server ready in {time.perf_counter() - t0:.1f} s at {server.base_url} "
                  f"({args.parallel} slots, ctx {server.ctx_size})", file=sys.stderr)
            yield server.spec, server


def _status(run: Run) -> str:
    """The status on disk (``Run.resume`` turns a failed run back into a running one)."""
    info = peek(run.dir)
    return info.status if info else str(run.state.status)


def step_stats(runs: Sequence[Run]) -> dict[str, Any]:
    steps = [s for r in runs for s in r.steps]
    by_state: dict[str, list[int]] = {}
    for s in steps:
        by_state.setdefault(s.state, [0, 0])
        by_state[s.state][0] += s.error is None
        by_state[s.state][1] += 1
    return {
        "steps": len(steps),
        "ok_steps": sum(s.error is None for s in steps),
        "ok_by_state": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_state.items())},
        "prompt_tokens": sum(r.state.counters["tokens_in"] for r in runs),
        "completion_tokens": sum(r.state.counters["tokens_out"] for r in runs),
        "status": dict(Counter(_status(r) for r in runs)),
        "errors": sorted({(s.error or "")[:80] for s in steps if s.error})[:8],
    }


def run_sequential(questions: Sequence[Question], config: WarpConfig, out: Path, backend: Backend,
                   searcher: Searcher) -> list[Run]:
    runs: list[Run] = []
    for q in questions:
        run = Run.create(q.question, config, run_dir=out / q.id / "run", backend=backend, searcher=searcher)
        run.run()
        runs.append(run)
        print(f"  sequential {q.id}: {run.snapshot().summary}", file=sys.stderr)
    return runs


def run_lockstep_all(questions: Sequence[Question], config: WarpConfig, out: Path, backend: Backend,
                     searcher: Searcher, pacer: Pacer) -> list[Run]:
    """The engine's ``batch.run_lockstep``: the batch refilled as rows finish where the
    backend can, else rounds through the pacer."""
    rows = run_lockstep(questions, config, out, backend=backend, searcher=searcher, pacer=pacer)
    bad = [r for r in rows if r.status not in ("done", "failed")]
    if bad:
        print(f"  lockstep rows not done: {[(r.id, r.status, r.error) for r in bad]}", file=sys.stderr)
    return [Run.load(out / q.id / "run") for q in questions]


def run_mode(args: argparse.Namespace, target: str, mode: str, questions: Sequence[Question], config: WarpConfig,
             searcher: Searcher) -> dict[str, Any]:
    """One mode on a fresh backend: wall time, phases, step figures."""
    from jupyter_warp.llm import get_backend

    phases: dict[str, float] = defaultdict(float)
    with serve(args, target, mode) as (spec, server):
        t0 = time.perf_counter()
        inner = get_backend(spec)
        load_s = time.perf_counter() - t0
        if (args.no_refill or mode == "rounds") and hasattr(inner, "generate_refilled"):
            inner = RoundsOnly(inner)  # type: ignore[assignment]
        rounds = not hasattr(inner, "generate_refilled")
        note = lambda text: print(f"  pacer: {text}", file=sys.stderr)  # noqa: E731
        pacer = Pacer(on_note=note) if args.pacer or mode == "lockstep" else Pacer(samples=0, reprobe_every=None)
        folder = args.out / target / mode
        shutil.rmtree(folder, ignore_errors=True)
        before = server.metrics() if server is not None else None
        print(f"{target} {mode}: {len(questions)} questions, max_steps {config.max_steps} ({spec})", file=sys.stderr)
        with RecordingBackend(inner, phases) as backend, timed_policy(phases):
            t0, cpu0 = time.perf_counter(), time.process_time()
            if mode == "sequential":
                runs = run_sequential(questions, config.replace(model=spec), folder, backend, searcher)
            else:
                runs = run_lockstep_all(questions, config.replace(model=spec), folder, backend, searcher, pacer)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        stats = step_stats(runs)
        accounted = sum(phases[k] for k in ("prompt_s", "backend_s", "engine_s"))
        phases["other_s"] = max(0.0, seconds - accounted)
        stats.update(seconds=round(seconds, 2), cpu_s=round(cpu, 2), load_s=round(load_s, 2), spec=spec,
                     calls=len(backend.calls),
                     requests=sum(c["n"] for c in backend.calls), overlap=round(backend.overlap(), 2),
                     phases={k: round(v, 3) for k, v in phases.items()},
                     pacer=pacer.summary() if mode != "sequential" and rounds else None)
        if server is not None:
            stats["busy_slots_per_decode"] = round(server.busy_slots_per_decode(since=before), 3)
    return stats


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from jupyter_warp.corpus import open_index

    args.out.mkdir(parents=True, exist_ok=True)
    questions = english_questions(args.questions, args.n)
    index = pydoc_index(args.out)
    config = WarpConfig().replace(**{**DEMO_BUDGET, "index": str(index), "max_steps": args.max_steps,
                                     "seed": args.seed})
    result: dict[str, Any] = {"n": args.n, "config": config.to_dict(), "questions": [q.id for q in questions],
                              "load_before": _load()}
    with open_index(index) as searcher:
        for target in args.targets:
            result[target] = {mode: run_mode(args, target, mode, questions, config, searcher) for mode in args.modes}
    result["load_after"] = _load()
    return result


def _load() -> list[float]:
    import os

    return [round(x, 2) for x in os.getloadavg()]


def report_lines(result: dict[str, Any]) -> list[str]:
    """Per target: the headline figures, then the profile by phase side by side."""
    lines = [f"# load average before {result['load_before']}, after {result.get('load_after')}"]
    for target in ("in_process", "server"):
        modes = [(m, result[target][m]) for m in MODES if result.get(target, {}).get(m)]
        if not modes:
            continue
        seq = result[target].get("sequential")
        lines.append(f"# {target} ({modes[0][1]['spec']}; {result['n']} questions, "
                     f"max_steps {result['config']['max_steps']})")
        lines += [f"{m}_s: {r['seconds']:.1f}" for m, r in modes]
        for m, r in modes:
            if seq and m != "sequential":
                name = "speedup" if m == "lockstep" else f"speedup_{m}"
                per_step = (seq["seconds"] / max(1, seq["steps"])) / (r["seconds"] / max(1, r["steps"]))
                lines.append(f"{name}: {seq['seconds'] / r['seconds']:.2f}  (steps taken {seq['steps']} vs "
                             f"{r['steps']}; per step {per_step:.2f})")
        # CPU seconds of this process: steadier than wall time where other work shares the cores.
        lines += [f"{m}_cpu_s: {r['cpu_s']:.1f}" for m, r in modes if "cpu_s" in r]
        lines += [f"cpu_ratio_{m}: {seq['cpu_s'] / r['cpu_s']:.2f}" for m, r in modes
                  if seq and m != "sequential" and r.get("cpu_s") and seq.get("cpu_s")]
        lines.append(f"{'phase (s)':<54}" + "".join(f"{m:>12}" for m, _ in modes))
        for key, name in PHASE_NAMES.items():
            values = [r["phases"].get(key) for _, r in modes]
            if any(v for v in values):
                lines.append(f"  {name:<52}" + "".join(f"{v or 0.0:>12.1f}" for v in values))
        lines.append(f"  {'rows per decode step (batch occupancy)':<52}" + "".join(
            f"{r['phases'].get('row_steps', 0) / max(1, r['phases'].get('decode_steps', 0)):>12.2f}" for _, r in modes))
        for m, r in modes:
            lines.append(f"{m}: {r['calls']} calls for {r['requests']} requests, "
                         f"{r['prompt_tokens']}+{r['completion_tokens']} tokens, "
                         f"{r['completion_tokens'] / r['seconds']:.1f} completion tok/s, ok steps "
                         f"{r['ok_steps']}/{r['steps']} {r['ok_by_state']}, runs {r['status']}, load {r['load_s']} s"
                         + (f", busy slots per decode {r['busy_slots_per_decode']}"
                            if "busy_slots_per_decode" in r else "")
                         + (f", pacer {r['pacer']}" if r.get("pacer") else ""))
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=4, help="questions (the first N English ones)")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    p.add_argument("--model", default="smollm2", help="the in-process backend spec")
    p.add_argument("--server", default=None, help="compare on a running OpenAI-compatible server "
                   "(http://HOST:PORT/v1[#MODEL]); its prompt cache may favour the second mode")
    p.add_argument("--llama-server", action="store_true",
                   help="compare on llama.cpp's llama-server (built once and cached; a fresh one per mode)")
    p.add_argument("--in-process", action="store_true", help="with a server: run the in-process comparison too")
    p.add_argument("--parallel", type=int, default=8, help="llama-server slots")
    p.add_argument("--ctx-per-slot", type=int, default=4096)
    p.add_argument("--threads", type=int, default=1, help="llama-server threads; 0: its own default")
    p.add_argument("--max-steps", type=int, default=8)
    p.add_argument("--seed", type=int, default=0, help="per-step seeds (seed + step) so both modes ask alike")
    p.add_argument("--pacer", action="store_true", help="the rounds mode through the self-measuring fallback too "
                                                         "(default: every round one batched call)")
    p.add_argument("--no-refill", action="store_true",
                   help="lockstep in rounds (through the fallback) even where the backend can refill its batch")
    p.add_argument("--modes", default="sequential,lockstep",
                   help="comma-separated: sequential; lockstep (jupyter_warp.batch.run_lockstep: the batch refilled "
                        "as rows finish where the backend can, else rounds through the fallback); rounds (rounds of "
                        "one batched call each, the batch never refilled)")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "bench-batch")
    p.add_argument("--json", type=Path, default=None, help="write the full result here (default: OUT/result.json)")
    p.add_argument("--report-only", action="store_true", help="run nothing: print the figures in --json")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if set(args.modes) - set(MODES):
        p.error(f"unknown mode(s) {sorted(set(args.modes) - set(MODES))}: use {', '.join(MODES)}")
    server = bool(args.server or args.llama_server)
    args.targets = (["in_process"] if args.in_process or not server else []) + (["server"] if server else [])
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.json or args.out / "result.json"
    result = json.loads(path.read_text(encoding="utf-8")) if args.report_only else bench(args)
    for line in report_lines(result):
        print(line)
    if not args.report_only:
        path.write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"result: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
