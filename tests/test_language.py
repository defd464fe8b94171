"""The reply language is the question's, whatever it is: Chinese told apart from Japanese
and Korean, Chinese questions full of English terms stay Chinese, French is not English, and
plans and extends are checked too."""

from __future__ import annotations

import pytest

from jupyter_warp.config import WarpConfig
from jupyter_warp.language import language_problem, query_language
from jupyter_warp.runs import Run
from scripted import MemorySearcher, ScriptedBackend, good_script, reply


@pytest.mark.parametrize("question, code", [
    ("How do sparse attention methods trade accuracy for speed?", "en"),
    ("人工智能如何改变教育？", "zh"),
    ("如何评估 Transformer 和 RNN 在 NLP 任务中的 long-context 性能", "zh"),
    ("请比较 GPT-4、Claude 3 Opus 和 Gemini 1.5 Pro 在 retrieval 任务上的表现", "zh"),
    ("トランスフォーマーの注意機構はどう働くか", "ja"),
    ("注意機構の計算量はなぜ二乗になるのか", "ja"),
    ("트랜스포머의 어텐션은 어떻게 작동하나요?", "ko"),
    ("Comment les méthodes d'attention éparse échangent-elles la précision contre la vitesse ?", "fr"),
    ("Wie funktioniert die Ausnahmebehandlung in Python?", "de"),
    ("Как работает механизм внимания в трансформерах?", "ru"),
    ("What did 毛泽东 write about guerrilla warfare?", "en"),
])
def test_question_language(question, code):
    assert query_language(question) == code


def test_text_checks():
    mixed = "Transformer 架构的注意力机制在 NLP 任务中表现出色，BERT 和 GPT 的 fine-tuning 方式不同。"
    assert language_problem(mixed, "zh") is None
    assert language_problem("注意力机制は入力の各位置に重みを与える仕組みです。ですから、速いのです。", "zh")
    with_kana = "注意力机制为输入的每个位置分配权重，所以速度很快。注意力机制の計算は速い。"
    assert "Japanese or Korean" in language_problem(with_kana, "zh")
    assert "no kana" in language_problem("注意力机制为输入的每个位置分配权重。", "ja")
    assert language_problem("어텐션은 각 위치에 가중치를 준다. 그래서 빠르다.", "ko") is None
    assert "in English" in language_problem("Sparse attention keeps only a few weights per row, so it is fast, "
                                           "but it loses the long-range dependencies that some tasks need. " * 3, "fr")
    french = ("L'attention éparse ne garde que quelques poids par ligne, elle est donc rapide, mais "
              "elle perd les dépendances à longue distance dont certaines tâches ont besoin. ")
    assert language_problem(french * 2, "fr") is None
    assert "CJK" in language_problem("Sparse attention 稀疏注意力 keeps few weights.", "en")
    assert "another script" in language_problem("Sparse attention keeps few weights per row here.", "ru")


def test_prompts_name_the_language_and_plans_are_checked(tmp_path):
    def script(request):
        if "You are the planner" in request.prompt:
            return reply({"name": "init-plan", "title": "Report", "sections": [
                {"title": f"Part {i}", "plan": f"cover part {i}"} for i in range(1, 4)]})
        return good_script()(request)

    backend = ScriptedBackend(script)
    run = Run.create("Comment l'attention éparse échange-t-elle la précision contre la vitesse ?",
                     WarpConfig(max_steps=2, max_retries=5), run_dir=tmp_path / "fr", backend=backend,
                     searcher=MemorySearcher())
    run.run()
    assert run.state.language == "fr"
    assert "in French" in backend.requests[0].prompt and "in French" in backend.requests[1].prompt
    backend = ScriptedBackend(script)
    run = Run.create("人工智能如何改变教育？", WarpConfig(max_steps=2), run_dir=tmp_path / "zh", backend=backend,
                     searcher=MemorySearcher())
    run.run()
    assert "the question is in Chinese" in run.steps[1].error
