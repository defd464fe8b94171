"""The grammars of choosing by number (planning by choice, deepening by choice, quote mode)
admit exactly what their readers accept, in every state and language: the candidates are
drawn from passages in English, Chinese, Japanese and French, and every reply tried, valid
or not (hand-picked edge cases and random mutations of valid ones), is accepted by both or
by neither."""

from __future__ import annotations

import random

import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string as accepts

from jupyter_warp.config import WarpConfig
from jupyter_warp.machine.choice import Choice, heading_choices, quote_choices, quoted_text
from jupyter_warp.machine.extend_plan import NOP, ExtendPlanStage, read_subsections
from jupyter_warp.machine.init_plan import InitPlanStage, read_sections
from jupyter_warp.machine.reply import ActionError, split_reply
from jupyter_warp.machine.text import repetition
from jupyter_warp.machine.write import WriteStage, quote_count, read_quotes
from jupyter_warp.records import Passage

C = WarpConfig(min_sections=3, max_sections=4, min_subsections=2, max_subsections=3, write_max_chars=520)
QUESTIONS = {
    "en": "How do sparse attention methods trade accuracy for speed?",
    "zh": "稀疏注意力方法如何权衡准确率与速度？",
    "ja": "スパース注意の手法は精度と速度をどう両立させるのか？",
    "fr": "Comment les méthodes d'attention éparse échangent-elles la précision contre la vitesse ?",
}
DOCS = {
    "en": [("Local windows", "Local windows keep only the neighbours of each token, which makes sparse attention fast. "
                             "The accuracy lost on long documents is small when the window is wide enough."),
           ("Global tokens", "Global tokens gather a summary of the whole sequence for sparse attention. "
                             "Their speed stays close to linear while accuracy on retrieval tasks improves."),
           ("Random links", "Random links reach distant positions at a low cost in speed. "
                            "Sparse attention with random links loses some accuracy from run to run."),
           ("Benchmarks", "On the long range benchmark, sparse attention methods differ in accuracy by ten points. "
                          "The fastest method is not always the least accurate one on these tasks.")],
    "zh": [("局部窗口",
             "局部窗口只保留每个词元的邻近位置，因此稀疏注意力的速度很快。"
             "当窗口足够宽时，长文档上的准确率损失很小。"),
           ("全局词元",
             "全局词元为稀疏注意力汇总整个序列的信息。"
             "它们的速度接近线性，检索任务上的准确率也有所提高。"),
           ("随机连接",
             "随机连接能以很低的速度代价到达较远的位置。"
             "使用随机连接的稀疏注意力在不同运行之间会损失一些准确率。"),
           ("基准测试",
             "在长序列基准上，各种稀疏注意力方法的准确率相差十个百分点。"
             "最快的方法并不总是这些任务上最不准确的方法。")],
    "ja": [("局所窓",
             "局所窓は各トークンの近くだけを残すので、スパース注意の速度は速い。"
             "窓が十分に広ければ、長い文書での精度の低下は小さい。"),
           ("グローバルトークン",
             "グローバルトークンはスパース注意のために系列全体の要約を集める。"
             "速度は線形に近く、検索タスクの精度も上がる。"),
           ("ランダム接続",
             "ランダムな接続は低い速度コストで遠い位置に届く。"
             "ランダム接続を使うスパース注意は実行ごとに精度を少し失う。"),
           ("ベンチマーク",
             "長い系列のベンチマークでは、スパース注意の手法の精度は十ポイント異なる。"
             "最も速い手法が最も精度の低い手法とは限らない。")],
    "fr": [("Fenêtres locales", "Les fenêtres locales ne gardent que les voisins de chaque jeton, ce qui rend "
                                "l'attention éparse rapide. La précision perdue sur les longs documents reste faible "
                                "quand la fenêtre est assez large."),
           ("Jetons globaux", "Les jetons globaux résument toute la séquence pour l'attention éparse. Leur vitesse "
                              "reste presque linéaire tandis que la précision sur les tâches de recherche augmente."),
           ("Liens aléatoires", "Les liens aléatoires atteignent des positions lointaines pour un faible coût en "
                                "vitesse. L'attention éparse avec des liens aléatoires perd un peu de précision."),
           ("Bancs d'essai", "Sur le banc d'essai des longues séquences, les méthodes d'attention éparse "
                             "diffèrent de dix points de précision. La méthode la plus rapide n'est pas toujours "
                             "la moins précise.")],
}


SURVEY = {"en": "A survey of sparse attention", "zh": "稀疏注意力综述", "ja": "スパース注意の概観",
          "fr": "Un panorama de l'attention éparse"}


def passages(lang: str) -> list[Passage]:
    return [Passage(doc_id=f"{lang}{i}", text=text, path=f"docs/{lang}/{i}.md", title=SURVEY[lang], heading=title)
            for i, (title, text) in enumerate(DOCS[lang])]


def frame(action: str) -> str:
    return f"<thought>why</thought>\n<action>{action}</action>"


def mutations(valid: list[str], rng: random.Random, n: int) -> list[str]:
    """Valid replies with one to three characters inserted, removed or replaced."""
    alphabet = list("0123456789[], {}\"-") + [", ", " "]
    out = []
    for _ in range(n):
        text = list(rng.choice(valid))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            kind = rng.randrange(3)
            if kind == 0 or not text:
                text.insert(at, rng.choice(alphabet))
            elif kind == 1:
                del text[min(at, len(text) - 1)]
            else:
                text[min(at, len(text) - 1)] = rng.choice(alphabet)
        out.append("".join(text))
    return out


def lists(numbers: list[int], rng: random.Random, low: int, high: int) -> list[str]:
    """Number lists of every length around ``low``..``high``, in range, out of range, repeated."""
    out = []
    for length in range(0, high + 2):
        for _ in range(6 if low <= length <= high else 2):
            picked = [rng.choice(numbers) for _ in range(length)]
            out.append("[" + ", ".join(map(str, picked)) + "]")
    out += ["[" + ", ".join(map(str, [numbers[0]] * low)) + "]", f"[0, {numbers[0]}]", f"[{max(numbers) + 1}, 1]",
            f"[0{numbers[0]}, {numbers[-1]}]", f"[{numbers[0]},{numbers[-1]}]", f"[ {numbers[0]}, {numbers[-1]}]",
            f"[{numbers[0]}, {numbers[-1]},]", f"[{numbers[0]}, {numbers[-1]}] ", f" [{numbers[0]}, {numbers[-1]}]",
            f"[{numbers[0]}, -{numbers[-1]}]", f'["{numbers[0]}", "{numbers[-1]}"]']
    return out


def same_verdict(grammar: str, read, actions: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Every action accepted by the grammar iff by the reader; how many were accepted (and
    at least ten refused by both)."""
    accepted = 0
    for action in actions:
        reply = split_reply(frame(action))
        try:
            read(reply.raw_action)
            ok = reply.closed
        except ActionError:
            ok = False
        assert accepts(grammar, frame(action)) == ok, (action, ok)
        accepted += ok
    assert len(actions) - accepted >= 10
    return accepted


@pytest.mark.parametrize("lang", sorted(QUESTIONS))
def test_plan_grammar_admits_exactly_what_its_reader_accepts(lang):
    choices = heading_choices(passages(lang), [3, 7, 9, 12], QUESTIONS[lang], lang, minimum=C.min_sections)
    assert len(choices) >= C.min_sections, choices
    grammar = InitPlanStage().grammar(C, (), (), choices)
    xgr.Grammar.from_ebnf(grammar)
    rng = random.Random(lang)
    numbers = [c.number for c in choices]
    bodies = lists(numbers, rng, C.min_sections, C.max_sections)
    actions = ['{"name": "init-plan", "sections": ' + b + "}" for b in bodies]
    actions += mutations([a for a in actions[:40]], rng, 150)
    actions += ['{"name": "init-plan", "sections": [1, 2, 3]', '{"name":"init-plan", "sections": [1, 2, 3]}',
                '{"name": "init-plan", "title": "T", "sections": [1, 2, 3]}', NOP]
    assert same_verdict(grammar, lambda raw: read_sections(raw, choices, C), actions) >= 10
    chosen, merged = read_sections('{"name": "init-plan", "sections": [2, 2, 1, 2]}', choices, C)
    assert [c.number for c in chosen] == [2, 1] and [c.number for c in merged] == [2, 1, 3]  # merged, topped up
    for c in choices:  # every plan is a sentence of the passages, never a phrase of the engine's
        assert any(c.plan in " ".join(p.text.split()) for p in passages(lang)), c.plan


@pytest.mark.parametrize("lang", sorted(QUESTIONS))
def test_quote_grammar_admits_exactly_what_its_reader_accepts(lang):
    found = passages(lang)
    choices = quote_choices(found, [3, 7, 9, 12], SURVEY[lang], QUESTIONS[lang], QUESTIONS[lang], lang)
    assert len(choices) >= 3, choices
    grammar = WriteStage().grammar(C, (), (), choices)
    xgr.Grammar.from_ebnf(grammar)
    rng = random.Random(lang)
    low, high = quote_count(C, len(choices))
    actions = lists([c.number for c in choices], rng, low, high)
    actions += mutations(actions[:30], rng, 150) + ["", "1, 2", "[1, 2] [3]", '{"name": "write"}']
    assert same_verdict(grammar, lambda raw: read_quotes(raw, choices, C), actions) >= 10
    picked = read_quotes(f"[{choices[2].number}, {choices[0].number}, {choices[2].number}]", choices, C)
    text = quoted_text(picked)
    assert [c.number for c in picked] == [choices[2].number, choices[0].number] and repetition(text) is None
    by_key = dict(zip([3, 7, 9, 12], found, strict=True))
    for choice in choices:  # each sentence word for word in the passage it cites
        assert choice.text in " ".join(by_key[choice.key].text.split())


@pytest.mark.parametrize("lang", sorted(QUESTIONS))
def test_extend_grammar_admits_exactly_what_its_reader_accepts(lang):
    found = passages(lang)
    first = heading_choices(found[:3], [0, 0, 0], QUESTIONS[lang], lang, minimum=2)
    second = heading_choices(found[1:], [0, 0, 0], QUESTIONS[lang], lang, minimum=2)
    choices = ([Choice(i, c.text, plan=c.plan, position="section-1") for i, c in enumerate(first, 1)]
               + [Choice(len(first) + i, c.text, plan=c.plan, position="section-2.1")
                  for i, c in enumerate(second, 1)])
    grammar = ExtendPlanStage().grammar(C, (), ["section-1", "section-2.1"], choices)
    xgr.Grammar.from_ebnf(grammar)
    rng = random.Random(lang)
    actions = [NOP, '{"name": "nop"} ', '{"name":"nop"}']
    for position in ("section-1", "section-2.1", "section-3"):
        numbers = [c.number for c in choices if c.position == position] or [1, 2]
        actions += ['{"name": "extend-plan", "position": "' + position + '", "subsections": ' + body + "}"
                    for body in lists(numbers, rng, C.min_subsections, C.max_subsections)]
    actions += mutations(actions[3:60], rng, 150)
    assert same_verdict(grammar, lambda raw: read_subsections(raw, choices, C), actions) >= 10
    position, chosen, merged = read_subsections(
        f'{{"name": "extend-plan", "position": "section-2.1", "subsections": [{len(first) + 1}, {len(first) + 1}]}}',
        choices, C)
    assert position == "section-2.1" and len(chosen) == 1 and len(merged) == C.min_subsections
    assert all(c.position == "section-2.1" for c in merged)


def test_only_nop_when_nothing_can_be_offered():
    grammar = ExtendPlanStage().grammar(C, (), [])
    assert accepts(grammar, frame(NOP)) and not accepts(grammar, frame('{"name": "extend-plan"}'))
    assert read_subsections(NOP, [], C) is None
    with pytest.raises(ActionError):
        read_subsections('{"name": "extend-plan", "position": "section-1", "subsections": [1, 2]}', [], C)


def test_every_grammar_parses_in_llama_cpp_too():
    """A llama.cpp server reads the same GBNF as xgrammar, but its parser is stricter (rule
    names are letters, digits and dashes): every grammar the engine sends, in every mode
    and state, must pass both, or a server answers each step with HTTP 400."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from jupyter_warp.llm._models import smollm2_gguf
    from jupyter_warp.machine import Phase
    from jupyter_warp.machine.stepper import STAGES

    llm = llama_cpp.Llama(model_path=str(smollm2_gguf()), n_ctx=64, verbose=False, vocab_only=True)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)

    def llama_cpp_parses(grammar: str) -> bool:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
        return bool(sampler)

    found = passages("en")
    grammars = {}
    for phase in (Phase.SEARCH, Phase.INIT_PLAN, Phase.WRITE, Phase.EXTEND_PLAN):
        grammars[f"skeleton {phase}"] = STAGES[phase].skeleton(C)
        grammars[f"full {phase}"] = STAGES[phase].grammar(C, [3, 7], ["section-1", "section-2.1"])
    grammars["choice init_plan"] = InitPlanStage().grammar(
        C, (), (), heading_choices(found, [3, 7, 9, 12], QUESTIONS["en"], "en", minimum=C.min_sections))
    grammars["choice write"] = WriteStage().grammar(
        C, (), (), quote_choices(found, [3, 7, 9, 12], SURVEY["en"], QUESTIONS["en"], QUESTIONS["en"], "en"))
    grammars["nop only"] = ExtendPlanStage().grammar(C, (), [])
    assert not llama_cpp_parses('root ::= "a" b_c\nb_c ::= "x"')  # the check can fail
    for name, grammar in grammars.items():
        xgr.Grammar.from_ebnf(grammar)
        assert llama_cpp_parses(grammar), name
