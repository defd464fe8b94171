"""The in-process transformers backend on a GPU: device placement, grammar masks on CUDA
logits, continuous batching with per-row seeded generators, an over-long row.

No weights can be fetched on a lent GPU machine and the embedded GGUF is too large to
carry there, so the model is a tiny randomly initialised Llama with a byte-level BPE
tokenizer trained here, saved as a local folder and opened as ``transformers:FOLDER``.
Its words are noise; what is checked is what the engine relies on: the grammar holds
every reply to the action format, a batch gives the same replies as one call at a time,
rows refill, and an over-long prompt fails alone. (Whether a batch repeats one call at a
time word for word is not checked here: a random model's logits are nearly flat, so the
last bits of a batched matrix product flip its samples; the CPU tests check it on the real
model.) Prints one line per check and the
tokens per second of one row and of a batch; exits 1 when a check fails.

    python bench/gpu_transformers.py [--device cuda] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_warp.config import WarpConfig
from jupyter_warp.machine import Phase
from jupyter_warp.machine.reply import parse_json_action, split_reply
from jupyter_warp.machine.stepper import STAGES
from jupyter_warp.records import ChatRequest

TEXTS = [
    "How does Python handle exceptions, from the try statement to raising and chaining them?",
    "The with statement calls __enter__ and __exit__; finally clauses always run.",
    '{"name": "search", "keywords": ["exception handling", "try statement"]}',
    "<thought>look for evidence</thought>\n<action>{}</action>",
] * 50


def tiny_model(folder: Path) -> None:
    """A 2-layer Llama and a byte-level BPE tokenizer with a ChatML template, saved to ``folder``."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TEXTS, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|im_end|>",
                                                bos_token="<|im_start|>")
    fast.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    config = transformers.LlamaConfig(vocab_size=len(fast), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=8192,
                                      eos_token_id=fast.eos_token_id, bos_token_id=fast.bos_token_id,
                                      pad_token_id=fast.pad_token_id)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()
    import torch

    from jupyter_warp.llm import get_backend

    failures: list[str] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            failures.append(name)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny"
        tiny_model(folder)
        backend = get_backend(f"transformers:{folder}", device=args.device)
        device = str(getattr(backend, "device", "?"))
        print(f"device {device}, torch {torch.__version__}, cuda {torch.cuda.is_available()}, "
              f"window {backend.context_window}, grammar {backend.supports_grammar}", flush=True)
        check("the model sits on the GPU", device.startswith("cuda") or args.device == "cpu", device)

        config = WarpConfig(thought_max_chars=60)
        search = STAGES[Phase.SEARCH].grammar(config)
        write = STAGES[Phase.WRITE].grammar(config, keys=[3, 7])
        prompts = [f"Question {i}: " + TEXTS[i % 4] for i in range(args.batch)]
        bounds = {Phase.SEARCH: STAGES[Phase.SEARCH].bound(config), Phase.WRITE: STAGES[Phase.WRITE].bound(config)}
        requests = [ChatRequest(p, grammar=search if i % 2 == 0 else write, temperature=0.7, seed=i,
                                max_tokens=bounds[Phase.SEARCH if i % 2 == 0 else Phase.WRITE])
                    for i, p in enumerate(prompts)]
        batch = backend.generate(requests)
        parsed = 0
        for i, c in enumerate(batch):
            try:
                reply = split_reply(c.text)
                if i % 2 == 0:
                    parse_json_action(reply.action_text, ("search",), reply.closed)
                else:
                    cites = {int(k) for k in __import__("re").findall(r"\[(\d+)\]", reply.action_text)}
                    assert reply.closed and cites and cites <= {3, 7}, cites
                parsed += 1
            except Exception as exc:
                print(f"     reply {i} did not parse ({exc}): {c.text[:120]!r}", flush=True)
        check("every grammar-held reply parses (search JSON, write citing only its keys)", parsed == len(batch),
              f"{parsed}/{len(batch)}")

        refilled: list[int] = []
        queue = [ChatRequest(f"Refill {i}: " + TEXTS[i % 4], grammar=search, max_tokens=200, seed=100 + i)
                 for i in range(args.batch, 2 * args.batch)]

        def refill(slot: int, completion: object) -> ChatRequest | None:
            refilled.append(slot)
            return queue.pop() if queue else None

        backend.generate_refilled(requests[: args.batch // 2], refill)
        check("rows refill the running batch", len(refilled) == args.batch // 2 + args.batch, f"{len(refilled)} rows")

        long = ChatRequest("word " * (backend.context_window + 10), max_tokens=8)
        out = backend.generate([long, requests[0]])
        check("an over-long prompt fails alone", out[0].finish_reason == "error" and out[1].finish_reason != "error",
              out[0].error or "")

        free = [ChatRequest(f"Speed {i}: " + TEXTS[i % 4], max_tokens=128, temperature=0.7, seed=i)
                for i in range(args.batch)]
        for n in (1, args.batch):
            torch.cuda.synchronize() if torch.cuda.is_available() else None
            t0 = time.perf_counter()
            got = backend.generate(free[:n])
            seconds = time.perf_counter() - t0
            tokens = sum(c.completion_tokens for c in got)
            print(json.dumps({"rows": n, "tokens": tokens, "seconds": round(seconds, 3),
                              "tokens_per_s": round(tokens / seconds, 1)}), flush=True)
    print("all checks passed" if not failures else f"failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
