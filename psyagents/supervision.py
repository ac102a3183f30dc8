"""Human supervision of crisis replies through LangGraph's ``interrupt()``.

With supervision on, a session whose client is at imminent risk pauses after
the crisis reply is drafted, before the client sees it. A human supervisor
approves the draft, edits it, or takes over with their own words; the session
then continues. The draft and the decision are both logged: if the reply is
replaced, the trace keeps the original in a ``supervisor`` event.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.types import interrupt

from .errors import PsyagentsError
from .state import COUNSELOR, SessionContext, SessionState
from .text import sanitize
from .tracing import Turn

SUPERVISOR_MODEL = "human:supervisor"


def parse_decision(decision: Any) -> dict[str, str]:
    """Normalise a supervisor's decision: ``"approve"``, ``"reply:TEXT"``, or a dict with ``action`` and ``text``.

    A supervisor's words are human input: they are sanitised like every other utterance.
    """
    if isinstance(decision, str):
        decision = sanitize(decision)
        if decision.strip().lower() == "approve":
            return {"action": "approve"}
        if decision.startswith("reply:") and decision[6:].strip():
            return {"action": "take_over", "text": decision[6:].strip()}
        raise PsyagentsError(f"bad supervisor decision {decision!r}: use 'approve' or 'reply:YOUR WORDS'")
    if isinstance(decision, dict):
        action = decision.get("action")
        if action == "approve":
            return {"action": "approve"}
        text = sanitize(str(decision.get("text", ""))).strip()
        if action in ("edit", "take_over") and text:
            return {"action": action, "text": text}
    raise PsyagentsError(f"bad supervisor decision {decision!r}: use 'approve' or 'reply:YOUR WORDS'")


def make_supervisor(ctx: SessionContext, name: str, params: dict):
    """Pauses for a human when the client is at ``params['level']`` risk (default imminent) and supervision is on."""
    from .risk import at_least

    threshold = params.get("level", "imminent")

    def supervisor(state: SessionState) -> dict[str, Any]:
        level = (state.get("risk") or {}).get("level", "none")
        msgs = state.get("messages", [])
        if not ctx.supervise or not at_least(level, threshold) or not msgs or msgs[-1].name != COUNSELOR:
            return {}
        draft = msgs[-1]
        idx = len(msgs) - 1
        client_text = str(msgs[-2].content) if len(msgs) > 1 else ""
        # Re-runs from the top on resume; interrupt() then returns the supervisor's decision.
        decision = parse_decision(
            interrupt({"kind": "crisis_review", "risk": level, "client": client_text, "draft": str(draft.content), "turn_idx": idx})
        )
        if ctx.trace:
            ctx.trace.add_event(ctx.session_id, "supervisor", turn_idx=idx, level=level, draft=str(draft.content), **decision)
        if decision["action"] == "approve":
            return {}
        if ctx.trace:
            ctx.trace.add_turn(
                ctx.session_id,
                Turn(idx=idx, speaker=COUNSELOR, text=decision["text"], stage="crisis", technique="human-supervisor", model=SUPERVISOR_MODEL),
                {"replaced_draft": str(draft.content)},
            )
        # Same message id: add_messages replaces the draft instead of appending.
        return {"messages": [AIMessage(decision["text"], name=COUNSELOR, id=draft.id)]}

    return supervisor
