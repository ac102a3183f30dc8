"""The client sees a role-swapped history and discloses gradually; the counsellor gets the turn's technique."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from psyagents.prompts import END_SIGNAL, client_messages, client_system_prompt, counselor_system_prompt
from psyagents.registry import get_persona, get_style
from psyagents.styles import Plan


def test_disclosures_unlock_turn_by_turn():
    persona = get_persona("maya-exam-anxiety")
    first, later = persona.disclosures[0], persona.disclosures[-1]
    assert first.after_turn < later.after_turn
    early = client_system_prompt(persona, counselor_turns=first.after_turn - 1)
    middle = client_system_prompt(persona, counselor_turns=first.after_turn)
    late = client_system_prompt(persona, counselor_turns=later.after_turn)
    assert first.content not in early and "Do not reveal private details yet" in early
    assert first.content in middle and later.content not in middle
    assert first.content in late and later.content in late
    assert END_SIGNAL in early and "never act as the counsellor" in early


def test_client_history_is_role_swapped_and_complete():
    persona = get_persona("lin-gaokao-pressure")
    history = [("client", "你好"), ("counselor", "你好，今天想聊些什么？"), ("client", "我压力很大。"), ("counselor", "能多说一点吗？")]
    msgs = client_messages(persona, history, counselor_turns=2, counselor_closed=False)
    assert isinstance(msgs[0], SystemMessage) and "Chinese" in msgs[0].content
    assert [type(m) for m in msgs[1:]] == [AIMessage, HumanMessage, AIMessage, HumanMessage]
    assert [m.content for m in msgs[1:]] == [t for _, t in history]


def test_counselor_prompt_carries_technique_limits_and_closing():
    style = get_style("cbt")
    plan = Plan(stage="intervention", technique="decatastrophizing", instruction=style.techniques["decatastrophizing"])
    text = counselor_system_prompt(style, plan, language="en", turn=8, max_turns=8, client_name="Maya", limits=style.limits)
    assert "decatastrophizing" in text and style.techniques["decatastrophizing"] in text
    assert f"at most {style.limits.max_sentences}" in text
    assert "last turn" in text


def test_prompts_of_later_turns_reuse_the_earlier_messages_and_cap_them():
    """Each turn's prompt holds the whole dialogue; earlier messages are the same objects, not rebuilt."""
    from psyagents.prompts import counselor_messages
    from psyagents.text import cap

    long = "word " * 5000
    dialogue = [("client", "I can't sleep."), ("counselor", "Tell me about the nights."), ("client", long)]
    first = counselor_messages("sys", dialogue[:2])
    later = counselor_messages("sys", [*dialogue, ("counselor", "That sounds exhausting.")])
    assert [type(m) for m in later] == [SystemMessage, HumanMessage, AIMessage, HumanMessage, AIMessage]
    assert later[1] is first[1] and later[2] is first[2]
    assert later[3].content == cap(long) and len(later[3].content) < len(long)
    # the client's role-swapped prompt gets the other kinds for the same texts
    persona = get_persona("kevin-panic")
    swapped = client_messages(persona, dialogue, 1, False)
    assert isinstance(swapped[1], AIMessage) and swapped[1].content == "I can't sleep."
    assert isinstance(swapped[2], HumanMessage)
