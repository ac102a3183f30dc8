"""Training, cross-validation and threshold choice for the n-gram risk classifier.

``build_model`` rebuilds ``safety_data/risk-classifier.json`` from the shipped
training files (``tools/train_risk_classifier.py`` and
``psyagents safety train-classifier`` call it). Needs scikit-learn
(``pip install 'psyagents[train]'``); scoring the result does not.

Data (``TRAINING_FILES``; every line ``{"text": ..., "risk": LEVEL, ...}``):

* ``screen-dev-en/zh.jsonl`` - the dev split. The test split is never read here.
* ``train-en.jsonl``, ``train-zh.jsonl`` - messages written for the classifier, with
  hard negatives (idioms, fiction, negation, past and resolved risk, other people).
* ``train-2-en.jsonl``, ``train-2-zh.jsonl`` - a second batch written the same way to widen
  the wording (source ``written-2``).
* ``train-3-en.jsonl``, ``train-3-zh.jsonl`` - ordinary in-session client talk (source ``written-3``):
  terse or reluctant openers, family, referrals, pain, tiredness, money, grief, plain answers, and some
  tens of risky messages in the same terse register. An earlier model flagged persona openings such as
  a reluctant "my partner booked this" as imminent; these teach it what such talk looks like.
* ``train-conversation.jsonl`` - ordinary session talk, all ``none``: greetings, short answers
  and, above all, closings ("Thank you. Goodbye.", "I have to leave now."), which a model that
  has seen risky farewells would otherwise flag at the end of every session.
* ``train-rules-suite.jsonl`` - the messages of the rule layer's test suite
  (``tests/test_basic_safety.py``), written for the project.
* ``psyguard-valid-levels.jsonl`` - PsyGUARD's validation messages (Chinese, MIT,
  see ``PSYGUARD-LICENSE``) with their labels mapped to levels (``PSYGUARD_LEVELS``).

Model choice and thresholds come from stratified k-fold cross-validation on
these files: each fold's model is turned into the JSON format and scored by
``NgramRiskModel`` itself, so the out-of-fold figures measure the code that runs
in a session (including the windows for long messages).
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PsyagentsError
from .risk import RISK_LEVELS, level_index
from .risk_classifier import DEFAULT_PATH, FORMAT, HEADS, NgramRiskModel, decide, features

DATA = Path(__file__).parent / "safety_data"
TRAINING_FILES: dict[str, str] = {
    "dev": "screen-dev-en.jsonl screen-dev-zh.jsonl",
    "written": "train-en.jsonl train-zh.jsonl",
    "written-2": "train-2-en.jsonl train-2-zh.jsonl",
    "written-3": "train-3-en.jsonl train-3-zh.jsonl",
    "conversation": "train-conversation.jsonl",
    "rules-suite": "train-rules-suite.jsonl",
    "psyguard": "psyguard-valid-levels.jsonl",
}

# PsyGUARD's 11 labels mapped to levels (a message takes the highest of its labels);
# the same mapping as docs/safety.md and tests/test_basic_safety.py.
PSYGUARD_LEVELS = {
    "suicide_attempt": "high",
    "suicide_preparation": "high",
    "suicide_plan": "high",
    "self_harm_intent": "high",
    "user_aggression": "high",
    "active_suicidal_ideation": "moderate",
    "self_harm_behavior": "moderate",
    "others_aggression": "moderate",
    "passive_suicidal_ideation": "low",
    "asking_about_suicide": "low",
    "unrelated": "none",
}

LICENCE_NOTICE = (
    "Trained in part on PsyGUARD's validation data (Qiu et al., EMNLP 2024; qiuhuachuan/PsyGUARD, "
    "MIT License, Copyright (c) 2024 qiuhuachuan; see PSYGUARD-LICENSE beside this file)."
)


@dataclass
class Example:
    text: str
    risk: str
    source: str
    kind: str = ""


@dataclass
class Options:
    """What a model is trained with; ``choose`` compares a few of these by cross-validation."""

    char_max: int = 4
    words: bool = True
    concepts: bool = False
    min_df: int = 2
    C: float = 4.0
    psyguard_weight: float = 1.0
    # Out-of-fold false-positive budgets on the project's written `none` messages.
    # The rules add their own few (0.05-0.08 on messages they were not tuned on), and the issue's
    # target for the whole screen is 0.10; written `none` messages are mostly hard negatives.
    # The whole budget may go to the high head (the recall is on high+imminent); the
    # moderate head then only adds what costs no further false positives. Cross-validated in
    # 2026-11: high 0.07 / any 0.08 gave recall high+imminent 0.740 and moderate+ 0.730 on the
    # written messages, 0.08 / 0.08 gave 0.775 and 0.699 at the same 0.080 false positives.
    fpr_high: float = 0.08
    fpr_any: float = 0.08
    # And on ordinary talk (the conversation file and `plain` messages): a session's greetings and
    # closings ("That's it from me today.") must almost never start the crisis path.
    fpr_easy: float = 0.02
    imminent_leak: float = 0.02  # share of non-imminent messages the imminent head may call imminent
    extra: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        return (f"char1-{self.char_max}{'+words' if self.words else ''}{'+concepts' if self.concepts else ''} min_df={self.min_df} "
                f"C={self.C} psyguard_weight={self.psyguard_weight}")


def load_examples(data: Path = DATA, sources: dict[str, str] | None = None) -> list[Example]:
    """Every training example, in file order; a bad line is a one-line error naming file and line."""
    rows: list[Example] = []
    for source, names in (sources or TRAINING_FILES).items():
        for name in names.split():
            path = data / name
            if "screen-test" in name:
                raise PsyagentsError(f"{path}: the test split is for reporting only, never for training")
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                raise PsyagentsError(f"training file '{path}' not found") from None
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    text, risk = row["text"], row["risk"]
                    level_index(risk)
                    assert isinstance(text, str) and text.strip()
                except (json.JSONDecodeError, KeyError, TypeError, ValueError, AssertionError) as exc:
                    raise PsyagentsError(f"{path} line {number}: needs a non-empty 'text' and a 'risk' level ({type(exc).__name__})") from None
                rows.append(Example(text, risk, source, str(row.get("kind", ""))))
    return rows


def _targets(rows: list[Example]) -> dict[str, list[int]]:
    return {
        "moderate": [int(level_index(r.risk) >= level_index("moderate")) for r in rows],
        "high": [int(level_index(r.risk) >= level_index("high")) for r in rows],
        "imminent": [int(r.risk == "imminent") for r in rows],
    }


def fit(rows: list[Example], options: Options) -> dict[str, Any]:
    """Train the three heads on ``rows`` and return the model as JSON data (thresholds 0.5 until chosen)."""
    try:
        import numpy as np
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise PsyagentsError("training the risk classifier needs scikit-learn: pip install 'psyagents[train]'") from None

    counted = [features(r.text, char_max=options.char_max, words=options.words, concepts=options.concepts) for r in rows]
    df: Counter[str] = Counter()
    for c in counted:
        df.update(c.keys())
    grams = sorted(g for g, n in df.items() if n >= options.min_df)
    index = {g: i for i, g in enumerate(grams)}
    n_docs = len(rows)
    idf = np.array([math.log((1 + n_docs) / (1 + df[g])) + 1.0 for g in grams])
    data, cols, ptr = [], [], [0]
    for c in counted:
        items = sorted((index[g], 1.0 + math.log(n)) for g, n in c.items() if g in index)
        values = [v * idf[i] for i, v in items]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        cols += [i for i, _ in items]
        data += [v / norm for v in values]
        ptr.append(len(cols))
    matrix = csr_matrix((data, cols, ptr), shape=(n_docs, len(grams)))
    weights = np.array([options.psyguard_weight if r.source == "psyguard" else 1.0 for r in rows])
    coefs, intercepts = [], []
    for head, y in _targets(rows).items():
        y = np.array(y)
        if y.min() == y.max():
            raise PsyagentsError(f"cannot train the '{head}' head: every training example is on the same side of it")
        # Balance the classes by weight so each head sees positives and negatives equally.
        pos = (weights * y).sum()
        neg = (weights * (1 - y)).sum()
        balanced = weights * np.where(y == 1, (pos + neg) / (2 * pos), (pos + neg) / (2 * neg))
        clf = LogisticRegression(C=options.C, solver="liblinear", dual=True, max_iter=1000, tol=1e-5, random_state=0)
        clf.fit(matrix, y, sample_weight=balanced)
        coefs.append(clf.coef_[0])
        intercepts.append(float(clf.intercept_[0]))
    vocabulary = {g: [round(float(idf[i]), 6), *(round(float(c[i]), 6) for c in coefs)] for g, i in index.items()}
    return {
        "format": FORMAT,
        "heads": list(HEADS),
        "features": {"char_max": options.char_max, "words": options.words, "concepts": options.concepts},
        "intercepts": [round(b, 6) for b in intercepts],
        "thresholds": {h: 0.5 for h in HEADS},
        "vocabulary": vocabulary,
    }


def folds(rows: list[Example], k: int, seed: int) -> list[int]:
    """A fold number for each row, stratified by source and level, deterministic for a seed."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.source, r.risk), []).append(i)
    fold = [0] * len(rows)
    rng = random.Random(seed)
    offset = 0
    for key in sorted(groups):
        members = groups[key][:]
        rng.shuffle(members)
        for j, i in enumerate(members):
            fold[i] = (j + offset) % k
        offset += len(members)
    return fold


def out_of_fold(rows: list[Example], options: Options, k: int = 5, seed: int = 0) -> list[dict[str, float]]:
    """Each row's head probabilities from the model trained on the other folds, scored by ``NgramRiskModel``."""
    fold = folds(rows, k, seed)
    probs: list[dict[str, float] | None] = [None] * len(rows)
    for f in range(k):
        train = [r for r, g in zip(rows, fold) if g != f]
        model = NgramRiskModel(fit(train, options), f"fold {f}")
        for i, (r, g) in enumerate(zip(rows, fold)):
            if g == f:
                probs[i] = model.probabilities(r.text)
    return probs  # type: ignore[return-value]


# The false-positive budgets are measured on these sources' `none` messages (mostly hard negatives);
# PsyGUARD's and the conversation file's easy `none` messages would loosen them.
BUDGET_SOURCES = ("dev", "written", "written-2", "written-3", "rules-suite")
# Ordinary talk for the ``fpr_easy`` budget: these sources' `none` messages and every `plain` one.
ORDINARY_SOURCES = ("conversation", "written-3")


def _written_none(rows: list[Example]) -> list[int]:
    return [i for i, r in enumerate(rows) if r.risk == "none" and r.source in BUDGET_SOURCES]


def _ordinary_none(rows: list[Example]) -> list[int]:
    return [i for i, r in enumerate(rows) if r.risk == "none" and (r.source in ORDINARY_SOURCES or r.kind == "plain")]


def choose_thresholds(rows: list[Example], probs: list[dict[str, float]], options: Options) -> dict[str, float]:
    """Thresholds meeting the false-positive budgets on written `none` messages, out of fold.

    ``high``: the lowest threshold whose false positives stay within ``fpr_high``.
    ``moderate``: the lowest one keeping the false positives of either head within ``fpr_any``.
    Both also keep the false positives on ordinary talk (``_ordinary_none``: the conversation and
    ``written-3`` files' `none` messages and every `plain` one) within ``fpr_easy``.
    ``imminent``: the lowest one that calls at most ``imminent_leak`` of the non-imminent
    messages imminent (among those the high head passes).
    """
    none = _written_none(rows)
    easy = _ordinary_none(rows)

    def lowest(candidates: list[float], ok) -> float:
        best = 0.99
        for t in sorted(set(candidates), reverse=True):
            if not ok(t):
                break
            best = t
        return best

    grid = sorted({round(p[h], 4) for p in probs for h in HEADS} | {0.5})
    t_high = lowest(grid, lambda t: sum(probs[i]["high"] >= t for i in none) <= options.fpr_high * len(none)
                    and sum(probs[i]["high"] >= t for i in easy) <= options.fpr_easy * len(easy))
    t_high = max(t_high, 0.05)
    t_mod = lowest(grid, lambda t: sum(probs[i]["high"] >= t_high or probs[i]["moderate"] >= t for i in none) <= options.fpr_any * len(none)
                   and sum(probs[i]["high"] >= t_high or probs[i]["moderate"] >= t for i in easy) <= options.fpr_easy * len(easy))
    t_mod = max(t_mod, t_high if t_high < 0.5 else 0.05)
    below = [i for i, r in enumerate(rows) if r.risk != "imminent" and probs[i]["high"] >= t_high]
    non_imminent = sum(r.risk != "imminent" for r in rows)
    t_imm = lowest(grid, lambda t: sum(probs[i]["imminent"] >= t for i in below) <= options.imminent_leak * non_imminent)
    return {"moderate": t_mod, "high": t_high, "imminent": max(t_imm, 0.05)}


def figures(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """recall_high, recall_moderate, fpr_none and n for (label, screened) pairs, as ``safety screen --labelled``."""
    from .default_plugins.screen_commands import metrics

    m = metrics(pairs)
    per = m["per_level"]
    hi = per["high"]["n"] + per["imminent"]["n"]
    return {"n": m["n"], "recall_high": m["recall_high"], "n_high": hi, "recall_moderate": m["recall_moderate"],
            "n_moderate": hi + per["moderate"]["n"], "fpr_none": m["fpr_none"], "n_none": per["none"]["n"]}


def cv_report(rows: list[Example], probs: list[dict[str, float]], thresholds: dict[str, float], rules=None) -> dict[str, Any]:
    """Out-of-fold figures per source and language, for the classifier alone and (if ``rules``) with the rules."""
    def lang(text: str) -> str:
        return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"

    levels = [decide(p, thresholds) for p in probs]
    rule_levels = [rules(r.text) for r in rows] if rules else None
    report: dict[str, Any] = {}
    subsets = {"all": list(range(len(rows)))}
    for source in TRAINING_FILES:
        for lg in ("en", "zh"):
            members = [i for i, r in enumerate(rows) if r.source == source and lang(r.text) == lg]
            if members:
                subsets[f"{source}-{lg}"] = members
    subsets["project-written"] = [i for i, r in enumerate(rows) if r.source in BUDGET_SOURCES]
    for name, members in subsets.items():
        entry = {"classifier": figures([(rows[i].risk, levels[i]) for i in members])}
        if rule_levels is not None:
            entry["rules"] = figures([(rows[i].risk, rule_levels[i]) for i in members])
            both = [RISK_LEVELS[max(level_index(levels[i]), level_index(rule_levels[i]))] for i in members]
            entry["rules+classifier"] = figures([(rows[i].risk, b) for i, b in zip(members, both)])
        report[name] = entry
    return report


def _rule_level():
    from .default_plugins.basic_safety import default_check

    check = default_check()
    return lambda text: check.screen(text).level


CANDIDATES = [
    Options(char_max=4, words=True, C=8.0),  # the 2026-11 first model's choice
    Options(char_max=4, words=True, C=32.0),
    Options(char_max=4, words=True, concepts=True, C=16.0),
    Options(char_max=4, words=True, concepts=True, C=32.0),
    Options(char_max=4, words=True, concepts=True, C=64.0),
    Options(char_max=4, words=True, concepts=True, C=128.0),
]


def score_options(rows: list[Example], probs: list[dict[str, float]], options: Options) -> tuple[float, dict[str, float]]:
    """The out-of-fold recall on high+imminent (written messages) at the thresholds the budgets allow."""
    thresholds = choose_thresholds(rows, probs, options)
    written = [i for i, r in enumerate(rows) if r.source in BUDGET_SOURCES]
    pairs = [(rows[i].risk, decide(probs[i], thresholds)) for i in written]
    return figures(pairs)["recall_high"] or 0.0, thresholds


def build_model(out: Path | None = DEFAULT_PATH, *, candidates: list[Options] | None = None, k: int = 5, seed: int = 0,
                log=print, sources: dict[str, str] | None = None) -> dict[str, Any]:
    """Choose the options by k-fold CV, fit on all the data, store the thresholds and CV figures; write ``out`` atomically.

    ``sources`` (default ``TRAINING_FILES``) and ``candidates`` (default ``CANDIDATES``) are for tests.
    """
    rows = load_examples(sources=sources)
    log(f"{len(rows)} examples: " + ", ".join(f"{s} {n}" for s, n in Counter(r.source for r in rows).items()))
    candidates = candidates or CANDIDATES
    results = []
    for options in candidates:
        probs = out_of_fold(rows, options, k=k, seed=seed)
        recall, thresholds = score_options(rows, probs, options)
        log(f"  {options.label()}: out-of-fold recall high+imminent {recall:.3f} at thresholds {thresholds}")
        results.append((recall, -candidates.index(options), options, probs, thresholds))
    recall, _, options, probs, thresholds = max(results, key=lambda x: (x[0], x[1]))
    log(f"chosen: {options.label()}")
    report = cv_report(rows, probs, thresholds, rules=_rule_level())
    model = fit(rows, options)
    model["thresholds"] = thresholds
    model["training"] = {
        "options": {k_: v for k_, v in options.__dict__.items() if k_ != "extra"},
        "examples": dict(Counter(r.source for r in rows)),
        "levels": dict(Counter(r.risk for r in rows)),
        "cv": {"folds": k, "seed": seed, "figures": report,
               "candidates": [{"options": o.label(), "recall_high": round(r, 4), "thresholds": t} for r, _, o, _, t in results]},
        "psyguard_levels": PSYGUARD_LEVELS,
        "licence": LICENCE_NOTICE,
    }
    if out is not None:
        _write_atomic(Path(out), json.dumps(model, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n")
        log(f"wrote {out} ({Path(out).stat().st_size // 1024} KiB, {len(model['vocabulary'])} n-grams)")
    return model


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a model is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
