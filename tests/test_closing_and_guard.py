"""Closing detection in context, and the response guard's checks and repairs."""

from __future__ import annotations

import pytest

from psyagents.closing import accepts_close, is_close_proposal, is_closing
from psyagents.guard import clean, repair, violations
from psyagents.styles import StyleLimits


@pytest.mark.parametrize(
    "text",
    [
        "Thank you, this helped. I think that's all for today. Goodbye.",
        "Okay, see you next week!",
        "See ya tomorrow! Take it easy.",
        "I have to go now, bye.",
        "Let's stop here for today. Take care of yourself.",
        "谢谢你，今天就到这里吧，再见。",
        "好的，下次见！",
        "We made good progress. Have a good evening.",
    ],
)
def test_closings(text):
    assert is_closing(text)


@pytest.mark.parametrize(
    "text",
    [
        "I never got to say goodbye to my dad.",
        "She waved goodbye to her friends and then I was alone.",
        "Bye. No, wait, actually there is something else I need to tell you, it's been on my mind for weeks and I don't know how to say it.",
        "Shall we stop here for today?",
        "我没能跟奶奶说再见，这是我最难过的。",
        "Hi.",
        "Thank you, that helps a lot. What should I do about my sister?",
        "",
    ],
)
def test_not_closings(text):
    assert not is_closing(text)


def test_a_proposal_is_closed_by_agreement():
    proposal = "You've done a lot of work today. Shall we stop here for today?"
    assert is_close_proposal(proposal)
    assert accepts_close("Yes, that's fine.", proposal)
    assert not accepts_close("Actually, can I ask one more thing?", proposal)
    assert not accepts_close("Yes.", "How are you feeling?")


LIMITS = StyleLimits(max_sentences=3, max_chars=300)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("That sounds hard. What happened next?", []),
        ("One. Two. Three. Four. Five.", ["too_long"]),
        ("x" * 301, ["too_long"]),
        ("Try this:\n- sleep\n- eat", ["list"]),
        ("Some ideas: 1. Sleep early 2. Walk daily", ["list"]),
        ("**Tip:** breathe.", ["list"]),
        ("As an AI language model, I can't feel that.", ["role_break"]),
        ("I hear you.\nClient: thanks", ["role_break"]),
        ("作为一个AI，我无法理解。", ["role_break"]),
        ("   ", ["empty"]),
    ],
)
def test_violations(text, expected):
    assert violations(text, LIMITS) == expected


def test_clean_strips_labels_and_the_other_side():
    assert clean("Counselor: How are you?\nClient: I'm fine.\nCounselor: Good.", "counselor") == "How are you?"
    assert clean('"I feel lost."', "client") == "I feel lost."
    assert clean("来访者：我很累。", "client") == "我很累。"


def test_repair_fits_the_limits():
    text = "Here is what to do:\n1. Sleep more\n2. Eat well\n3. Walk\n4. Call a friend\nAs an AI I hope this helps."
    fixed = repair(text, LIMITS)
    assert violations(fixed, LIMITS) == []
    assert fixed.startswith("Here is what to do. Sleep more. Eat well.")
    assert "AI" not in fixed
