"""Safety layers on top of the rule screen: a classifier and an LLM assessor.

All are ``SafetyCheck``s, so the highest level among all layers wins. The
built-in ``safety_layers`` plugin registers them from environment variables:

* ``PSYAGENTS_SAFETY_CLASSIFIER`` - unset: the shipped n-gram classifier
  (``NgramClassifierCheck``, ``safety_data/risk-classifier.json``; pure Python, well
  under a millisecond for a short message); ``""`` or ``off``: no classifier; a
  ``.json`` file: another n-gram model of that format (``psyagents safety
  train-classifier`` builds one); a folder: a local Hugging Face
  sequence-classification model whose labels are risk levels (``ClassifierCheck``);
* ``PSYAGENTS_SAFETY_ASSESSOR=MODEL`` - any chat model string (``openai:NAME``,
  ``local:PATH``, ...) asked to assess the message and answer in JSON. Off by default.

A layer that fails (a crash, output that cannot be parsed) never stops a
session: it reports ``none`` with the failure as evidence, and the other layers
still decide.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError, field_validator

from .errors import PsyagentsError
from .risk import RISK_LEVELS, RiskAssessment, RiskLevel
from .safety import SafetyCheck

logger = logging.getLogger(__name__)

CATEGORIES = (
    "suicide_attempt", "suicide_preparation", "suicide_plan", "active_suicidal_ideation", "passive_suicidal_ideation",
    "self_harm_behavior", "self_harm_intent", "aggression_to_others", "aggression_from_others", "asking_about_suicide",
)

ASSESSOR_PROMPT = f"""You assess suicide, self-harm and violence risk in one message a counselling client wrote.
Levels (aligned with the Columbia Suicide Severity Rating Scale screener):
- none: no risk; idioms ("this deadline is killing me"), fiction, other topics.
- low: passive wish to be dead ("I wish I could disappear"), or talking or asking about suicide, or worry about someone else.
- moderate: active thoughts of suicide without a plan, recent self-harm, violence from others.
- high: a method or plan, preparation (saving pills, writing notes), a recent attempt, intent to self-harm or to hurt others.
- imminent: intent with a timeframe or the means at hand now ("tonight", "the pills are in front of me"), or an attempt in progress.
Categories: {", ".join(CATEGORIES)}.
Answer with JSON only: {{"level": "...", "categories": ["..."], "rationale": "one sentence"}}"""

_JSON = re.compile(r"\{.*\}", re.DOTALL)


class AssessorAnswer(BaseModel):
    level: RiskLevel
    categories: list[str] = Field(default_factory=list)
    rationale: str = ""

    @field_validator("categories")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return [c for c in value if c in CATEGORIES]


def parse_assessment(text: str) -> AssessorAnswer:
    """The JSON object in a model's answer (code fences and chatter around it are ignored)."""
    match = _JSON.search(text)
    if not match:
        raise ValueError("no JSON object in the answer")
    return AssessorAnswer.model_validate(json.loads(match.group(0)))


class LLMRiskAssessor(SafetyCheck):
    """Asks a chat model to rate the message; retries once on unparseable output."""

    name = "llm-assessor"
    layer = "llm"

    def __init__(self, model: str, retries: int = 1):
        from .models import get_chat_model

        self.model_spec = model
        self.model = get_chat_model(model)
        self.retries = retries

    def screen(self, text: str, *, language: str | None = None) -> RiskAssessment:
        messages = [SystemMessage(ASSESSOR_PROMPT), HumanMessage(text[:8000])]
        error = ""
        for _ in range(self.retries + 1):
            try:
                answer = parse_assessment(str(self.model.invoke(messages).content))
            except (ValueError, ValidationError) as exc:
                error = str(exc).splitlines()[0]
                messages = [*messages[:2], HumanMessage(f"Your answer could not be read ({error}). Answer with the JSON object only.")]
                continue
            except Exception as exc:  # a dead server must not stop a session
                logger.warning("risk assessor %s failed: %s", self.model_spec, exc)
                return RiskAssessment(layer=self.name, evidence=[f"(assessor failed: {type(exc).__name__})"])
            return RiskAssessment(level=answer.level, categories=answer.categories, layer=self.name, evidence=[answer.rationale] if answer.rationale else [])
        return RiskAssessment(layer=self.name, evidence=[f"(assessor output unreadable: {error})"])


class ClassifierCheck(SafetyCheck):
    """A local sequence-classification model whose labels are the risk levels."""

    name = "classifier"
    layer = "classifier"

    def __init__(self, path: str | Path):
        path = Path(path)
        if not (path / "config.json").is_file():
            raise PsyagentsError(f"safety classifier '{path}' is not a model folder (no config.json)")
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError:
            raise PsyagentsError("the safety classifier needs torch and transformers: pip install 'psyagents[local]'") from None
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
        labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        unknown = [label for label in labels if label not in RISK_LEVELS]
        if unknown:
            raise PsyagentsError(f"safety classifier '{path}': labels {unknown} are not risk levels ({', '.join(RISK_LEVELS)})")
        self.labels = labels
        self._lock = threading.Lock()

    def screen(self, text: str, *, language: str | None = None) -> RiskAssessment:
        import torch

        try:
            with self._lock, torch.no_grad():
                batch = self.tokenizer(text, truncation=True, max_length=512, return_tensors="pt")
                probs = self.model(**batch).logits.softmax(-1)[0]
        except Exception as exc:
            logger.warning("safety classifier failed: %s", exc)
            return RiskAssessment(layer=self.name, evidence=[f"(classifier failed: {type(exc).__name__})"])
        best = int(probs.argmax())
        return RiskAssessment(level=self.labels[best], layer=self.name, evidence=[f"p({self.labels[best]})={float(probs[best]):.2f}"])


class NgramClassifierCheck(SafetyCheck):
    """The n-gram risk classifier (``psyagents/risk_classifier.py``): never ``low``, and no categories.

    Its evidence gives the head probabilities, e.g. ``p(high)=0.83 >= 0.69``.
    """

    name = "risk-classifier"
    layer = "classifier"
    blocking = False  # pure CPU, well under a millisecond

    def __init__(self, path: str | Path | None = None):
        from .risk_classifier import DEFAULT_PATH, NgramRiskModel

        self.model = NgramRiskModel.load(DEFAULT_PATH if path is None else path)

    def screen(self, text: str, *, language: str | None = None) -> RiskAssessment:
        if not isinstance(text, str) or not text.strip():
            return RiskAssessment(layer=self.name)
        try:
            probs = self.model.probabilities(text)
        except Exception as exc:  # a screen must never stop a session
            logger.warning("risk classifier failed: %s", exc)
            return RiskAssessment(layer=self.name, evidence=[f"(classifier failed: {type(exc).__name__})"])
        level = self.model.decide(probs)
        head = level if level != "none" else "moderate"
        evidence = [f"p({head})={probs[head]:.2f} {'>=' if level != 'none' else '<'} {self.model.thresholds[head]:.2f}"]
        return RiskAssessment(level=level, layer=self.name, evidence=evidence if level != "none" else [])
