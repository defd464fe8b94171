import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string as accepts

from jupyter_warp.config import WarpConfig
from jupyter_warp.errors import ConfigError
from jupyter_warp.machine import Phase
from jupyter_warp.machine.stepper import STAGES
from jupyter_warp.prompts import PromptRenderer

C = WarpConfig()


def grammar_for(state, config, keys=(), positions=()):
    return STAGES[Phase(state)].grammar(config, keys, positions)
T = "<thought>why</thought>\n<action>{}</action>"


def test_grammars_compile():
    for state, kw in [("search", {}), ("init_plan", {}), ("write", {"keys": [3, 7]}),
                      ("extend_plan", {"positions": ["section-1"]}), ("extend_plan", {})]:
        xgr.Grammar.from_ebnf(grammar_for(state, C, **kw))


def test_search_grammar_bounds():
    g = grammar_for("search", C)
    assert accepts(g, T.format('{"name": "search", "keywords": ["a b", "c"]}'))
    assert not accepts(g, T.format('{"name": "search", "keywords": []}'))
    six = ", ".join(f'"k{i}"' for i in range(6))
    assert not accepts(g, T.format('{"name": "search", "keywords": [' + six + "]}"))
    action = '<action>{"name": "search", "keywords": ["a"]}</action>'
    assert not accepts(g, "<thought>" + "x" * 301 + "</thought>\n" + action)


def test_write_grammar_only_shown_keys_and_no_headings():
    g = grammar_for("write", C, keys=[3, 7])
    text = "Exceptions are raised with the raise statement and caught by handlers"
    assert accepts(g, T.format(text + " [3]. "))
    assert accepts(g, T.format(text + " [7][3]. " + text + " [7].\n\n"))
    assert not accepts(g, T.format(text + " [4]. "))
    assert not accepts(g, T.format("# " + text + " [3]. "))
    assert not accepts(g, T.format(text + ". "))


def test_extend_grammar_positions():
    g = grammar_for("extend_plan", C, positions=["section-2"])
    sub = '{"title": "a", "plan": "b"}'
    subs = '"subsections": [' + sub + ", " + sub + "]}"
    assert accepts(g, T.format('{"name": "extend-plan", "position": "section-2", ' + subs))
    assert not accepts(g, T.format('{"name": "extend-plan", "position": "section-1", ' + subs))
    assert accepts(g, T.format('{"name": "nop"}'))


def test_prompts_dir_overrides(tmp_path):
    (tmp_path / "search.jinja").write_text("Q={{ user_query }} O={{ current_outline }} I={{ current_instruction }}")
    r = PromptRenderer(tmp_path)
    assert r.render("search", user_query="q", current_outline="o", current_instruction="i") == "Q=q O=o I=i\n"
    assert "You are the writer" in r.render("write", user_query="q", current_survey="s", current_outline="s",
                                           current_instruction="i", current_information="x", example_key=1,
                                           language="en", language_name="English", bounded=False)
    (tmp_path / "init_plan.jinja").write_text("{{ no_such_variable }}")
    with pytest.raises(ConfigError, match="init_plan.jinja failed"):
        r.render("init_plan", user_query="q")
    with pytest.raises(ConfigError, match="not a folder"):
        PromptRenderer(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="has none of"):
        PromptRenderer(tmp_path / "empty")
