"""Arena arithmetic: pairwise outcomes, win rates (raw and length-controlled), Elo and bootstrap intervals.

Pure Python on purpose: these run in every test and on a minimal install.

* A pairwise ``Outcome`` says how ``a`` fared against ``b``: 1 a won, 0 b won, 0.5 a tie.
  A best-of-N pick becomes one outcome per other reply shown (the pick beat each of them);
  a tie (no pick, status ok) is 0.5 between every pair shown; failed choices count for nothing.
* ``elo`` runs the classic online update over the outcomes in the order given
  (``K`` = 16, start 1000, 400-point logistic scale).
* ``length_controlled_win_rate`` fits ``P(win) = sigmoid(a + b * d)``, ``d`` the bot's reply
  length minus the reference's (characters, divided by its root mean square so ``b`` is
  scale-free), by penalised maximum likelihood (Newton's method; an L2 penalty ``ridge`` on
  ``a`` and ``b``, a N(0, 1/ridge) prior, keeps the fit finite when one side always wins),
  and reports ``sigmoid(a)``: the win rate the bot would have at equal length.
* ``bootstrap`` resamples a list with replacement and ``percentile_interval`` takes the
  2.5th and 97.5th percentiles (linear interpolation, as numpy's default).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

ELO_K = 16.0
ELO_INITIAL = 1000.0
ELO_SCALE = 400.0
LC_RIDGE = 1.0


@dataclass(frozen=True)
class Outcome:
    """One pairwise result: ``score`` is 1 when ``a`` won, 0 when ``b`` won, 0.5 for a tie."""

    a: str
    b: str
    score: float
    len_a: int = 0
    len_b: int = 0
    comparison_id: int | None = None


def outcomes_from_choice(shown: Sequence[Any], winner: Any | None, *, bot: Callable[[Any], str], length: Callable[[Any], int],
                         comparison_id: int | None = None) -> list[Outcome]:
    """The pairwise outcomes one showing implies: the pick beats every other reply shown; no pick ties them all."""
    out: list[Outcome] = []
    if winner is None:
        for i, x in enumerate(shown):
            for y in shown[i + 1:]:
                out.append(Outcome(bot(x), bot(y), 0.5, length(x), length(y), comparison_id))
        return out
    for y in shown:
        if y != winner:
            out.append(Outcome(bot(winner), bot(y), 1.0, length(winner), length(y), comparison_id))
    return out


def against(outcomes: Iterable[Outcome], player: str, opponent: str) -> list[tuple[float, int, int]]:
    """``(score, player's length, opponent's length)`` for every outcome between the two, from ``player``'s side."""
    out = []
    for o in outcomes:
        if o.a == player and o.b == opponent:
            out.append((o.score, o.len_a, o.len_b))
        elif o.a == opponent and o.b == player:
            out.append((1.0 - o.score, o.len_b, o.len_a))
    return out


def win_rate(scores: Sequence[float]) -> float | None:
    """Wins plus half the ties, over all games; None with no games."""
    return sum(scores) / len(scores) if scores else None


def elo(outcomes: Iterable[Outcome], players: Iterable[str] = (), *, k: float = ELO_K, initial: float = ELO_INITIAL,
        scale: float = ELO_SCALE) -> dict[str, float]:
    """Online Elo over the outcomes in the order given: ``R += K * (S - E)``, ``E = 1 / (1 + 10^((Rb - Ra) / scale))``."""
    ratings = {p: initial for p in players}
    for o in outcomes:
        ra, rb = ratings.setdefault(o.a, initial), ratings.setdefault(o.b, initial)
        expected = 1.0 / (1.0 + 10.0 ** ((rb - ra) / scale))
        ratings[o.a] = ra + k * (o.score - expected)
        ratings[o.b] = rb - k * (o.score - expected)
    return ratings


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logistic_fit(x: Sequence[float], y: Sequence[float], *, ridge: float = 0.0, iterations: int = 100) -> tuple[float, float]:
    """Fit ``P(y=1) = sigmoid(a + b x)`` (``y`` may be fractional: a tie is 0.5) by Newton's method; returns ``(a, b)``.

    ``ridge`` adds ``ridge * (a^2 + b^2) / 2`` to the negative log-likelihood.
    """
    if len(x) != len(y) or not x:
        raise ValueError("logistic_fit needs as many x as y, and at least one")
    a = b = 0.0
    for _ in range(iterations):
        ga, gb = -ridge * a, -ridge * b
        haa, hab, hbb = ridge, 0.0, ridge
        for xi, yi in zip(x, y):
            p = sigmoid(a + b * xi)
            w = p * (1.0 - p)
            ga += yi - p
            gb += (yi - p) * xi
            haa += w
            hab += w * xi
            hbb += w * xi * xi
        det = haa * hbb - hab * hab
        if det <= 1e-12 * max(1.0, haa * hbb):
            if haa <= 1e-12:
                break  # a saturated fit (no ridge, one side always wins): the estimate runs off to infinity
            # x carries no information (all zero): fit the intercept alone
            da, db = ga / haa, 0.0
        else:
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if abs(da) < 1e-10 and abs(db) < 1e-10:
            break
    return a, b


def length_controlled_win_rate(games: Sequence[tuple[float, int, int]], *, ridge: float = LC_RIDGE) -> float | None:
    """The win rate at equal length: ``sigmoid(a)`` of a logistic fit of the score on the length difference.

    ``games`` are ``(score, own length, opponent's length)``; the difference is divided by its
    root mean square (so ``ridge`` means the same at any length scale; ``a`` does not change).
    """
    if not games:
        return None
    diffs = [float(mine - theirs) for _, mine, theirs in games]
    rms = math.sqrt(sum(d * d for d in diffs) / len(diffs)) or 1.0
    a, _b = logistic_fit([d / rms for d in diffs], [s for s, _, _ in games], ridge=ridge)
    return sigmoid(a)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float | None, float | None]:
    """The central ``level`` interval of bootstrap values: e.g. the 2.5th and 97.5th percentiles."""
    if not values:
        return None, None
    tail = (1.0 - level) / 2.0
    return percentile(values, tail), percentile(values, 1.0 - tail)


def bootstrap(data: Sequence[T], statistic: Callable[[list[T]], Any], *, rounds: int = 1000, seed: int = 0) -> list[Any]:
    """``statistic`` of ``rounds`` resamples of ``data`` drawn with replacement (same size), in a seeded order."""
    rng = random.Random(seed)
    n = len(data)
    if n == 0:
        return []
    return [statistic([data[rng.randrange(n)] for _ in range(n)]) for _ in range(rounds)]


def interval_of(samples: Iterable[float | None], level: float = 0.95) -> tuple[float | None, float | None]:
    """The percentile interval of the samples that are not None."""
    return percentile_interval([s for s in samples if s is not None], level)
