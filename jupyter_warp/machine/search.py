"""The search stage: the model names 1 to ``max_keywords`` queries for the node at the
cursor (or, first, for planning the report); the passages found go to the planner or writer.
With assist on (the embedded model), keywords that are noise are dropped and the engine
adds a query of its own: the question for the first search, the node's title and plan
afterwards. Fallback: search the node's title and the question; nothing found skips the node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..citations import passage_identity
from ..config import WarpConfig
from ..records import Passage, Step
from ..report import Node
from . import Phase, RunStatus, advance, finish, move
from .choice import Choice
from .gbnf import head, head_bound, jkey, jlist, seq, skeleton_frame, string
from .reply import ActionError, Reply, parse_json_action, strip_tags
from .stage import Context, Stage, Turn
from .text import clean_keywords


class SearchStage(Stage):
    """Searching: the model's queries for the node at the cursor, or for planning the report."""

    phase = Phase.SEARCH
    actions = ("search",)

    def grammar(self, config: WarpConfig, keys: Sequence[int] = (), positions: Sequence[str] = (),
                choices: Sequence[Choice] = ()) -> str:
        """1 to ``max_keywords`` keywords of at most 60 characters each."""
        return "\n".join(head(config) + [
            'action ::= "{\\"name\\": \\"search\\", \\"keywords\\": [" kws "]}"',
            f"kws ::= {seq('kw', 1, config.max_keywords)}",
            string("kw", 60),
        ])

    def skeleton(self, config: WarpConfig) -> str:
        """Tags around a JSON search action with a list of any strings."""
        return "\n".join(skeleton_frame("action") + [
            f'action ::= "{{" ws {jkey("name")} "\\"search\\"" ws "," ws {jkey("keywords")} {jlist("jstr")} ws "}}"',
        ])

    def bound(self, config: WarpConfig) -> int:
        """The thought, the action frame and ``max_keywords`` keywords of at most 64 tokens each."""
        return head_bound(config) + config.max_keywords * 64 + 60

    def prepare(self, ctx: Context) -> Turn:
        """The prompt shows the outline around the node at the cursor and what it asks for."""
        position, instruction = ctx.cursor(self.phase.value)

        def render(level: int, _passages: list[Passage], _keys: list[int], _chars: int) -> str:
            return ctx.renderer.render(
                self.phase,
                current_outline=ctx.renderer.view.outline(ctx.s.report, ctx.s.target_id, level),
                current_instruction=instruction,
                current_survey="",
                current_information="",
                **ctx.variables(),
            )

        fit, _, _ = ctx.fit(self.max_tokens(ctx), render)
        return self.turn(ctx, fit, position)

    def apply(self, ctx: Context, turn: Turn, reply: Reply, step: Step) -> None:
        """Check the keywords (with assist: drop noise, add the engine's own query), then search."""
        step.action = validate_search(parse_json_action(reply.action_text, self.actions, reply.closed), ctx.config)
        keywords = step.action["keywords"]
        own = None
        if ctx.profile.assist:
            keywords, dropped = clean_keywords(keywords)
            own = assist_query(ctx, turn.target_id)
            step.action.update(assist=own, dropped=dropped)
            if dropped:
                step.diff.append(f"dropped noise keywords: {', '.join(f'{k!r} ({why})' for k, why in dropped.items())}")
        self.run_search(ctx, keywords, step, own)

    def run_search(self, ctx: Context, keywords: list[str], step: Step, own: str | None = None) -> None:
        """Search, keep the passages for the next turn, and move to planning or writing.
        The engine's own query (``own``) fills all the passages but one per keyword, half of
        them at least; the keywords share the rest."""
        s = ctx.s
        k = ctx.config.k if s.report.sections else ctx.config.first_k
        share = max((k + 1) // 2, k - len(keywords))  # each keyword keeps a passage at least
        passages = ctx.searcher.search_many([own], 2 * k)[:share] if own else []  # 2 k: copies count once
        if keywords and len(passages) < k:
            seen = {passage_identity(p) for p in passages}
            more = ctx.searcher.search_many(keywords, k)
            passages += [p for p in more if passage_identity(p) not in seen][:k - len(passages)]
        if own:
            keywords = [own] + keywords
        s.counters["searches"] += 1
        step.passages = passages
        step.keys = s.registry.keys_for(passages)
        if not passages:
            raise ActionError(f"the search for {keywords} found nothing in the index")
        s.passages = passages
        move(s, Phase.WRITE if s.report.sections else Phase.INIT_PLAN)
        step.diff.append(f"searched {len(keywords)} queries: {len(passages)} passages")

    def fallback(self, ctx: Context, turn: Turn, step: Step) -> None:
        """Search the node's title and the question; nothing found skips the node (before a plan, fails the run)."""
        s = ctx.s
        entry = s.report.by_id(turn.target_id)
        keywords = [entry[1].title, s.query] if entry else [s.query]
        step.fallback = f"searched the section title and question instead: {keywords}"
        try:
            self.run_search(ctx, keywords, step)
        except ActionError:
            if entry is not None:
                step.diff += s.report.fail(entry[0], "no passages found")
                step.fallback += "; found nothing, section skipped"
                advance(s, ctx.config)
            else:
                finish(s, "the index returned nothing for the question", RunStatus.FAILED)


def assist_query(ctx: Context, target_id: str | None) -> str:
    """The engine's own query: the question for the first search, then the title and plan
    of the node the search is for."""
    entry = ctx.s.report.by_id(target_id) if ctx.s.report.sections else None
    return ctx.s.query if entry is None else node_query(entry[1])


def node_query(node: Node) -> str:
    """A query for what a node covers: its title and plan, on one line."""
    return " ".join(f"{node.title} {node.plan}".split())[:400]


def validate_search(action: dict[str, Any], config: WarpConfig) -> dict[str, Any]:
    """1 to ``max_keywords`` distinct non-empty queries, tags removed."""
    keywords = action.get("keywords")
    if isinstance(keywords, str):
        keywords = [keywords]
    if not isinstance(keywords, list):
        raise ActionError("keywords must be a list of strings")
    seen: dict[str, None] = {}
    for kw in keywords:
        if isinstance(kw, str) and kw.strip():
            seen.setdefault(strip_tags(kw).strip()[:200], None)
    if not seen:
        raise ActionError(f"search needs 1 to {config.max_keywords} non-empty keywords")
    if len(seen) > config.max_keywords:
        raise ActionError(f"search takes at most {config.max_keywords} keywords, got {len(seen)}")
    return {"name": "search", "keywords": list(seen)}
