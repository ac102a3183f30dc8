"""Registers the built-in judges (see psyagents/judging.py and docs/judging.md).

Rating judges: ``rubric`` and ``rubric-set`` (LLM), ``heuristic`` (no model), ``reward`` (a
reward model), ``crisis-heuristic`` (rules). Comparative judges (selectors): ``pairwise`` and
``best-of-n`` (LLM); ``heuristic`` and ``reward`` can select too.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from psyagents.errors import PsyagentsError
from psyagents.hookspecs import hookimpl
from psyagents.judging import (
    BestOfNJudge,
    CrisisHeuristicJudge,
    HeuristicJudge,
    PairwiseJudge,
    RewardModelJudge,
    RubricJudge,
    RubricSetJudge,
)

DEFAULT_JUDGE_MODEL = "local:smollm2"


def rubric_judge(arg: str | None) -> RubricJudge:
    """``rubric`` or ``rubric:MODEL`` (any model string, e.g. ``rubric:openai:gpt-4o-mini?base_url=...``)."""
    return RubricJudge(arg or DEFAULT_JUDGE_MODEL)


def rubric_set_judge(arg: str | None) -> RubricSetJudge:
    """``rubric-set`` or ``rubric-set:MODEL``: one call per reply for all principles."""
    return RubricSetJudge(arg or DEFAULT_JUDGE_MODEL)


def pairwise_judge(arg: str | None) -> PairwiseJudge:
    return PairwiseJudge(arg or DEFAULT_JUDGE_MODEL)


def best_of_n_judge(arg: str | None) -> BestOfNJudge:
    return BestOfNJudge(arg or DEFAULT_JUDGE_MODEL)


def _no_argument(name: str, arg: str | None) -> None:
    if arg:
        raise PsyagentsError(f"judge '{name}' takes no argument, got '{name}:{arg}'")


def crisis_heuristic_judge(arg: str | None) -> CrisisHeuristicJudge:
    _no_argument("crisis-heuristic", arg)
    return CrisisHeuristicJudge()


def heuristic_judge(arg: str | None) -> HeuristicJudge:
    _no_argument("heuristic", arg)
    return HeuristicJudge()


def reward_judge(arg: str | None) -> RewardModelJudge:
    """``reward:PATH[?max_length=N&system=TEXT|none]``."""
    if not arg:
        raise PsyagentsError("judge 'reward' needs a model folder: reward:PATH")
    path, _, query = arg.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    kwargs: dict = {}
    if "max_length" in options:
        try:
            kwargs["max_length"] = int(options.pop("max_length"))
        except ValueError:
            raise PsyagentsError(f"judge 'reward:{arg}': max_length must be a whole number") from None
    if "system" in options:
        system = options.pop("system")
        kwargs["system"] = None if system.lower() in ("", "none") else system
    if options:
        raise PsyagentsError(f"judge 'reward:{arg}': unknown option {', '.join(sorted(options))!r} (max_length, system)")
    return RewardModelJudge(path, name=f"reward:{arg}", **kwargs)


@hookimpl(trylast=True)
def register_judges(register):
    register(
        "rubric",
        rubric_judge,
        description=f"LLM judge, one call per principle from its rubric (description, scale, anchors; behaviour counts for ratios): rubric:MODEL, default {DEFAULT_JUDGE_MODEL}",
    )
    register(
        "rubric-set",
        rubric_set_judge,
        description=f"LLM judge, one call for all principles of a set, JSON keyed by principle id: rubric-set:MODEL, default {DEFAULT_JUDGE_MODEL}",
    )
    register(
        "pairwise",
        pairwise_judge,
        description="LLM comparison of two replies as A/B with a rationale, shown in both orders to cancel position bias: pairwise:MODEL",
    )
    register(
        "best-of-n",
        best_of_n_judge,
        description="LLM picks the best of N replies shown in a seeded shuffled order (Interactive Agents arena): best-of-n:MODEL",
    )
    register(
        "reward",
        reward_judge,
        description="A sequence-classification reward model (folder or PEFT adapter): reward:PATH; sigmoid(r) on each principle's scale; selects by r",
    )
    register(
        "heuristic",
        heuristic_judge,
        description="No model: reply form (length, questions, open questions, reflections, distinct-2, repetition, lists) and MITI proxies, EN/ZH; also a selector",
    )
    register(
        "crisis-heuristic",
        crisis_heuristic_judge,
        description="Transparent English/Chinese rules for the crisis principles; no model",
    )
