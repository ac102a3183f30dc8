"""A small learned risk classifier: character n-grams, TF-IDF and one logistic head per level.

The screen's rule layer only knows the wordings its patterns expect. This model
learns from labelled messages instead (English and Chinese written for the
project, the dev split and PsyGUARD's Chinese messages; see
``psyagents/risk_training.py`` and ``docs/safety.md``). Character n-grams need no
word segmentation, so one model serves both languages.

The shipped model is plain JSON (``safety_data/risk-classifier.json``): the
vocabulary with each n-gram's IDF and weights, the intercepts and the decision
thresholds. Scoring is a few dictionary look-ups in pure Python - no
scikit-learn, numpy or pickle at run time, so the same file gives the same
scores on any platform and library version.

Heads are cumulative: ``moderate`` scores P(level >= moderate), ``high``
P(level >= high), ``imminent`` P(level = imminent). The level is the highest
head whose probability reaches its threshold (``imminent`` only together with
``high``; see ``decide``). The model never says ``low``: passive ideation and
talk about suicide are left to the rules, where a wrong guess costs less.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import PsyagentsError

FORMAT = "psyagents-risk-ngram/1"
HEADS: tuple[str, ...] = ("moderate", "high", "imminent")
DEFAULT_PATH = Path(__file__).parent / "safety_data" / "risk-classifier.json"

# Long messages are scored in windows of whole sentences and the highest window
# wins, so one risky line among other news is not diluted by the rest. Windows
# reach MAX_SCORED characters in all; past that, the start and end are scored.
WINDOW = 280
MAX_SCORED = 24_000

_SPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"[0-9]")
_LATIN_WORD = re.compile(r"[a-z']+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…\n])\s*")


@lru_cache(maxsize=1)
def _fold():
    # The rule layer's folding: lower case, Traditional to Simplified, full-width to ASCII.
    from .default_plugins.basic_safety import normalise

    return normalise


def prepare(text: str) -> str:
    """The text the features are read from: folded, digits as 0, whitespace collapsed."""
    text = _fold()(text)
    text = _DIGIT.sub("0", text)
    return _SPACE.sub(" ", text).strip()


def features(text: str, *, char_max: int = 4, words: bool = True) -> Counter[str]:
    """Counts of the character 1..char_max-grams (over ' text ') and, if ``words``, Latin word uni- and bigrams."""
    prepared = " " + prepare(text) + " "
    counts: Counter[str] = Counter()
    n = len(prepared)
    for size in range(1, char_max + 1):
        counts.update(prepared[i : i + size] for i in range(n - size + 1))
    if words:
        tokens = _LATIN_WORD.findall(prepared)
        counts.update("w:" + t for t in tokens)
        counts.update("w:" + a + " " + b for a, b in zip(tokens, tokens[1:]))
    counts.pop(" ", None)
    return counts


def windows(text: str, width: int = WINDOW, limit: int = MAX_SCORED) -> list[str]:
    """The text itself when short; else runs of whole sentences of about ``width`` characters."""
    if len(text) <= width:
        return [text]
    if len(text) > limit:
        text = text[: limit // 2] + "\n" + text[-limit // 2 :]
    parts: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > width:  # a run-on "sentence": cut it, overlapping a little
            parts.append((current + " " + sentence[:width]).strip())
            current, sentence = "", sentence[width - 40 :]
        if current and len(current) + len(sentence) > width:
            parts.append(current)
            current = current[-80:] if len(current) > 80 else ""  # keep some context across the cut
        current = (current + " " + sentence).strip() if current else sentence
    if current.strip():
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:width]]


def decide(probabilities: dict[str, float], thresholds: dict[str, float]) -> str:
    """``high`` when its head reaches its threshold (``imminent`` if that head does too), else ``moderate`` when its does.

    The high head does not need the moderate one: each is tuned on its own false-positive budget.
    """
    level = "none"
    if probabilities.get("moderate", 0.0) >= thresholds.get("moderate", 1.0):
        level = "moderate"
    if probabilities.get("high", 0.0) >= thresholds.get("high", 1.0):
        level = "high"
        if probabilities.get("imminent", 0.0) >= thresholds.get("imminent", 1.0):
            level = "imminent"
    return level


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class NgramRiskModel:
    """The JSON model: ``probabilities(text)`` per head, ``level(text)`` with the shipped thresholds."""

    def __init__(self, data: dict[str, Any], source: str = "<memory>"):
        if data.get("format") != FORMAT:
            raise PsyagentsError(f"risk classifier '{source}': field 'format' is {data.get('format')!r}, expected {FORMAT!r}")
        try:
            self.heads: tuple[str, ...] = tuple(data["heads"])
            self.intercepts: list[float] = [float(x) for x in data["intercepts"]]
            self.thresholds: dict[str, float] = {h: float(data["thresholds"][h]) for h in self.heads}
            self.options: dict[str, Any] = dict(data["features"])
            # entry: [idf, weight for each head], used as parsed (converting 40,000 entries costs more than loading)
            self.vocab: dict[str, list[float]] = data["vocabulary"]
            if not isinstance(self.vocab, dict):
                raise TypeError("'vocabulary' must be an object")
        except (KeyError, TypeError, ValueError) as exc:
            raise PsyagentsError(f"risk classifier '{source}': malformed model ({type(exc).__name__}: {exc})") from None
        if self.heads != HEADS[: len(self.heads)] or len(self.intercepts) != len(self.heads):
            raise PsyagentsError(f"risk classifier '{source}': field 'heads' must be a prefix of {list(HEADS)}")
        width = len(self.heads) + 1
        bad = next((k for k, v in self.vocab.items() if not isinstance(v, list) or len(v) != width
                    or not all(isinstance(x, (int, float)) for x in v)), None)
        if bad is not None:
            raise PsyagentsError(f"risk classifier '{source}': vocabulary entry {bad!r} needs an IDF and {len(self.heads)} weights")
        self.meta: dict[str, Any] = data.get("training", {})
        self.source = source

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> "NgramRiskModel":
        """Read a model file; a missing or unreadable file is a one-line PsyagentsError."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PsyagentsError(f"risk classifier '{path}' not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PsyagentsError(f"risk classifier '{path}' cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise PsyagentsError(f"risk classifier '{path}': expected a JSON object")
        return cls(data, str(path))

    def _probabilities_one(self, text: str) -> list[float]:
        counts = features(text, char_max=int(self.options.get("char_max", 4)), words=bool(self.options.get("words", True)))
        sums = [0.0] * len(self.heads)
        norm = 0.0
        vocab = self.vocab
        for gram, count in counts.items():
            entry = vocab.get(gram)
            if entry is None:
                continue
            value = (1.0 + math.log(count)) * entry[0]
            norm += value * value
            for i in range(len(sums)):
                sums[i] += value * entry[i + 1]
        scale = 1.0 / math.sqrt(norm) if norm > 0 else 0.0
        return [_sigmoid(s * scale + b) for s, b in zip(sums, self.intercepts)]

    def probabilities(self, text: str) -> dict[str, float]:
        """P(at least each head's level); a long text takes the highest of its windows, head by head."""
        best = [0.0] * len(self.heads)
        for part in windows(text):
            best = [max(a, b) for a, b in zip(best, self._probabilities_one(part))]
        return dict(zip(self.heads, best))

    def decide(self, probabilities: dict[str, float]) -> str:
        """The level for these head probabilities under the model's thresholds (see ``decide``)."""
        return decide(probabilities, self.thresholds)

    def level(self, text: str) -> str:
        """The level this model gives ``text`` (never ``low``)."""
        return self.decide(self.probabilities(text))
