"""The heuristic judge (no model): reply form, MITI proxies, English and Chinese, and selection."""

from __future__ import annotations

import pytest

from psyagents.judging import HeuristicJudge, code_behaviours, distinct_n, form_score, get_judge, reply_features, resolve_principles
from psyagents.registry import get_principle

H = [("client", "I failed my exam and I feel useless.")]
GOOD = "It sounds like you feel crushed and ashamed because this exam mattered so much to you. What has been the hardest part?"
LIST = "Here are some tips:\n1. Sleep more\n2. Study every day\n3. Exercise"
STACK = "Did you study? Did you sleep? Do you eat well? Are you okay?"
SHORT = "ok"
GOOD_ZH = "听起来你因为这次考试很难过，也很在乎结果。最让你难受的是什么？"
LIST_ZH = "建议如下：\n一、早点睡\n二、多运动\n三、做计划"
FORM = [get_principle("reply-form")]


def form(reply: str, history=H) -> float:
    [v] = HeuristicJudge().rate_reply(history, reply, FORM)
    assert v.status == "ok" and v.judge == "heuristic"
    return v.score


def test_form_scores_rank_good_over_bad_in_english_and_chinese():
    assert form(GOOD) == 5.0 and form(GOOD_ZH) == 5.0
    assert form(GOOD) > form(STACK) > form(SHORT)
    assert form(GOOD) > form(LIST) and form(GOOD_ZH) > form(LIST_ZH)
    [v] = HeuristicJudge().rate_reply(H, LIST, FORM)
    assert "list or formatting (3 marks)" in v.rationale and "neither a reflection nor a question" in v.rationale
    [s] = HeuristicJudge().rate_reply(H, STACK, FORM)
    assert "4 questions at once" in s.rationale and "closed questions only" in s.rationale


def test_features_by_hand():
    f = reply_features(GOOD)
    assert (f["sentences"], f["questions"], f["reflections"], f["open_question_ratio"], f["format_breaks"]) == (2, 1, 1, 1.0, 0)
    assert f["question_ratio"] == 0.5 and f["distinct_2"] == 1.0 and f["repetition"] == 0.0
    z = reply_features(GOOD_ZH)
    assert z["chinese"] and z["questions"] == 1 and z["reflections"] == 1 and z["length"] == len("听起来你因为这次考试很难过也很在乎结果最让你难受的是什么")
    assert distinct_n("a b a b a b", 2) == 2 / 5 and distinct_n("a", 2) is None
    said = "I feel useless and tired."
    assert code_behaviours("You feel useless. So you're tired. You feel stuck. How does that feel? Is it bad? 你有没有试过？", said) == {
        "open-question": 1, "closed-question": 2, "simple-reflection": 2, "complex-reflection": 1,  # "stuck" is new
    }
    assert code_behaviours("You feel useless because the exam mattered.", said)["complex-reflection"] == 1


def test_repetition_of_earlier_turns_and_within_a_reply():
    before = [*H, ("counselor", GOOD), ("client", "Yes.")]
    assert reply_features(GOOD, before)["repetition"] == 1.0
    assert form(GOOD, before) == 3.0  # repeats an earlier turn
    looping = "I hear you and I hear you and I hear you and I hear you and I hear you. What else?"
    [v] = HeuristicJudge().rate_reply(H, looping, FORM)
    assert "repetitive wording" in v.rationale


def test_too_long_and_scales():
    long_reply = " ".join(["You are doing your best with a very hard situation that would weigh on anyone."] * 12)
    assert form(long_reply) <= 3.0
    wide = get_principle("reply-form").model_copy(update={"scale_min": 0, "scale_max": 10})
    [v] = HeuristicJudge().rate_reply(H, GOOD, [wide])
    assert (v.score, v.scale_max) == (10.0, 10)


def test_miti_proxies_and_unknown_principles():
    verdicts = {v.principle: v for v in HeuristicJudge().rate_reply(H, STACK, resolve_principles("miti"))}
    assert verdicts["miti-open-questions"].score == 0.0 and verdicts["miti-reflection-question-ratio"].score == 0.0
    assert verdicts["miti-complex-reflections"].score is None  # no reflection: does not apply
    assert verdicts["miti-mi-adherence"].status == "failed" and "no rule" in verdicts["miti-mi-adherence"].error
    [e] = HeuristicJudge().rate_reply(H, GOOD, [get_principle("empathy")])
    assert e.status == "failed" and e.score is None


def test_rate_session_averages_counsellor_turns():
    transcript = [*H, ("counselor", GOOD), ("client", "Yes."), ("counselor", SHORT)]
    [v] = HeuristicJudge().rate_session(transcript, FORM)
    assert v.score == (5.0 + form(SHORT)) / 2
    [oq] = HeuristicJudge().rate_session(transcript, [get_principle("miti-open-questions")])
    assert oq.score == 1.0


def test_heuristic_as_a_selector():
    judge = get_judge("heuristic")
    [c] = judge.choose(H, [LIST, GOOD, STACK])
    assert (c.winner, c.order, c.status) == (1, [0, 1, 2], "ok") and "1: 5" in c.rationale
    [tie] = judge.choose(H, [GOOD, GOOD])
    assert tie.winner is None and "tie" in tie.rationale
    assert form_score(reply_features(GOOD))[0] == 5.0


def test_heuristic_takes_no_argument():
    from psyagents.errors import PsyagentsError

    with pytest.raises(PsyagentsError, match="takes no argument"):
        get_judge("heuristic:x")


def test_a_principle_file_that_does_not_load_says_why(tmp_path):
    """A principle named by its file path: a bad file's own error, not "unknown principle"."""
    from psyagents.errors import DataFileError, PsyagentsError
    from tests.conftest import run_cli

    good = tmp_path / "warmth.yaml"
    good.write_text("name: Warmth\ndescription: Kind.\nsets: [mine]\nanchors:\n  - {score: 1, description: Cold.}\n"
                    "  - {score: 5, description: Warm.}\n", encoding="utf-8")
    assert [p.id for p in resolve_principles(f"empathy,{good}")] == ["empathy", "warmth"]
    bad = tmp_path / "x.yaml"
    bad.write_text("name: X\ndescription: no anchors\nsets: [mine]\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"x\.yaml: field 'anchors'"):
        resolve_principles(f"empathy,{bad}")
    with pytest.raises(DataFileError, match="not found"):
        resolve_principles(str(tmp_path / "missing.yaml"))
    with pytest.raises(PsyagentsError, match=r"unknown principle or set 'empathie' \(did you mean 'empathy'\?\)"):
        resolve_principles("empathie")
    result = run_cli("judge", "--db", str(tmp_path / "t.db"), "--judge", "heuristic", "--principles", str(bad))
    assert result.returncode == 2 and "field 'anchors'" in result.stderr and "unknown principle" not in result.stderr
