"""Therapy styles: what the counsellor is told, and the policy that picks each turn's stage and technique.

A style is an instance of a ``TherapyStyle`` subclass registered through the
``register_therapy_styles`` hook. The technique node calls ``style.plan(view)``
before every counsellor turn; the chosen stage and technique go into the
counsellor's prompt and into the trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel


class Plan(BaseModel):
    """The stage and technique for one counsellor turn."""

    stage: str
    technique: str
    instruction: str  # what the counsellor should do this turn, in one or two sentences
    reason: str = ""  # why the policy chose it (recorded in the trace)


@dataclass(frozen=True)
class StyleLimits:
    """What the response guard enforces on counsellor replies."""

    max_sentences: int = 4
    max_chars: int = 450
    allow_lists: bool = False


@dataclass(frozen=True)
class PlanView:
    """What a style's policy may look at: the dialogue so far, never the persona's hidden file."""

    turn: int  # 1-based number of the counsellor turn being planned
    max_turns: int
    history: tuple[tuple[str, str], ...]  # (speaker, text), speaker "client" or "counselor"
    language: str = "en"
    previous: tuple[Plan, ...] = field(default_factory=tuple)  # plans of earlier turns

    @property
    def last_client(self) -> str:
        for speaker, text in reversed(self.history):
            if speaker == "client":
                return text
        return ""

    @property
    def client_texts(self) -> list[str]:
        return [t for s, t in self.history if s == "client"]

    @property
    def progress(self) -> float:
        """How far into the session this turn is, from 0 (first) to 1 (last)."""
        return 0.0 if self.max_turns <= 1 else (self.turn - 1) / (self.max_turns - 1)

    def recent_techniques(self, n: int = 2) -> list[str]:
        return [p.technique for p in self.previous[-n:]]


def cue(text: str, patterns: list[str]) -> str | None:
    """The text matched by the first pattern (a regex, case-insensitive) found in ``text``, or None."""
    for p in patterns:
        m = re.search(p, text, re.IGNORECASE)
        if m:
            return m.group(0)
    return None


class TherapyStyle:
    """Base class for therapy styles. Subclasses set the class attributes and ``plan``."""

    name: str = ""
    title: str = ""
    description: str = ""
    stages: tuple[str, ...] = ()
    techniques: dict[str, str] = {}  # technique name -> instruction for the counsellor
    limits: StyleLimits = StyleLimits()
    instructions: str = ""  # the counsellor's standing instructions for this style
    # False when ``plan`` is quick and never waits (no model call): a batch then runs it on its
    # event loop instead of handing it to a thread (see SafetyCheck.blocking).
    blocking: bool = True

    def plan(self, view: PlanView) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError

    def technique_plan(self, stage: str, technique: str, reason: str = "") -> Plan:
        """A plan for ``technique`` using its registered instruction."""
        return Plan(stage=stage, technique=technique, instruction=self.techniques[technique], reason=reason)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "stages": list(self.stages),
            "techniques": sorted(self.techniques),
        }
