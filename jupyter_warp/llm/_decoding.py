"""Continuous batching for the transformers backend: rows join and leave the running batch.

``model.generate`` pads every prompt of a batch to the longest one and decodes every row
until the longest reply is done (finished rows keep computing padding). Here each prompt
is prefilled alone (no padding, the causal fast path), its key/value cache is merged into
the running batch (left-padded to a common width), a row leaves the batch the step it
finishes, and a waiting prompt takes its place: one the caller handed back when the row
finished (that question's next turn), so the batch stays full across a question's steps.
Each row samples with its own seeded generator, so a reply does not depend on which other
requests share the batch. Measured on 2 cores (SmolLM2-135M, fp32): a decode step of 4
rows costs about 1.9 times one of 1 row, so batching pays only while the batch is full.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

_NUCLEUS_GUESS = 64
"""Most likely tokens ranked before falling back to sorting the vocabulary for top-p."""


@dataclass
class Row:
    """One request being decoded."""

    prompt: list[int]
    limit: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    matcher: Any = None
    """An ``xgrammar.GrammarMatcher``, or None: unconstrained."""
    slot: int = 0
    """Which question (request list position) the row answers."""
    admitted_at: float = 0.0
    tokens: list[int] = field(default_factory=list)
    finish: str = ""
    """``stop``, ``length`` or ``error`` once the row is done."""
    error: str | None = None
    finished_at: float = 0.0
    generator: Any = None


@dataclass
class DecodeProfile:
    """Where one decode call's time went, for ``last_profile``."""

    prefill_s: float = 0.0
    decode_s: float = 0.0
    """Decode steps: forward passes, the grammar mask and sampling."""
    mask_s: float = 0.0
    sample_s: float = 0.0
    merge_s: float = 0.0
    """Joining a prefilled row's cache to the running batch, and dropping finished rows."""
    decode_steps: int = 0
    row_steps: int = 0
    """Rows summed over decode steps (the batch's occupancy)."""
    prompt_tokens: int = 0


class BatchDecoder:
    """Decodes rows with at most ``batch_size`` in flight; a row's result lands on the row."""

    def __init__(self, model: Any, torch: Any, eos_ids: Sequence[int], batch_size: int, xgr: Any = None,
                 vocab_size: int = 0, prefill_bf16: bool = False,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        from transformers import DynamicCache

        self.model, self.torch, self._cache_class = model, torch, DynamicCache
        # transformers 5 renamed the forward's ``past_key_values`` to ``cache``.
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.device = next(model.parameters()).device
        self.eos = set(eos_ids)
        self.batch_size = max(1, batch_size)
        self.xgr, self.vocab_size, self.clock = xgr, vocab_size, clock
        self._prefill_context: Callable[[], Any] = (
            (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) if prefill_bf16 else contextlib.nullcontext
        )

    def run(self, rows: Sequence[Row], on_finish: Callable[[Row], Row | None] | None = None) -> DecodeProfile:
        """Decode every row; rows wait in order for a place in the batch. ``on_finish`` gets each
        row the step it finishes and may hand back a new row (the same question's next turn),
        which joins the running batch as soon as there is room."""
        torch, prof = self.torch, DecodeProfile()
        waiting: list[Row] = list(rows)
        running: list[Row] = []
        cache = mask = positions = logits = None
        with torch.inference_mode():
            while waiting or running:
                while waiting and len(running) < self.batch_size:
                    row = waiting.pop(0)
                    t0 = self.clock()
                    row_cache, row_logits = self._prefill(row)
                    t1 = self.clock()
                    prof.prefill_s += t1 - t0
                    prof.prompt_tokens += len(row.prompt)
                    row_mask = torch.ones((1, len(row.prompt)), dtype=torch.long, device=self.device)
                    row_pos = torch.tensor([len(row.prompt)], device=self.device)
                    if cache is None:
                        cache, mask, positions, logits = row_cache, row_mask, row_pos, row_logits
                    else:
                        mask = self._merge(cache, row_cache, mask, row_mask)
                        positions = torch.cat([positions, row_pos])
                        logits = torch.cat([logits, row_logits])
                    running.append(row)
                    prof.merge_s += self.clock() - t1
                t0 = self.clock()
                tokens = self._choose(running, logits, prof)
                keep = [i for i, (row, token) in enumerate(zip(running, tokens, strict=True))
                        if not self._accept(row, token)]
                prof.decode_s += self.clock() - t0
                if len(keep) < len(running):
                    t0 = self.clock()
                    done = [row for i, row in enumerate(running) if i not in keep]
                    running, tokens = [running[i] for i in keep], [tokens[i] for i in keep]
                    if running:
                        mask, positions = self._select(cache, mask, positions, keep)
                    else:
                        cache = mask = positions = logits = None
                    prof.merge_s += self.clock() - t0
                    for row in done:
                        follow = on_finish(row) if on_finish else None
                        if follow is not None:
                            waiting.append(follow)
                    if not running:
                        continue
                assert mask is not None and positions is not None  # set whenever rows are running
                t0 = self.clock()
                mask = torch.cat([mask, mask.new_ones((len(running), 1))], dim=1)
                out = self.model(
                    input_ids=torch.tensor(tokens, device=self.device)[:, None],
                    attention_mask=mask,
                    position_ids=positions[:, None],
                    use_cache=True,
                    **{self._cache_kw: cache},
                )
                positions = positions + 1
                logits = out.logits[:, -1, :].float()
                prof.decode_s += self.clock() - t0
                prof.decode_steps += 1
                prof.row_steps += len(running)
        return prof

    def _prefill(self, row: Row) -> tuple[Any, Any]:
        """The row's cache and its next-token logits, from the prompt alone."""
        torch = self.torch
        # Untyped as in _merge and _select: transformers types a layer as possibly keyless (linear
        # attention), but the models decoded here have full-attention layers with key/value tensors.
        cache: Any = self._cache_class()
        ids = torch.tensor([row.prompt], device=self.device)
        with self._prefill_context():
            out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **{self._cache_kw: cache})
        dtype = self.model.dtype
        for layer in cache.layers:
            if layer.keys.dtype != dtype or layer.values.dtype != dtype:
                layer.keys, layer.values = layer.keys.to(dtype), layer.values.to(dtype)
        if row.seed is not None and row.temperature > 0:
            row.generator = torch.Generator(device=self.device).manual_seed(row.seed)
        return cache, out.logits[:, -1, :].float()

    def _merge(self, cache: Any, other: Any, mask: Any, other_mask: Any) -> Any:
        """Append ``other``'s rows to ``cache`` (in place), left-padding the shorter; the new mask."""
        torch = self.torch
        pad = torch.nn.functional.pad
        width, other_width = mask.shape[1], other_mask.shape[1]
        full = max(width, other_width)
        for layer, add in zip(cache.layers, other.layers, strict=True):
            layer.keys = torch.cat([pad(layer.keys, (0, 0, full - width, 0)),
                                    pad(add.keys, (0, 0, full - other_width, 0))])
            layer.values = torch.cat([pad(layer.values, (0, 0, full - width, 0)),
                                      pad(add.values, (0, 0, full - other_width, 0))])
        return torch.cat([pad(mask, (full - width, 0)), pad(other_mask, (full - other_width, 0))])

    def _select(self, cache: Any, mask: Any, positions: Any, keep: list[int]) -> tuple[Any, Any]:
        """Keep only rows ``keep``, and drop the padding columns no kept row needs."""
        index = self.torch.tensor(keep, device=self.device)
        mask, positions = mask[index], positions[index]
        lead = int(mask.any(dim=0).int().argmax())
        for layer in cache.layers:
            layer.keys, layer.values = layer.keys[index, :, lead:], layer.values[index, :, lead:]
        return mask[:, lead:], positions

    def _choose(self, rows: Sequence[Row], logits: Any, prof: DecodeProfile) -> list[int]:
        """One token per row: the grammar mask, then greedy or temperature and top-p sampling."""
        torch = self.torch
        t0 = self.clock()
        constrained = [i for i, r in enumerate(rows) if r.matcher is not None and not r.matcher.is_terminated()]
        if constrained:
            bitmask = self.xgr.allocate_token_bitmask(len(rows), self.vocab_size)
            for i in constrained:
                rows[i].matcher.fill_next_token_bitmask(bitmask, i)
            if logits.device.type in ("cpu", "cuda"):
                self.xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device), vocab_size=self.vocab_size,
                                                     indices=constrained)
            else:  # xgrammar's kernels cover CPU and CUDA only
                cpu = logits.cpu()
                self.xgr.apply_token_bitmask_inplace(cpu, bitmask, vocab_size=self.vocab_size, indices=constrained)
                logits = cpu.to(logits.device)
        t1 = self.clock()
        prof.mask_s += t1 - t0
        tokens: list[int] = logits.argmax(dim=-1).tolist()
        for i, row in enumerate(rows):
            if row.temperature > 0:
                tokens[i] = self._sample(torch.softmax(logits[i] / row.temperature, dim=-1), row)
        prof.sample_s += self.clock() - t1
        return tokens

    def _sample(self, probs: Any, row: Row) -> int:
        """A token from the smallest set of most likely tokens whose mass reaches ``top_p``.

        The nucleus is nearly always among the few most likely tokens, so those are ranked
        first (``topk``); the whole vocabulary is sorted only when they fall short.
        """
        ranked, order = probs.topk(min(_NUCLEUS_GUESS, probs.numel()))
        if float(ranked.sum()) < row.top_p:
            ranked, order = probs.sort(descending=True)
        kept = int(((ranked.cumsum(0) - ranked) < row.top_p).sum().clamp(min=1))
        return int(order[int(self.torch.multinomial(ranked[:kept], 1, generator=row.generator))])

    def _accept(self, row: Row, token: int) -> bool:
        """Take ``token`` into ``row``; True when the row is done."""
        if row.matcher is not None and not row.matcher.is_terminated() and not row.matcher.accept_token(token):
            row.finish, row.error = "error", "the grammar matcher refused a sampled token"
        elif token in self.eos:
            row.finish = "stop"
        else:
            row.tokens.append(token)
            if len(row.tokens) >= row.limit:
                row.finish = "length"
        if row.finish:
            row.finished_at = self.clock()
        return bool(row.finish)
