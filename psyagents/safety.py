"""Safety checks: screen a message and say how much risk it shows.

Checks are registered through the ``register_safety_checks`` hook; ``screen``
runs all of them and the highest level wins (see ``RiskAssessment.combine``).
"""

from __future__ import annotations

from .plugins import collect
from .risk import RiskAssessment


class SafetyCheck:
    """Base class for a safety check. ``screen`` must never raise on odd text."""

    name: str = ""
    layer: str = "rules"  # rules | classifier | llm
    # False when ``screen`` is quick CPU work that never waits (no model, no file or network):
    # a batch then runs it on its event loop instead of handing it to a thread.
    blocking: bool = True

    def screen(self, text: str, *, language: str | None = None) -> RiskAssessment:  # pragma: no cover - abstract
        raise NotImplementedError


def safety_checks() -> list[SafetyCheck]:
    """All registered checks, plugins first."""
    return list(collect("register_safety_checks", keyed=False))  # type: ignore[arg-type]


def screen(text: str, *, language: str | None = None, checks: list[SafetyCheck] | None = None) -> RiskAssessment:
    """Screen one message with every check; the highest level wins."""
    checks = safety_checks() if checks is None else checks
    return RiskAssessment.combine([c.screen(text, language=language) for c in checks])
