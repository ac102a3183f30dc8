"""psyagents: simulate counselling sessions between language models, judge them, and train on the traces."""

from .errors import PsyagentsError
from .hookspecs import hookimpl
from .judging import Choice, ComparativeJudge, Judge, Verdict, get_judge, resolve_principles
from .models import get_chat_model
from .registry import get_graph_spec, get_persona, get_style, personas, styles
from .reply_safety import ReplyCheck, screen_reply
from .risk import RiskAssessment
from .safety import SafetyCheck, screen
from .session import Session, load_session, resume_session, run_session
from .simulate import Progress, SimulateResult, asimulate, simulate
from .specs import GraphSpec, Persona, Principle
from .styles import Plan, PlanView, StyleLimits, TherapyStyle
from .tracing import TraceStore, Turn

__all__ = [
    "GraphSpec",
    "Choice",
    "ComparativeJudge",
    "Judge",
    "ReplyCheck",
    "RiskAssessment",
    "SafetyCheck",
    "Verdict",
    "get_judge",
    "resolve_principles",
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
    "simulate",
    "asimulate",
    "Progress",
    "SimulateResult",
    "styles",
]
