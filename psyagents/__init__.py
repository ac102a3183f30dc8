"""psyagents: simulate counselling sessions between language models, judge them, and train on the traces."""

from .errors import PsyagentsError
from .hookspecs import hookimpl
from .judging import Judge, Verdict, get_judge
from .models import get_chat_model
from .registry import get_graph_spec, get_persona, get_style, personas, styles
from .reply_safety import ReplyCheck, screen_reply
from .risk import RiskAssessment
from .safety import SafetyCheck, screen
from .session import Session, load_session, resume_session, run_session
from .specs import GraphSpec, Persona, Principle
from .styles import Plan, PlanView, StyleLimits, TherapyStyle
from .tracing import TraceStore, Turn

__all__ = [
    "GraphSpec",
    "Judge",
    "ReplyCheck",
    "RiskAssessment",
    "SafetyCheck",
    "Verdict",
    "get_judge",
    "screen",
    "screen_reply",
    "Persona",
    "Plan",
    "PlanView",
    "Principle",
    "PsyagentsError",
    "Session",
    "StyleLimits",
    "TherapyStyle",
    "TraceStore",
    "Turn",
    "get_chat_model",
    "get_graph_spec",
    "get_persona",
    "get_style",
    "hookimpl",
    "load_session",
    "personas",
    "resume_session",
    "run_session",
    "styles",
]
