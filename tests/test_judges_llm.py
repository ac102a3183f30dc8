"""LLM judges driven by scripted JSON answers (malformed ones included): per set, ratio principles, pairwise, best-of-N."""

from __future__ import annotations

import json

import pytest

from psyagents.errors import PsyagentsError
from psyagents.judging import (
    BestOfNJudge,
    PairwiseJudge,
    RubricJudge,
    RubricSetJudge,
    get_judge,
    parse_best_answer,
    parse_counts_answer,
    parse_pairwise_answer,
    resolve_principles,
)
from psyagents.registry import get_principle
from tests.conftest import write_script
from tests.test_judging import Recorder  # answers from a list, keeps every prompt, raises when it runs out


HISTORY = [("client", "I failed my exam and I feel useless.")]
REPLY = "It sounds like you feel crushed by this. What went through your mind when you saw the grade?"
WAI = resolve_principles("wai")  # wai-bond, wai-goal, wai-task on 1..7
MITI_OQ = get_principle("miti-open-questions")


def _ok(**scores) -> dict:
    return {pid.replace("_", "-"): {"score": s, "rationale": f"{pid} reason"} for pid, s in scores.items()}


# --- one call per set -------------------------------------------------------------------


def test_set_judge_rates_a_whole_set_in_one_call():
    model = Recorder(replies=[json.dumps(_ok(wai_bond=6, wai_goal=4, wai_task=7))])
    verdicts = RubricSetJudge(model).rate_reply(HISTORY, REPLY, WAI, context={"locale": "en-GB"})
    assert [(v.principle, v.score, v.status) for v in verdicts] == [("wai-bond", 6.0, "ok"), ("wai-goal", 4.0, "ok"), ("wai-task", 7.0, "ok")]
    assert verdicts[0].rationale == "wai_bond reason" and all((v.scale_min, v.scale_max) == (1, 7) for v in verdicts)
    [prompt] = model.prompts
    text = prompt[-1].content
    assert all(p.description in text for p in WAI) and "en-GB" in text and "[1] Counsellor: It sounds like" in text
    assert '"wai-goal": {"score": <1..7>' in text


def test_set_judge_asks_again_only_for_what_was_wrong():
    first = {**_ok(wai_bond=6), "wai-goal": {"score": 9, "rationale": "x"}}  # wai-task missing, wai-goal off the scale
    model = Recorder(replies=["```json\n" + json.dumps(first) + "\n```", json.dumps(_ok(wai_goal=3, wai_task=2))])
    verdicts = RubricSetJudge(model).rate_reply(HISTORY, REPLY, WAI)
    assert [(v.principle, v.score, v.status) for v in verdicts] == [("wai-bond", 6.0, "ok"), ("wai-goal", 3.0, "ok"), ("wai-task", 2.0, "ok")]
    note = model.prompts[1][-1].content
    assert "wai-goal: score 9 is outside the scale 1..7" in note and "wai-task: missing" in note
    assert "wai-bond" not in note  # what was answered well is kept, not asked again


def test_set_judge_records_failures_and_never_raises():
    model = Recorder(replies=["I think it was fine.", '{"wai-bond": {"score": "high"}}', '{"wai-bond": {"score": 5, "rationale": "ok"}'])
    verdicts = RubricSetJudge(model, retries=2).rate_reply(HISTORY, REPLY, WAI)
    assert [v.status for v in verdicts] == ["failed"] * 3
    assert all("after 3 attempts" in v.error and v.raw.startswith('{"wai-bond"') for v in verdicts)
    assert "no JSON object keyed by principle id" in verdicts[0].error  # the last answer is cut off
    assert "wai-bond: field 'score': Input should be a valid integer" in model.prompts[2][-1].content  # the second's problem
    # a model that fails outright fails every principle, still without raising
    broken = Recorder(replies=[])
    assert {v.error.split(":")[0] for v in RubricSetJudge(broken).rate_session(HISTORY, WAI)} == {"model error"}


def test_set_judge_handles_ratio_principles_and_a_bare_retry():
    principles = [get_principle("empathy"), MITI_OQ]
    first = {"empathy": {"score": 4, "rationale": "warm"}, "miti-open-questions": {"counts": {"open-question": 1, "leading-question": 2}}}
    model = Recorder(replies=[json.dumps(first), '{"counts": {"open-question": 1, "closed-question": 3}, "rationale": "mostly closed"}'])
    empathy, oq = RubricSetJudge(model).rate_reply(HISTORY, REPLY, principles)
    assert (empathy.score, oq.score, oq.status) == (4.0, 0.25, "ok")  # 1 open of 4 questions
    assert oq.rationale.startswith("1/4 = 0.25") and oq.rationale.endswith("mostly closed")
    assert "unknown behaviour codes ['leading-question']" in model.prompts[1][-1].content


# --- per principle: ratio principles ----------------------------------------------------------


def test_rubric_judge_codes_behaviours_for_ratio_principles():
    model = Recorder(replies=['{"counts": {"open-question": -1}}', '{"counts": {"open-question": 2, "closed-question": 0}, "rationale": "two open"}'])
    [v] = RubricJudge(model).rate_reply(HISTORY, REPLY, [MITI_OQ])
    assert (v.status, v.score) == ("ok", 1.0)
    assert "open-question: A question that invites" in model.prompts[0][-1].content
    assert "must be a whole number of at least 0" in model.prompts[1][-1].content
    [none] = RubricJudge(Recorder(replies=['{"counts": {}}'])).rate_reply(HISTORY, "I hear you.", [MITI_OQ])
    assert none.status == "ok" and none.score is None and "does not apply" in none.rationale


@pytest.mark.parametrize(
    ("text", "problem"),
    [('{"counts": {"open-question": 1.5}}', "whole number"), ('{"counts": [1, 2]}', "field 'counts'"), ("nothing", "no JSON object"),
     ('{"counts": {"open-question": true}}', "whole number")],
)
def test_parse_counts_answer_says_what_is_wrong(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_counts_answer(text, MITI_OQ)


# --- pairwise ---------------------------------------------------------------------------------


def test_pairwise_shows_both_orders_and_maps_winners_back():
    model = Recorder(replies=['{"winner": "A", "rationale": "warmer"}', '{"winner": "B", "rationale": "warmer"}'])
    judge = PairwiseJudge(model)
    first, second = judge.choose(HISTORY, ["warm reply", "cold reply"], context={"language": "en"})
    assert (first.order, first.winner, second.order, second.winner) == ([0, 1], 0, [1, 0], 0)  # consistent: reply 0 both times
    assert first.rationale == "warmer" and first.status == "ok"
    shown_first, shown_second = (m[-1].content for m in model.prompts)
    assert shown_first.index("Reply A:\nwarm reply") < shown_first.index("Reply B:\ncold reply")
    assert shown_second.index("Reply A:\ncold reply") < shown_second.index("Reply B:\nwarm reply")


def test_a_position_biased_pairwise_judge_is_visible():
    model = Recorder(replies=['{"winner": "A"}', '{"winner": "a"}'])
    choices = PairwiseJudge(model).choose(HISTORY, ["one", "two"])
    assert [c.winner for c in choices] == [0, 1]  # always "A": the two showings disagree


def test_pairwise_ties_retries_and_failures():
    model = Recorder(replies=['{"winner": "tie", "rationale": "same"}', "B is better", '{"winner": "C"}', '{"winner": "Reply B"}'])
    tie, late = PairwiseJudge(model).choose(HISTORY, ["x", "y"])
    assert (tie.winner, tie.status) == (None, "ok")
    assert (late.winner, late.status) == (0, "ok")  # order [1, 0], "B" is reply 0, after two bad answers
    failed = PairwiseJudge(Recorder(replies=["?", "??", "???", "?", "??", "???"])).choose(HISTORY, ["x", "y"])
    assert [(c.winner, c.status) for c in failed] == [(None, "failed"), (None, "failed")] and "3 attempts" in failed[0].error


def test_pairwise_with_three_replies_compares_every_pair_both_ways():
    model = Recorder(replies=['{"winner": "A"}'] * 6)
    choices = PairwiseJudge(model).choose(HISTORY, ["a", "b", "c"], principles=resolve_principles("empathy"))
    assert [c.order for c in choices] == [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]]
    assert "Empathy:" in model.prompts[0][-1].content


@pytest.mark.parametrize(("text", "winner"), [('{"winner": "b"}', "B"), ('{"winner": "Equal"}', "tie"), ('{"winner": " A "}', "A")])
def test_parse_pairwise_answer(text, winner):
    assert parse_pairwise_answer(text).winner == winner


# --- best of N --------------------------------------------------------------------------------


def test_best_of_n_shuffles_with_the_seed_and_maps_back():
    replies = ["r0", "r1", "r2", "r3"]
    model = Recorder(replies=['{"best": 1, "rationale": "most empathic"}', '{"best": "Reply 1"}'])
    judge = BestOfNJudge(model)
    [c] = judge.choose(HISTORY, replies, seed=7)
    [again] = judge.choose(HISTORY, replies, seed=7)
    assert c.order == again.order and sorted(c.order) == [0, 1, 2, 3]
    assert c.winner == c.order[0] and again.winner == c.order[0]  # "1" is the first reply as shown
    prompt = model.prompts[0][-1].content
    positions = [prompt.index(f"\n{replies[i]}") for i in c.order]
    assert positions == sorted(positions) and "Reply 1:" in prompt and "1 to 4" in prompt
    orders = {tuple(BestOfNJudge(Recorder(replies=['{"best": 2}'])).choose(HISTORY, replies, seed=s)[0].order) for s in range(8)}
    assert len(orders) > 1  # the seed changes the order


def test_best_of_n_retries_out_of_range_and_records_failure():
    model = Recorder(replies=['{"best": 5}', '{"best": 0}', '{"best": 2, "rationale": "ok"}'])
    [c] = BestOfNJudge(model).choose(HISTORY, ["a", "b", "c"], seed=1)
    assert c.status == "ok" and c.winner == c.order[1]
    assert "best 5 is not a reply number from 1 to 3" in model.prompts[1][-1].content
    [f] = BestOfNJudge(Recorder(replies=["no", "no", "no"])).choose(HISTORY, ["a", "b"], seed=1)
    assert (f.status, f.winner, f.raw) == ("failed", None, "no")
    with pytest.raises(ValueError, match="must be a reply number, not true/false"):
        parse_best_answer('{"best": true}', 3)


def test_comparative_specs_resolve_and_do_not_rate(tmp_path):
    script = write_script(tmp_path / "j.yaml", ['{"winner": "B", "rationale": "clearer"}'])
    judge = get_judge(f"pairwise:{script}")
    assert judge.name == f"pairwise:{script}" and judge.rates is False
    with pytest.raises(PsyagentsError, match="compares replies; it does not rate them"):
        judge.rate_reply(HISTORY, REPLY, WAI)
    assert get_judge(f"best-of-n:{script}").name.startswith("best-of-n:scripted:")
    set_judge = get_judge(f"rubric-set:{script}")
    assert isinstance(set_judge, RubricSetJudge) and set_judge.default_principles == "psychocounsel"
