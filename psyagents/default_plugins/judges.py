"""Registers the built-in judges: ``rubric`` (an LLM judge) and ``crisis-heuristic`` (rules, no model)."""

from __future__ import annotations

from psyagents.errors import PsyagentsError
from psyagents.hookspecs import hookimpl
from psyagents.judging import CrisisHeuristicJudge, RubricJudge

DEFAULT_JUDGE_MODEL = "local:smollm2"


def rubric_judge(arg: str | None) -> RubricJudge:
    """``rubric`` or ``rubric:MODEL`` (any model string, e.g. ``rubric:openai:gpt-4o-mini?base_url=...``)."""
    return RubricJudge(arg or DEFAULT_JUDGE_MODEL)


def crisis_heuristic_judge(arg: str | None) -> CrisisHeuristicJudge:
    if arg:
        raise PsyagentsError(f"judge 'crisis-heuristic' takes no argument, got 'crisis-heuristic:{arg}'")
    return CrisisHeuristicJudge()


@hookimpl(trylast=True)
def register_judges(register):
    register(
        "rubric",
        rubric_judge,
        description=f"LLM judge scoring each principle from its rubric (description, scale, anchors): rubric:MODEL, default {DEFAULT_JUDGE_MODEL}",
    )
    register(
        "crisis-heuristic",
        crisis_heuristic_judge,
        description="Transparent English/Chinese rules for the crisis principles; no model",
    )
