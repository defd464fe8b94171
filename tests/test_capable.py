"""A scripted capable model (what an 8B instruct model writes) through the whole loop:
long analytical Markdown sections with lists, a table and ``\\cite{textid3, textid7}``, a
Chinese question answered in Chinese, and an extend naming the last section. Under
``constrained=auto`` such a model gets the skeleton grammar, which admits every reply; the
final report keeps every character written, and its citations resolve."""

from __future__ import annotations

import re

import pytest
import xgrammar  # noqa: F401  (the grammar checks below need it)
from xgrammar.testing import _is_grammar_accept_string as accepts

from jupyter_warp.config import WarpConfig
from jupyter_warp.runs import Run
from scripted import MemorySearcher, ScriptedBackend, findings, shown_keys

EN = "How do sparse attention methods trade accuracy for speed?"
ZH = "稀疏注意力方法如何在 Transformer 模型中权衡准确率与速度？"


def section(keys: list[int], zh: bool) -> str:
    """About 3,500 characters of analytical Markdown, citing the shown keys both ways."""
    a, b, c = keys[0], keys[len(keys) // 2], keys[-1]
    if zh:
        para = ("稀疏注意力的核心思想是只计算一部分注意力权重，从而把计算量从平方级降到接近线性。"
                "不同方法在保留哪些位置上做出不同的取舍，这直接决定了准确率的损失程度。")
        rows = ("| 方法 | 保留的位置 | 代价 |\n|---|---|---|\n| 局部窗口 | 邻近词元 | 丢失远距离依赖 |\n"
                "| 全局词元 | 少数汇总位置 | 需要额外设计 |")
        items = (f"- 局部窗口：实现简单，速度快 \\cite{{textid{b}}}\n- 随机连接：覆盖更广，但结果不稳定\n"
                 "1. 先比较复杂度\n2. 再比较精度")
        body = [para + f" \\cite{{textid{a}, textid{c}}}", items, rows, findings(0, 65, zh) + f"【{a}】",
                findings(65, 65, zh) + f"[{b}]"]
    else:
        para = ("Sparse attention computes only a subset of the attention weights, which turns the quadratic cost "
                "of full attention into something close to linear in the sequence length. The methods differ in "
                "which positions they keep, and that choice decides how much accuracy is lost on long-range tasks. ")
        rows = ("| method | kept positions | cost |\n|:--|:--|--:|\n| local window | neighbours | long-range loss |\n"
                "| global tokens | a few summary slots | extra design |")
        items = (f"- **Local windows** are simple and fast \\cite{{textid{b}}}.\n"
                 "- *Random links* cover more, less stably.\n"
                 "    - nested point with `code[0]` kept as written\n1. compare complexity first\n2. then accuracy")
        body = [para + f"\\cite{{textid{a}, textid{c}}}", items, rows,
                findings(0, 20, zh) + f" In [2019] results [{a}-{c}].", findings(20, 20, zh) + f" As shown [{b}, {a}]."]
    return "\n\n".join(body)


def capable_script(zh: bool):
    writes: list[str] = []

    def script(request) -> str:
        p = request.prompt
        if "You are the searcher" in p:
            kws = ["稀疏注意力 准确率", "局部窗口 速度"] if zh else ["sparse attention accuracy", "local window speed"]
            return ("<thought>The section needs evidence on both sides of the trade-off.\nFirst the costs, then the "
                    "accuracy results.</thought>\n<action> "
                    + _json({"name": "search", "keywords": kws}) + " </action>")
        if "You are the planner" in p:
            titles = ["1. 背景", "2. 方法比较", "3. 速度与精度"] if zh else ["1. Background", "2. Methods compared",
                                                                      "Section-3 Speed versus accuracy"]
            plans = ["介绍稀疏注意力", "比较主要方法的取舍", "分析实验中的权衡"] if zh else [
                "what sparse attention is", "how the main families differ", "what the experiments show"]
            return ("<thought>A report should first define, then compare, then weigh the evidence.</thought>\n<action>"
                    + _json({"name": "init-plan", "title": "稀疏注意力的权衡" if zh else "Sparse attention trade-offs",
                             "sections": [{"title": t, "plan": q} for t, q in zip(titles, plans, strict=True)]})
                    + "</action>")
        if "You are the writer" in p:
            text = section(shown_keys(p), zh)
            writes.append(text)
            return f"<thought>Compare the methods, then quantify the loss.</thought>\n<action>\n{text}\n</action>"
        extendable = re.search(r"may be split: ([^.]*)\.", p).group(1).split(", ")
        if not writes or len(writes) > 3:
            return '<thought>The report is complete.</thought>\n<action>{"name": "nop"}</action>'
        subs = [{"title": "局部方法" if zh else "Local methods", "plan": "细节" if zh else "details"},
                {"title": "全局方法" if zh else "Global methods", "plan": "细节" if zh else "details"}]
        return ("<thought>The last section is the broadest.</thought>\n<action>"
                + _json({"name": "extend-plan", "position": extendable[-1], "subsections": subs}) + "</action>")

    script.writes = writes  # type: ignore[attr-defined]
    return script


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def strip_citations(text: str) -> str:
    return re.sub(r"\\cite\{[^}]*\}|【\d+】|\[\d+(?:\s*[-,]\s*\d+)*\]", "", text)


@pytest.mark.parametrize("question", [EN, ZH])
def test_capable_model_long_markdown_sections_kept_whole(tmp_path, question):
    zh = question == ZH
    script = capable_script(zh)
    backend = ScriptedBackend(script, context_window=32768)
    backend.name = "openai:http://gpu:8000/v1 Qwen3-8B"
    searcher = MemorySearcher(per_query=4, text_len=20)
    run = Run.create(question, WarpConfig(max_extends=1, k=8), run_dir=tmp_path / "run", backend=backend,
                     searcher=searcher)
    run.run()
    # auto: free mode and no assist, nothing of the embedded model's path: the model's own
    # keywords searched as given, its own plan and sections, no numbered choices.
    profile = run.machine.ctx.profile
    assert (profile.grammar, profile.assist, profile.write_mode) == ("skeleton", False, "free")
    keywords = [s.action["keywords"] for s in run.steps if s.state == "search"]
    assert searcher.queries == keywords and all("assist" not in s.action for s in run.steps if s.state == "search")
    assert all("num ::=" not in r.grammar for r in backend.requests)
    assert "Written in free mode" in run.snapshot().markdown
    assert run.state.language == ("zh" if zh else "en")
    assert all(s.error is None for s in run.steps), [(s.state, s.error) for s in run.steps if s.error]
    assert run.state.status == "done" and run.state.counters["extends"] == 1
    extend = next(s for s in run.steps if s.action and s.action["name"] == "extend-plan")
    assert extend.action["position"] == "section-3"  # the last section
    assert all(len(w) > 3000 for w in script.writes) and len(script.writes) == 5
    for request, step in zip(backend.requests, run.steps, strict=False):
        assert "sthought" in request.grammar and "{1,30}" not in request.grammar  # the skeleton, not bounded
        assert accepts(request.grammar, step.reply), step.state
        assert request.max_tokens == 2048
    md = run.snapshot().markdown
    for written in script.writes:
        kept = strip_citations(written)
        assert kept in strip_citations(md)  # every character of the prose, tables and lists
    assert "`code[0]`" in md or zh
    body = re.sub(r"`[^`]*`", "", md.split("## References")[0])
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body) if n != "2019"}
    refs = re.findall(r"^\[(\d+)\] ", md.split("## References")[1], re.MULTILINE)
    assert cited == {int(n) for n in refs} and len(refs) >= 3
    assert "\\cite" not in md and "【" not in md
    assert "1. Background" not in md and "## 1 Background" in md or zh
    assert "## 3 Speed versus accuracy" in md or zh
    assert "### 3.1 " in md
