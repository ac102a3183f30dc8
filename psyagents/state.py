"""Session state (what the checkpointer saves) and context (what the nodes are built with)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from .specs import Persona
from .styles import TherapyStyle

if TYPE_CHECKING:
    from .reply_safety import ReplyCheck
    from .safety import SafetyCheck
    from .tracing import TraceStore

CLIENT, COUNSELOR = "client", "counselor"


class SessionState(TypedDict, total=False):
    """The graph's state. Messages carry the speaker in ``name`` ("client" or "counselor")."""

    messages: Annotated[list[AnyMessage], add_messages]
    turn: int  # counsellor turns completed
    plan: dict[str, Any] | None  # this turn's Plan (stage, technique, instruction, reason)
    plans: list[dict[str, Any]]  # every plan so far, for the style's policy
    risk: dict[str, Any]  # the latest RiskAssessment of a client message
    max_risk: str  # the highest level seen this session
    closing: str | None  # who has closed the session and awaits the other side's last word
    end_reason: str | None  # set once the session is over


@dataclass
class SessionContext:
    """Everything the nodes need that is not state: models, persona, style, limits, trace store."""

    session_id: str
    persona: Persona
    style: TherapyStyle
    counselor: BaseChatModel
    client: BaseChatModel
    counselor_spec: str = ""
    client_spec: str = ""
    max_turns: int = 8
    seed: int | None = None
    trace: TraceStore | None = None
    safety_checks: list[SafetyCheck] = field(default_factory=list)
    reply_checks: list[ReplyCheck] = field(default_factory=list)
    guard_retries: int = 2
    supervise: bool = False  # a human supervisor reviews crisis replies (see supervision.py)


def speaker_of(message: AnyMessage) -> str:
    return message.name or (COUNSELOR if message.type == "ai" else CLIENT)


def history(state: SessionState) -> list[tuple[str, str]]:
    """The dialogue as (speaker, text) pairs."""
    return [(speaker_of(m), str(m.content)) for m in state.get("messages", [])]
