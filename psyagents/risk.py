"""Risk levels and the assessment every safety check returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

RISK_LEVELS: tuple[str, ...] = ("none", "low", "moderate", "high", "imminent")
RiskLevel = Literal["none", "low", "moderate", "high", "imminent"]


def level_index(level: str) -> int:
    """Position of a level in ``RISK_LEVELS``; raises ValueError naming the bad level."""
    try:
        return RISK_LEVELS.index(level)
    except ValueError:
        raise ValueError(f"unknown risk level '{level}'; expected one of {', '.join(RISK_LEVELS)}") from None


def at_least(level: str, threshold: str) -> bool:
    """True when ``level`` is ``threshold`` or higher."""
    return level_index(level) >= level_index(threshold)


def highest(levels: list[str]) -> str:
    """The highest of several levels ('none' for an empty list)."""
    return max(levels, key=level_index, default="none")


class RiskAssessment(BaseModel):
    """What a safety check concluded about one message."""

    level: RiskLevel = "none"
    categories: list[str] = Field(default_factory=list)
    layer: str = ""  # the check that decided
    evidence: list[str] = Field(default_factory=list)  # the phrases that triggered it

    @classmethod
    def combine(cls, results: list["RiskAssessment"]) -> "RiskAssessment":
        """The highest level wins; categories and evidence are pooled."""
        if not results:
            return cls()
        top = max(results, key=lambda r: level_index(r.level))
        cats: list[str] = []
        ev: list[str] = []
        for r in results:
            cats += [c for c in r.categories if c not in cats]
            ev += [e for e in r.evidence if e not in ev]
        return cls(level=top.level, categories=cats, layer=top.layer, evidence=ev)
