"""Test doubles for the loop's logic: a backend that answers through a script, and an
in-memory searcher. The real model and server are tested in test_llm_* and test_e2e_*."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from jupyter_warp.llm.base import Backend
from jupyter_warp.records import ChatRequest, Completion, Passage


def reply(action: str | dict, thought: str = "reasoning") -> str:
    body = json.dumps(action) if isinstance(action, dict) else action
    return f"<thought>{thought}</thought>\n<action>{body}</action>"


def shown_keys(prompt: str) -> list[int]:
    """The passage keys a writer prompt shows, in order."""
    return [int(k) for k in re.findall(r"^\[(\d+)\] \(", prompt, re.MULTILINE)]


METHODS = {"en": ["local windows", "global tokens", "random links", "block sparsity", "low-rank projections",
                   "hashing buckets", "dilated windows", "kernel features"],
           "zh": ["局部窗口", "全局词元", "随机连接", "分块稀疏", "低秩投影", "哈希分桶", "膨胀窗口", "核特征"]}
TASKS = {"en": ["question answering", "code completion", "translation", "summarisation", "retrieval", "genomics",
                "speech"], "zh": ["问答", "代码补全", "机器翻译", "摘要", "检索", "基因组", "语音识别"]}
VERBS = {"en": ["keeps", "retains", "holds", "preserves", "loses", "drops", "recovers", "gains", "cuts"],
         "zh": ["保留", "损失", "提高", "降低", "恢复", "节省", "压缩", "增加", "减少"]}
UNITS = {"en": ["memory", "latency", "throughput", "energy", "accuracy"],
         "zh": ["显存", "延迟", "吞吐量", "能耗", "准确率"]}


def findings(start: int, n: int, zh: bool = False) -> str:
    """``n`` distinct sentences of measurements, as a long analytical section has them (a
    section that says one sentence again is rejected, in every mode)."""
    lang = "zh" if zh else "en"
    out = []
    for i in range(start, start + n):
        m, t, v, u = (METHODS[lang][i % 8], TASKS[lang][i % 7], VERBS[lang][i % 9], UNITS[lang][i % 5])
        size, share = 2 ** (10 + i % 7), 61 + (7 * i) % 31
        out.append([f"采用{m}后，{t}{v}了{share}%的{u}，长度为{size}。",
                    f"第{i + 1}组把{m}用于{t}，{u}变化{2 + i % 9}倍。",
                    f"对{t}来说，{m}{v}{u}不超过{100 - share}点，直到{size}。",
                    f"表{i + 2}对比{m}与{t}，{share}%的头{v}{u}。"][i % 4] if zh else
                   [f"With {m}, {t} {v} {share} percent of its {u} at {size} tokens.",
                    f"Run {i + 1} pairs {m} with {t}: {u} changes {2 + i % 9} times.",
                    f"For {t}, {m} {v} {u} below {100 - share} points up to {size} tokens.",
                    f"Table {i + 2} sets {m} against {t}; {share} percent of heads {v} {u}."][i % 4])
    return ("" if zh else " ").join(out)


def plan(n: int = 3, title: str = "Report") -> dict:
    return {"name": "init-plan", "title": title,
            "sections": [{"title": f"Part {i}", "plan": f"cover part {i}"} for i in range(1, n + 1)]}


def good_script(extend: dict | None = None) -> Callable[[ChatRequest], str]:
    """Answers every state validly; deepens once with ``extend`` then says nop."""
    extended = []

    def script(request: ChatRequest) -> str:
        p = request.prompt
        if "You are the searcher" in p:
            return reply({"name": "search", "keywords": ["alpha", "beta"]})
        if "You are the planner" in p:
            return reply(plan())
        if "You are the writer" in p:
            keys = shown_keys(p)
            return reply("A section body long enough to pass the checks, "
                         f"citing evidence [{keys[0]}] and [{keys[-1]}].")
        if extend and not extended:
            extended.append(1)
            return reply(extend)
        return reply({"name": "nop"})

    return script


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(self, script: Callable[[ChatRequest], str], context_window: int = 8192,
                 supports_grammar: bool = True) -> None:
        self.script = script
        self.context_window = context_window
        self.supports_grammar = supports_grammar
        self.requests: list[ChatRequest] = []
        self.calls = 0

    def generate(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        self.calls += 1
        self.requests += requests
        return [Completion(self.script(r), prompt_tokens=self.count_tokens(r.prompt), completion_tokens=7,
                           latency_s=0.001) for r in requests]

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1


class MemorySearcher:
    """Returns ``per_query`` passages per keyword, ids derived from the keyword."""

    def __init__(self, per_query: int = 3, empty: bool = False, text_len: int = 40) -> None:
        self.per_query = per_query
        self.empty = empty
        self.text_len = text_len
        self.queries: list[list[str]] = []

    def search_many(self, queries: Sequence[str], k: int) -> list[Passage]:
        self.queries.append(list(queries))
        if self.empty:
            return []
        out = []
        for q in queries:
            for i in range(self.per_query):
                out.append(Passage(doc_id=f"{q}#{i}", text=f"{q} evidence {i} " * self.text_len,
                                   path=f"docs/{q}.md", title=q.title(), heading="Intro", start=i * 10, end=i * 10 + 9))
        return out[:k]


def parses_search(text: str) -> bool:
    """Whether a reply is a well-formed search action: closed tags, strict JSON (no repair),
    and the engine's own validation."""
    from jupyter_warp.config import WarpConfig
    from jupyter_warp.machine.reply import ActionError, parse_json_action, split_reply
    from jupyter_warp.machine.search import validate_search

    try:
        reply = split_reply(text)
        json.loads(reply.action_text)
        validate_search(parse_json_action(reply.action_text, ("search",), reply.closed), WarpConfig())
    except (ActionError, ValueError):
        return False
    return reply.closed
