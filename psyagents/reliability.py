"""Judge reliability: agreement between two judges' verdicts, and a comparative judge's position bias.

* ``cohen_kappa`` - chance-corrected agreement ``1 - sum(w * observed) / sum(w * expected)`` with
  disagreement weights ``w``: 0/1 (unweighted), ``|i - j| / (max - min)`` (linear) or its square
  (quadratic, the usual choice for ordinal rating scales); categories are compared by value.
* ``spearman`` - Pearson's correlation of the ranks, tied values sharing their mean rank.
* ``agreement`` pairs two judges' newest ``ok`` verdicts with a score on the same target
  (session, turn, candidate, principle) and reports both measures per principle.
* ``position_bias`` groups a judge's comparisons of the same candidates (same session and turn)
  shown in different orders: a group whose showings pick different candidates flipped with the
  order. The rate is flipped groups over groups seen in at least two orders.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

Weights = Literal["linear", "quadratic"] | None


def cohen_kappa(a: Sequence[float], b: Sequence[float], *, categories: Iterable[float] | None = None,
                weights: Weights = None) -> float | None:
    """Cohen's kappa of two raters over the same items; None when chance agreement is total (undefined)."""
    if len(a) != len(b):
        raise ValueError("the two raters must rate the same items")
    if not a:
        return None
    cats = sorted(set(categories or ()) | set(a) | set(b))
    index = {c: i for i, c in enumerate(cats)}
    k, n = len(cats), len(a)
    span = (cats[-1] - cats[0]) or 1.0

    def w(i: int, j: int) -> float:
        if weights is None:
            return 0.0 if i == j else 1.0
        d = abs(cats[i] - cats[j]) / span
        if weights == "linear":
            return d
        if weights == "quadratic":
            return d * d
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")

    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b):
        observed[index[x]][index[y]] += 1.0 / n
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    disagree = sum(w(i, j) * observed[i][j] for i in range(k) for j in range(k))
    chance = sum(w(i, j) * rows[i] * cols[j] for i in range(k) for j in range(k))
    if chance <= 1e-15:
        return None
    return 1.0 - disagree / chance


def ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1; tied values get the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for m in range(i, j + 1):
            out[order[m]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    if len(x) != len(y):
        raise ValueError("pearson needs two sequences of the same length")
    n = len(x)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None  # a constant rater: correlation is undefined
    return sxy / math.sqrt(sxx * syy)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson on average ranks); None when either side is constant or n < 2."""
    return pearson(ranks(x), ranks(y))


# --- verdicts ------------------------------------------------------------------------------


def latest_scores(verdicts: Iterable[dict]) -> dict[tuple, dict]:
    """The newest ``ok`` verdict with a score per target ``(session, turn, candidate, principle)``."""
    out: dict[tuple, dict] = {}
    for v in sorted(verdicts, key=lambda r: r["id"]):
        if v.get("status") == "ok" and v.get("score") is not None:
            out[(v["session_id"], v["turn_idx"], v.get("candidate_id"), v["principle"])] = v
    return out


def agreement(verdicts_a: Iterable[dict], verdicts_b: Iterable[dict], *, principles: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per principle: items both judges scored, exact agreement, kappa (unweighted and quadratic) and Spearman.

    A last row ``all`` pools the principles when they share one scale.
    """
    a, b = latest_scores(verdicts_a), latest_scores(verdicts_b)
    wanted = set(principles) if principles else None
    pairs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    scales: dict[str, tuple[int, int]] = {}
    for key in sorted(set(a) & set(b), key=str):
        principle = key[3]
        if wanted is not None and principle not in wanted:
            continue
        pairs[principle].append((a[key]["score"], b[key]["score"]))
        scales[principle] = (a[key]["scale_min"], a[key]["scale_max"])
    rows = [_agreement_row(p, pairs[p], scales[p]) for p in sorted(pairs)]
    if len(rows) > 1 and len(set(scales.values())) == 1:
        pooled = [pair for p in sorted(pairs) for pair in pairs[p]]
        rows.append(_agreement_row("all", pooled, next(iter(scales.values()))))
    return rows


def _agreement_row(principle: str, pairs: list[tuple[float, float]], scale: tuple[int, int]) -> dict[str, Any]:
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    lo, hi = scale
    cats = [float(c) for c in range(int(lo), int(hi) + 1)] if lo is not None and hi is not None else None
    return {
        "principle": principle,
        "n": len(pairs),
        "exact": sum(1 for x, y in pairs if x == y) / len(pairs) if pairs else None,
        "kappa": cohen_kappa(xs, ys, categories=cats),
        "kappa_quadratic": cohen_kappa(xs, ys, categories=cats, weights="quadratic"),
        "spearman": spearman(xs, ys),
        "scale": [lo, hi],
    }


# --- comparisons ---------------------------------------------------------------------------


def position_bias(comparisons: Iterable[dict]) -> dict[str, Any]:
    """How often a comparative judge's pick changes with the order the same candidates were shown in."""
    comparisons = list(comparisons)
    ok = [c for c in comparisons if c.get("status") == "ok"]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in ok:
        groups[(c["session_id"], c["turn_idx"], tuple(sorted(c["candidate_ids"])))].append(c)
    compared = flipped = 0
    flips_to_first = 0
    for showings in groups.values():
        if len({tuple(c["candidate_ids"]) for c in showings}) < 2:
            continue  # shown in one order only: nothing to compare
        compared += 1
        if len({c["winner_id"] for c in showings}) > 1:
            flipped += 1
            # a flip where every decided showing picked the first reply shown: the judge followed the position
            decided = [c for c in showings if c["winner_id"] is not None]
            if decided and all(c["winner_id"] == c["candidate_ids"][0] for c in decided) and len(decided) == len(showings):
                flips_to_first += 1
    decided = [c for c in ok if c["winner_id"] is not None]
    first = sum(1 for c in decided if c["winner_id"] == c["candidate_ids"][0])
    return {
        "comparisons": len(comparisons),
        "failed": len(comparisons) - len(ok),
        "ties": len(ok) - len(decided),
        "groups_compared": compared,
        "flipped": flipped,
        "flip_rate": flipped / compared if compared else None,
        "flipped_to_first": flips_to_first,
        "first_position_share": first / len(decided) if decided else None,
    }
