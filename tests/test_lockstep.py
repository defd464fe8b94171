"""The self-measuring lockstep fallback (``jupyter_warp.lockstep.Pacer``) on a backend whose
batch cost is scripted on a fake clock, alone and inside ``run_lockstep``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from jupyter_warp.batch import Question, run_lockstep
from jupyter_warp.config import WarpConfig
from jupyter_warp.llm.base import Backend
from jupyter_warp.lockstep import Pacer, run_turns
from jupyter_warp.records import ChatRequest, Completion
from jupyter_warp.runs import Run
from scripted import MemorySearcher, ScriptedBackend, good_script


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CostedBackend(Backend):
    """Answers through ``inner`` and advances the fake clock by ``cost(batch size)`` seconds
    per call; every reply counts ``tokens`` generated tokens."""

    def __init__(self, clock: FakeClock, cost: Callable[[int], float], inner: Backend | None = None,
                 tokens: int = 10) -> None:
        self.clock, self.cost, self.inner, self.tokens = clock, cost, inner, tokens
        self.sizes: list[int] = []

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.sizes.append(len(requests))
        self.clock.now += self.cost(len(requests))
        if self.inner is None:
            return [Completion(r.prompt.upper(), completion_tokens=self.tokens) for r in requests]
        return [Completion(c.text, c.prompt_tokens, self.tokens, c.latency_s) for c in self.inner.generate(requests)]

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1


def per_request(costs: dict[int, float]) -> Callable[[int], float]:
    """A call of n requests costs n times the per-request cost of its size (the largest key <= n)."""
    return lambda n: n * costs[max(k for k in costs if k <= n)]


def rounds(pacer: Pacer, backend: CostedBackend, n: int, count: int) -> list[list[int]]:
    """The call sizes of ``count`` rounds of ``n`` requests each."""
    out = []
    for r in range(count):
        before = len(backend.sizes)
        requests = [ChatRequest(f"q{i} r{r}") for i in range(n)]
        got = pacer.generate(backend.generate, requests)
        assert [c.text for c in got] == [q.prompt.upper() for q in requests]  # every reply, in order
        out.append(backend.sizes[before:])
    return out


def test_keeps_batching_when_a_batch_is_cheaper() -> None:
    clock, notes = FakeClock(), []
    backend = CostedBackend(clock, per_request({1: 1.0, 2: 0.5}))
    pacer = Pacer(clock=clock, on_note=notes.append)
    sizes = rounds(pacer, backend, 4, 6)
    assert sizes[:2] == [[1, 3], [1, 3]]  # measuring: one alone, the rest together
    assert sizes[2:] == [[4]] * 4  # then the whole round in one call
    assert pacer.settled and pacer.limit is None and notes == []
    assert pacer.summary()["ratio"] == pytest.approx(0.5)


def test_falls_back_to_one_at_a_time_when_batching_is_slower() -> None:
    clock, notes = FakeClock(), []
    backend = CostedBackend(clock, per_request({1: 1.0, 2: 1.3}))
    pacer = Pacer(clock=clock, on_note=notes.append)
    sizes = rounds(pacer, backend, 4, 6)
    assert sizes[:2] == [[1, 3], [1, 3]]
    assert sizes[2] == [2, 2]  # half the batch first
    assert sizes[3:] == [[1, 1, 1, 1]] * 3  # still slower: one question at a time
    assert len(notes) == 1 and "one question at a time" in notes[0] and "1.30x" in notes[0]
    assert pacer.settled and pacer.limit == 1


def test_settles_on_the_batch_size_that_pays() -> None:
    clock, notes = FakeClock(), []
    backend = CostedBackend(clock, per_request({1: 1.0, 2: 0.7, 3: 1.2}))  # pairs pay, larger batches do not
    pacer = Pacer(clock=clock, on_note=notes.append)
    sizes = rounds(pacer, backend, 4, 5)
    assert sizes[:2] == [[1, 3], [1, 3]]
    assert sizes[2:] == [[2, 2]] * 3
    assert notes == [notes[0]] and "batches of at most 2" in notes[0]


def test_measures_before_deciding_and_respects_max_batch() -> None:
    clock = FakeClock()
    backend = CostedBackend(clock, per_request({1: 1.0, 2: 5.0}))
    pacer = Pacer(max_batch=3, samples=3, clock=clock)
    sizes = rounds(pacer, backend, 7, 4)
    assert sizes == [[1, 3, 3]] * 3 + [[1] * 7]  # 3 single calls measured before giving up
    # Two requests a round: both singles in one round, then pairs until both kinds are known.
    pacer, backend = Pacer(clock=clock), CostedBackend(clock, per_request({1: 1.0, 2: 0.5}))
    assert rounds(pacer, backend, 2, 2) == [[1, 1], [2]] and not pacer.settled
    assert rounds(pacer, backend, 2, 2) == [[2], [2]] and pacer.settled and pacer.limit is None


def test_a_margin_tolerates_a_batch_that_is_about_as_fast() -> None:
    clock = FakeClock()
    strict = Pacer(clock=clock)
    rounds(strict, CostedBackend(clock, per_request({1: 1.0, 2: 1.04})), 4, 4)
    tolerant = Pacer(margin=0.1, clock=clock)
    rounds(tolerant, CostedBackend(clock, per_request({1: 1.0, 2: 1.04})), 4, 4)
    assert strict.limit == 1 and tolerant.limit is None and tolerant.settled


def test_slow_batches_fall_back_inside_run_lockstep(tmp_path) -> None:
    """The same questions one by one and in lockstep through the pacer: the same steps,
    valid reports, and the lockstep rounds end up one request per call."""
    config = WarpConfig(max_steps=12, max_extends=0, first_k=2, k=2)
    questions = [Question(f"q{i}", f"Question number {i} about alpha?") for i in range(4)]
    clock, notes = FakeClock(), []
    pacer = Pacer(clock=clock, on_note=notes.append)
    costed = CostedBackend(clock, per_request({1: 1.0, 2: 1.5}), inner=ScriptedBackend(good_script()))

    rows = run_lockstep(questions, config, tmp_path / "lockstep", backend=costed, searcher=MemorySearcher(),
                        pacer=pacer)
    assert [r.status for r in rows] == ["done"] * 4
    assert len(notes) == 1 and "one question at a time" in notes[0]
    assert costed.sizes[-4:] == [1, 1, 1, 1]
    for q in questions:
        alone = Run.create(q.question, config, run_dir=tmp_path / "alone" / q.id,
                           backend=ScriptedBackend(good_script()), searcher=MemorySearcher()).run()
        together = Run.load(tmp_path / "lockstep" / q.id / "run")
        assert [s.state for s in together.steps] == [s.state for s in alone.steps]
        assert all(s.error is None for s in together.steps)
        assert together.state.status == alone.state.status == "done"
        assert (tmp_path / "lockstep" / q.id / "report.md").read_text(encoding="utf-8").count("[1]") >= 1


def test_run_turns_answers_in_rounds_through_the_pacer() -> None:
    """A backend that cannot refill its batch: each round is one ``generate`` call through
    the pacer, a question leaves when its ``next_request`` says it is done."""
    clock, notes = FakeClock(), []
    backend = CostedBackend(clock, per_request({1: 1.0, 2: 2.0}))
    turns_left = {"a": 5, "b": 2, "c": 5, "d": 5}
    seen: list[tuple[str, str]] = []

    def next_request(key: str, completion: Completion) -> ChatRequest | None:
        seen.append((key, completion.text))
        turns_left[key] -= 1
        return ChatRequest(f"{key}{turns_left[key]}") if turns_left[key] else None

    run_turns(backend, {k: ChatRequest(f"{k}{n}") for k, n in turns_left.items()}, next_request,
              Pacer(clock=clock, on_note=notes.append))
    assert [t for k, t in seen if k == "a"] == ["A5", "A4", "A3", "A2", "A1"]  # each question's turns in order
    assert [t for k, t in seen if k == "b"] == ["B2", "B1"]
    assert backend.sizes[:4] == [1, 3, 1, 3]  # measuring: one alone, the rest together
    assert backend.sizes[4:8] == [2, 1, 2, 1]  # batches cost double: half the batch ("b" is done)
    assert backend.sizes[8:] == [1, 1, 1] and len(notes) == 1  # still double: one at a time


def test_run_turns_hands_a_refilling_backend_the_whole_run() -> None:
    class Refilling:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def generate_refilled(self, requests, refill) -> None:
            self.calls.append([r.prompt for r in requests])
            pending = list(enumerate(requests))
            while pending:
                slot, request = pending.pop(0)
                follow = refill(slot, Completion(request.prompt.upper()))
                if follow is not None:
                    pending.append((slot, follow))

    backend, seen = Refilling(), []

    def next_request(key: str, completion: Completion) -> ChatRequest | None:
        seen.append((key, completion.text))
        return ChatRequest(key + "2") if not completion.text.endswith("2") else None

    run_turns(backend, {"x": ChatRequest("x1"), "y": ChatRequest("y1")}, next_request)
    assert backend.calls == [["x1", "y1"]]  # one call; the next turns joined through refill
    assert seen == [("x", "X1"), ("y", "Y1"), ("x", "X2"), ("y", "Y2")]


class SizedBackend(Backend):
    """Requests named ``"P C"``: P prompt tokens, C generated tokens. Alone a request costs
    ``0.01 P + 0.05 C`` seconds; a batch costs ``factor`` times its requests alone."""

    def __init__(self, clock: FakeClock, factor: float) -> None:
        self.clock, self.factor = clock, factor
        self.sizes: list[int] = []

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.sizes.append(len(requests))
        sizes = [tuple(map(int, r.prompt.split())) for r in requests]
        alone = sum(0.01 * p + 0.05 * c for p, c in sizes)
        self.clock.now += alone * (self.factor if len(requests) > 1 else 1.0)
        return [Completion(r.prompt, prompt_tokens=p, completion_tokens=c)
                for r, (p, c) in zip(requests, sizes, strict=True)]

    def count_tokens(self, text: str) -> int:
        return len(text)


@pytest.mark.parametrize(("factor", "limit"), [(1.25, 1), (0.6, None)])
def test_batches_are_judged_against_the_same_requests_alone(factor: float, limit: int | None) -> None:
    """One long prompt with a short reply beside short prompts with long replies: per
    generated token a batch of a server that cannot batch (factor 1.25) looks cheaper than
    the long-prompt request alone; against what its own requests cost alone it is not."""
    clock, notes = FakeClock(), []
    backend = SizedBackend(clock, factor)
    pacer = Pacer(clock=clock, on_note=notes.append)
    round_ = [ChatRequest(s) for s in ("2000 10", "100 200", "500 50", "800 300")]
    for _ in range(6):
        assert [c.text for c in pacer.generate(backend.generate, round_)] == [r.prompt for r in round_]
    assert pacer.limit == limit and pacer.summary()["ratio"] == pytest.approx(factor if limit else 0.6)
    assert pacer.summary()["s_per_prompt_token"] == pytest.approx(0.01)
    assert len(notes) == (1 if limit else 0)
    assert backend.sizes[-1] == (1 if limit else 4)
