"""Pydantic models of the data files: personas, principles and graphs.

Every model forbids unknown fields, so a typo in a YAML file is an error that
names the file and the field rather than a silently ignored key.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .risk import RiskLevel

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"

PROBLEM_CATEGORIES = (
    "anxiety", "depression", "grief", "relationships", "work-stress", "academic-stress",
    "trauma", "substance-use", "insomnia", "loneliness", "identity", "parenting", "anger",
    "eating", "self-esteem", "health", "family", "career", "migration", "self-harm",
    "suicidality", "bullying", "caregiving", "financial-stress", "perfectionism", "panic",
    "obsessive-compulsive", "ageing", "sexuality", "infertility", "domestic-abuse",
)

ConversationalStyle = Literal["plain", "upset", "verbose", "reserved", "tangent", "pleasing"]
Level3 = Literal["low", "medium", "high"]
StageOfChange = Literal["precontemplation", "contemplation", "preparation", "action", "maintenance"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CognitiveConceptualization(_Strict):
    """A CBT cognitive conceptualisation (Beck): from core beliefs down to behaviours."""

    relevant_history: str = ""
    core_beliefs: list[str] = Field(min_length=1)
    intermediate_beliefs: list[str] = Field(min_length=1)  # rules, attitudes, assumptions
    coping_strategies: list[str] = Field(default_factory=list)
    situation: str = ""  # a typical triggering situation
    automatic_thoughts: list[str] = Field(min_length=1)
    emotions: list[str] = Field(min_length=1)
    behaviors: list[str] = Field(min_length=1)


class BigFive(_Strict):
    openness: Level3
    conscientiousness: Level3
    extraversion: Level3
    agreeableness: Level3
    neuroticism: Level3


class Risk(_Strict):
    level: RiskLevel = "none"
    notes: str = ""  # what the client may say about risk, and when


class Disclosure(_Strict):
    """Something the client keeps back until the counsellor has earned it."""

    after_turn: int = Field(ge=1)  # earliest counsellor turn after which it may come out
    content: str


class Persona(_Strict):
    """A simulated client."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    age: int = Field(ge=10, le=100)
    gender: str
    culture: str  # e.g. "Chinese (Chengdu)", "Nigerian-British"
    locale: str = Field(pattern=r"^[a-z]{2}-[A-Z]{2}$")  # chooses crisis resources, e.g. en-US, zh-CN
    language: str = Field(pattern=r"^[a-z]{2}$")  # ISO 639-1 code the client speaks: en, zh, ...
    occupation: str
    living_situation: str
    problem_categories: list[str] = Field(min_length=1)
    presenting_problem: str
    history: str
    cognitive_conceptualization: CognitiveConceptualization
    big_five: BigFive
    conversational_style: ConversationalStyle
    resistance: Level3
    stage_of_change: StageOfChange
    risk: Risk = Risk()
    disclosures: list[Disclosure] = Field(default_factory=list)
    goals: list[str] = Field(default_factory=list)
    opening: str = ""  # first words in the session; generated when empty

    @field_validator("problem_categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if c not in PROBLEM_CATEGORIES]
        if bad:
            raise ValueError(f"unknown categories {bad}; known: {', '.join(PROBLEM_CATEGORIES)}")
        return value

    def summary(self) -> str:
        """One line for listings."""
        return f"{self.name}, {self.age}, {self.culture}: {self.presenting_problem}"


class ScaleAnchor(_Strict):
    score: int
    description: str


CODE_PATTERN = r"^[a-z][a-z0-9-]*$"


class RatioSpec(_Strict):
    """A behaviour ratio: the judge counts coded behaviours and the score is computed from the counts.

    ``value = sum(counts[numerator]) / sum(counts[denominator])`` (times 100 with ``percent``),
    capped to the principle's scale. No denominator behaviour: ``None`` (does not apply) when
    the numerator is zero too, else the top of the scale.
    """

    numerator: list[str] = Field(min_length=1)
    denominator: list[str] = Field(min_length=1)
    percent: bool = False

    @field_validator("numerator", "denominator")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not re.match(CODE_PATTERN, c)]
        if bad:
            raise ValueError(f"behaviour codes must be kebab-case, not {bad}")
        return value


class Principle(_Strict):
    """A principle a counsellor reply (or session) is rated on.

    ``kind: rating`` (the default): a judge gives a whole-number score on the anchored scale.
    ``kind: ratio``: a judge counts the ``behaviours`` (code -> definition) in the counsellor's
    turns and the score is the ``ratio`` computed from those counts (MITI-style summary scores).
    """

    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str
    sets: list[str] = Field(min_length=1)  # named groups, e.g. psychocounsel
    kind: Literal["rating", "ratio"] = "rating"
    scale_min: int = 1
    scale_max: int = 5
    anchors: list[ScaleAnchor] = Field(min_length=2)
    behaviours: dict[str, str] = Field(default_factory=dict)  # ratio principles: behaviour code -> definition
    ratio: RatioSpec | None = Field(default=None, validate_default=True)
    source: str = ""  # where the principle comes from (the rubric text is the project's own)

    @field_validator("sets")
    @classmethod
    def _set_names(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.match(ID_PATTERN, s)]
        if bad:
            raise ValueError(f"set names must be kebab-case, not {bad}")
        return value

    @field_validator("behaviours")
    @classmethod
    def _behaviours(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if value and info.data.get("kind") != "ratio":
            raise ValueError("behaviour codes belong to 'kind: ratio' principles")
        bad = [c for c in value if not re.match(CODE_PATTERN, c)]
        if bad:
            raise ValueError(f"behaviour codes must be kebab-case, not {bad}")
        return value

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: RatioSpec | None, info: ValidationInfo) -> RatioSpec | None:
        kind = info.data.get("kind")
        if kind == "ratio" and value is None:
            raise ValueError("a 'kind: ratio' principle needs a ratio (numerator and denominator behaviour codes)")
        if kind != "ratio" and value is not None:
            raise ValueError("only 'kind: ratio' principles have a ratio")
        if value is not None and "behaviours" in info.data:
            missing = sorted({*value.numerator, *value.denominator} - set(info.data["behaviours"]))
            if missing:
                raise ValueError(f"no definition in 'behaviours' for {missing}")
        return value

    @model_validator(mode="after")
    def _anchors_in_range(self) -> "Principle":
        if self.scale_min >= self.scale_max:
            raise ValueError(f"scale_min {self.scale_min} must be below scale_max {self.scale_max}")
        for a in self.anchors:
            if not self.scale_min <= a.score <= self.scale_max:
                raise ValueError(f"anchor score {a.score} outside {self.scale_min}..{self.scale_max}")
        return self


class NodeSpec(_Strict):
    type: str
    params: dict = Field(default_factory=dict)
    description: str = ""


class RouteSpec(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    when: str | None = Field(default=None, alias="if")  # a condition expression; None = otherwise
    to: str


CONDITION_RE = re.compile(r"^\s*(not\s+)?([a-z_][a-z0-9_]*)\s*(?:(>=|<=|==|!=|>|<)\s*([A-Za-z0-9_.-]+))?\s*$")


class GraphSpec(_Strict):
    """A session state machine: nodes from registered node types, edges and conditional routes.

    ``edges`` are unconditional (``from: to``); ``routes`` map a node to an ordered
    list of ``{if: CONDITION, to: NODE}`` branches, the last usually without ``if``.
    ``END`` names LangGraph's end.
    """

    id: str = Field(pattern=ID_PATTERN)
    description: str = ""
    nodes: dict[str, NodeSpec] = Field(min_length=1)
    start: str
    edges: dict[str, str] = Field(default_factory=dict)
    routes: dict[str, list[RouteSpec]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_structure(self) -> "GraphSpec":
        names = set(self.nodes)
        targets = names | {"END"}
        if self.start not in names:
            raise ValueError(f"start: '{self.start}' is not a node")
        for src, dst in self.edges.items():
            if src not in names:
                raise ValueError(f"edges: '{src}' is not a node")
            if dst not in targets:
                raise ValueError(f"edges.{src}: '{dst}' is not a node or END")
        for src, branches in self.routes.items():
            if src not in names:
                raise ValueError(f"routes: '{src}' is not a node")
            if src in self.edges:
                raise ValueError(f"routes.{src}: node also has an unconditional edge")
            for i, b in enumerate(branches):
                if b.to not in targets:
                    raise ValueError(f"routes.{src}[{i}].to: '{b.to}' is not a node or END")
                if b.when is not None and not CONDITION_RE.match(b.when):
                    raise ValueError(f"routes.{src}[{i}].if: cannot parse condition '{b.when}'")
            if branches and branches[-1].when is not None:
                raise ValueError(f"routes.{src}: the last branch needs no 'if' (it is the default)")
        for name in names:
            if name not in self.edges and name not in self.routes:
                raise ValueError(f"nodes.{name}: no edge or route leaves this node")
        # A session must be able to end: from every node it can reach, some path leads to END
        # (otherwise it would loop until LangGraph's recursion limit, after running for a while).
        nexts = {n: {self.edges[n]} if n in self.edges else {b.to for b in self.routes[n]} for n in names}
        reachable, todo = set(), [self.start]
        while todo:
            n = todo.pop()
            if n not in reachable and n != "END":
                reachable.add(n)
                todo.extend(nexts[n])
        can_end = {"END"}
        while True:
            more = {n for n in names - can_end if nexts[n] & can_end}
            if not more:
                break
            can_end |= more
        stuck = sorted(reachable - can_end)
        if stuck:
            raise ValueError(f"nodes.{stuck[0]}: no path from this node to END (a session reaching it could never end)")
        return self
