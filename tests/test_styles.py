"""The built-in styles' policies choose stages and techniques from the dialogue."""

from __future__ import annotations

import pytest

from psyagents.default_plugins.styles import estimate_stage_of_change
from psyagents.registry import get_style, styles
from psyagents.styles import Plan, PlanView


def view(turn, max_turns, client_text="", previous=()):
    return PlanView(turn=turn, max_turns=max_turns, history=(("client", client_text),), previous=tuple(previous))


@pytest.mark.parametrize("name", ["integrative", "cbt", "mi", "person-centered"])
def test_every_plan_names_a_known_stage_and_technique(name):
    style = get_style(name)
    for turn in range(1, 9):
        for text in ("I feel so sad and alone.", "What should I do?", "I always fail.", "It's not a problem, I'm fine.", ""):
            plan = style.plan(view(turn, 8, text))
            assert plan.technique in style.techniques and plan.stage in style.stages
            assert plan.instruction == style.techniques[plan.technique]


def test_builtin_styles_are_registered():
    assert {"integrative", "cbt", "mi", "person-centered"} <= set(styles())


def test_integrative_moves_through_three_stages():
    style = get_style("integrative")
    stages = [style.plan(view(t, 10, "ok")).stage for t in range(1, 11)]
    assert stages[0] == "exploration" and stages[-1] == "action"
    assert "insight" in stages
    assert stages == sorted(stages, key=["exploration", "insight", "action"].index)


@pytest.mark.parametrize(
    "text,technique",
    [
        ("What if I fail and my whole life is ruined?", "decatastrophizing"),
        ("I'm a failure, plain and simple.", "alternative-perspective"),
        ("Everyone at work hates me.", "evidence-questioning"),
        ("I just stayed in bed and cancelled everything.", "behavioural-experiment"),
        ("我不知道该怎么办。", "problem-solving"),
        ("我总是把事情搞砸。", "evidence-questioning"),
    ],
)
def test_cbt_planner_follows_cues(text, technique):
    assert get_style("cbt").plan(view(4, 8, text)).technique == technique


def test_cbt_opens_with_agenda_and_closes_with_summary():
    cbt = get_style("cbt")
    assert cbt.plan(view(1, 8, "hi")).technique == "agenda-setting"
    assert cbt.plan(view(8, 8, "ok")).technique == "summary-feedback"


def test_mi_estimates_the_stage_of_change():
    assert estimate_stage_of_change(["It's not a problem, everyone does it."]) == "precontemplation"
    assert estimate_stage_of_change(["Maybe. I don't know.", "It's fine."]) == "precontemplation"
    assert estimate_stage_of_change(["I want to cut down, but it's hard."]) == "preparation"
    assert estimate_stage_of_change(["I want to stop drinking.", "I've started going to meetings."]) == "action"
    mi = get_style("mi")
    assert mi.plan(view(3, 8, "I don't need help, I'm fine.")).technique == "rolling-with-resistance"
    assert mi.plan(view(3, 8, "I want to change.")).technique in ("affirmation", "complex-reflection")


def test_mi_balances_reflections_and_questions():
    mi = get_style("mi")
    previous = [Plan(stage="contemplation", technique=t, instruction="") for t in ("complex-reflection", "simple-reflection")]
    assert mi.plan(view(3, 8, "Hmm.", previous)).technique == "open-question"


def test_person_centred_meets_self_blame_with_acceptance():
    assert get_style("person-centered").plan(view(2, 8, "It's all my fault.")).technique == "unconditional-positive-regard"
