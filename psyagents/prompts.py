"""The prompts the client and counsellor models get.

The client sees a role-swapped history (its own lines as ``assistant``), as in
LangGraph's chatbot-simulation tutorial and Interactive Agents, and a persona
brief that unlocks the persona's disclosures turn by turn.
"""

from __future__ import annotations

from functools import lru_cache

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from .specs import Persona
from .state import CLIENT, COUNSELOR
from .styles import Plan, StyleLimits, TherapyStyle
from .text import cap

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese (中文)"}

STYLE_NOTES = {
    "plain": "You talk plainly and directly.",
    "upset": "You are upset and it shows: you may be short, emotional or frustrated with the counsellor.",
    "verbose": "You talk a lot, with detail and side stories.",
    "reserved": "You are reserved: you say little and share more only when you feel safe.",
    "tangent": "You drift off on tangents and need bringing back.",
    "pleasing": "You try to please the counsellor and say what you think they want to hear.",
}
RESISTANCE_NOTES = {
    "low": "You are open to counselling.",
    "medium": "You are a little guarded and sometimes doubt that talking helps.",
    "high": "You are sceptical about counselling and push back on suggestions.",
}
END_SIGNAL = "[END]"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def client_system_prompt(persona: Persona, counselor_turns: int, counselor_closed: bool = False, note: str = "") -> str:
    """The client's brief: who they are, how they talk, and what they may reveal by now."""
    cc = persona.cognitive_conceptualization
    unlocked = [d.content for d in persona.disclosures if d.after_turn <= counselor_turns]
    lines = [
        f"You are {persona.name}, {persona.age}, {persona.gender}, {persona.culture}; {persona.occupation}. "
        f"{persona.living_situation}",
        "You are the CLIENT in a counselling session. The other person is your counsellor. Stay in this role: "
        "never act as the counsellor, never give advice, never say you are an AI.",
        f"Why you came: {persona.presenting_problem}",
        f"Your background: {persona.history}",
        f"Deep down you believe: {'; '.join(cc.core_beliefs)}. Thoughts that come up: {'; '.join(cc.automatic_thoughts)}. "
        f"You feel {', '.join(cc.emotions)}.",
        f"{STYLE_NOTES[persona.conversational_style]} {RESISTANCE_NOTES[persona.resistance]}",
    ]
    if persona.risk.level != "none" and persona.risk.notes:
        lines.append(f"About your safety: {persona.risk.notes}")
    if unlocked:
        lines.append("You now trust the counsellor enough to mention: " + " ".join(unlocked))
    else:
        lines.append("Do not reveal private details yet; share only what you came for.")
    lines.append(
        f"Reply in {language_name(persona.language)}, in one to three short spoken sentences, as yourself. "
        f"If you want to end the session, say goodbye and add {END_SIGNAL}."
    )
    if counselor_closed:
        lines.append("The counsellor is closing the session now: reply with a brief goodbye.")
    if note:
        lines.append(note)
    return "\n".join(lines)


@lru_cache(maxsize=8192)
def _said(kind: type[BaseMessage], text: str) -> BaseMessage:
    """One message object per kind and text, capped.

    Both prompts are rebuilt from the whole dialogue at every turn; building (and validating)
    each earlier message again made a session's prompt work grow with the square of its
    length. Models only read the messages they are given, so the objects can be shared.
    """
    return kind(cap(text))


def client_messages(
    persona: Persona, history: list[tuple[str, str]], counselor_turns: int, counselor_closed: bool, note: str = ""
) -> list[BaseMessage]:
    """Role-swapped history for the client model: the counsellor is the user, the client the assistant."""
    msgs: list[BaseMessage] = [SystemMessage(client_system_prompt(persona, counselor_turns, counselor_closed, note))]
    if not history:
        msgs.append(HumanMessage("(The counsellor greets you and waits for you to begin.)"))
    for speaker, text in history:
        # Each message is capped: one huge message must not crowd the brief out of the context window.
        msgs.append(_said(AIMessage if speaker == CLIENT else HumanMessage, text))
    return msgs


def counselor_system_prompt(
    style: TherapyStyle,
    plan: Plan,
    *,
    language: str,
    turn: int,
    max_turns: int,
    client_name: str,
    limits: StyleLimits,
    extra: str = "",
) -> str:
    """The counsellor's instructions for one turn: the style, this turn's technique and the limits."""
    lines = [
        style.instructions,
        f"You are talking with {client_name}. This is turn {turn} of {max_turns}.",
        f"Stage: {plan.stage}. Technique for this reply: {plan.technique} — {plan.instruction}",
    ]
    if turn >= max_turns:
        lines.append("This is the last turn: briefly sum up and close the session warmly.")
    if extra:
        lines.append(extra)
    lines.append(
        f"Reply in {language_name(language)}, speaking only as the counsellor, in at most {limits.max_sentences} "
        "short sentences of plain conversational speech. No lists, no headings, no advice dumps; ask at most one question."
    )
    return "\n".join(lines)


def counselor_messages(system: str, history: list[tuple[str, str]]) -> list[BaseMessage]:
    """The counsellor's prompt: its instructions, then the dialogue with each message capped."""
    msgs: list[BaseMessage] = [SystemMessage(system)]
    for speaker, text in history:
        msgs.append(_said(AIMessage if speaker == COUNSELOR else HumanMessage, text))
    return msgs
