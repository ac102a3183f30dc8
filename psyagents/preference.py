"""Preference data from logged candidates: ``export_preference``, ``export_reward``, ``export_kto``, ``import_preference``.

A counsellor turn drawn by the judge-in-the-loop graph (or an arena, or an import) has several
candidate replies in the trace store, each with verdicts (``verdicts.candidate_id``) and perhaps
comparisons between them. Every turn with two or more candidates is one *group*; its prompt is the
counsellor's system prompt and the dialogue up to the client's last message before that turn.

Pairs within a group come from two sources:

* **scores** - the candidates' total over the principles every rated candidate of the group has a
  score on (the latest ``ok`` verdict of one judge per principle); a pair when the totals differ by
  at least ``min_gap`` (default 1, as PsychoCounsel-Preference). A group without verdicts but with
  the selector's logged ``candidates.score`` on every candidate uses those (``selector-score``).
* **comparisons** - candidate A over B when A won at least one ``ok`` comparison against B and B
  never won against A (ties and failures count for neither). No gap applies.

A pair both sources agree on is one row (``scores+comparison``); a pair they disagree on is
dropped as a conflict. ``best-vs-worst`` keeps one pair per group: the one with the largest score
gap (comparison-only pairs rank after score pairs, by their win count).

Rows are TRL's conversational formats. Preference and reward rows are
``{"prompt": [system, user, assistant, ..., user], "chosen": [assistant], "rejected": [assistant]}``
plus ``chosen_model``/``rejected_model``, totals, ``chosen_{p}_rating``/``rejected_{p}_rating`` per
principle (as PsychoCounsel-Preference; ``-`` in ids becomes ``_``) and ids to trace the pair;
reward rows add ``margin`` (the gap of the mean per-principle score, 0 for comparison-only pairs),
which TRL's ``RewardTrainer`` subtracts inside its loss. KTO rows are one per rated candidate (a
lone one included) and per counsellor turn rated by its own verdicts without logged candidates,
``{"prompt": [...], "completion": [assistant], "label": bool}``: ``True`` when its mean score is at
least ``desirable``, ``False`` when at most ``undesirable``, left out in between.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from .errors import PsyagentsError
from .export import (
    IMPORTED,
    SPLITS,
    _check_splits,
    check_paths,
    _decode_row,
    _split_of,
    _version,
    check_scales,
    pick_judge,
    progress,
    resolve_principles,
    scrub_text,
    system_prompt,
    usable_verdicts,
    write_export,
)
from .risk import RISK_LEVELS, level_index
from .tracing import TraceStore, Turn, imported_rows, now

MODES = ("all-pairs", "best-vs-worst")
PAIR_FILES = (*(f"{s}.jsonl" for s in SPLITS), "README.md")
PSYCHOCOUNSEL = ("empathy", "relevance", "clarity", "safety", "exploration", "autonomy", "staging")
IMPORT_SOURCE = "psychocounsel"

SKIP_LABELS = {
    "style": "--style",
    "persona": "--persona",
    "safety": "--exclude-flagged (screened moderate or above)",
    "no_prompt": "no client message before the turn",
    "single": "fewer than two candidates",
    "unrated": "no usable scores or comparisons",
    "small_gap": "no pair reaches --min-gap",
    "middle": "mean score between --undesirable and --desirable",
    "conflict": "scores and comparisons disagree (pairs)",
    "duplicate": "duplicate rows",
}


# reading the store -------------------------------------------------------------
@dataclass
class Candidate:
    id: int | None  # None: a counsellor turn rated by its own verdicts, without logged candidates (KTO only)
    idx: int
    text: str
    model: str | None
    chosen: bool
    logged_score: float | None
    ratings: dict[str, float] = field(default_factory=dict)


@dataclass
class Group:
    """The candidates drawn for one counsellor turn, with the prompt they answer."""

    session: dict
    turn_idx: int
    prompt: list[dict[str, str]]
    candidates: list[Candidate]
    wins: Counter = field(default_factory=Counter)  # (winner id, loser id) -> comparisons won


@dataclass
class Pair:
    chosen: Candidate
    rejected: Candidate
    source: str  # scores | comparison | scores+comparison | selector-score
    chosen_total: float | None
    rejected_total: float | None
    n_principles: int  # how many principles the totals add up

    @property
    def gap(self) -> float | None:
        if self.chosen_total is None or self.rejected_total is None:
            return None
        return self.chosen_total - self.rejected_total


def prompt_messages(turns: list[Turn], system: str | None) -> list[dict[str, str]]:
    """System prompt and dialogue before a counsellor turn, as TRL messages ending on the client; [] if it does not."""
    out: list[dict[str, str]] = []
    for t in turns:
        role = {"client": "user", "counselor": "assistant"}.get(t.speaker)
        if role is None or not (t.text or "").strip() or (not out and role == "assistant"):
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n" + t.text
        else:
            out.append({"role": role, "content": t.text})
    if not out or out[-1]["role"] != "user":
        return []
    return ([{"role": "system", "content": system}] if system is not None else []) + out


def _system_of(session: dict) -> str | None:
    cfg = session.get("config") if isinstance(session.get("config"), dict) else {}
    if "system_prompt" in cfg:  # imported data keeps its own prompt, or none
        return cfg["system_prompt"]
    return system_prompt(session.get("style"))


def _collect(db: Path, *, judge, principles, comparisons, comparison_judge, styles, personas, safety, skipped: Counter,
             unpaired: bool = False):
    """Groups of candidates from ``db`` with their ratings and comparison wins, after the session filters.

    ``unpaired`` (KTO) keeps single candidates too, and makes every counsellor turn rated by its own
    verdicts (and without logged candidates) a group of one.
    """
    store = TraceStore(db, create=False)
    try:
        sessions = {r["id"]: _decode_row(r) for r in store.db.query("select rowid as _rowid, * from sessions order by rowid")}
        cands = store.candidates()
        verdicts = [v for v in usable_verdicts(store, principles)
                    if v["candidate_id"] is not None or (unpaired and v["turn_idx"] is not None)]
        used_judge = pick_judge(verdicts, judge, "candidates or turns" if unpaired else "candidates")
        verdicts = [v for v in verdicts if v["judge"] == used_judge]
        check_scales(verdicts)
        # The arena's rating protocol records its pick from the very verdicts used here: counting it again
        # would let a pick by a hair bypass min_gap.
        comps = [c for c in store.comparisons(judge=comparison_judge)
                 if c["status"] == "ok" and c["winner_id"] is not None
                 and not (isinstance(c["meta"], dict) and c["meta"].get("protocol") == "rating")] if comparisons else []
        flagged = {
            r["session_id"]
            for r in store.db.query("select session_id, level from events where kind = 'screen' and level is not null")
            if r["level"] in RISK_LEVELS and level_index(r["level"]) >= level_index("moderate")
        } if safety == "exclude" else set()
        need_turns = sorted({c["session_id"] for c in cands} | {v["session_id"] for v in verdicts if v["candidate_id"] is None})
        turns = {sid: store.turns(sid) for sid in need_turns}
    finally:
        store.close()

    ratings: dict[int, dict[str, float]] = defaultdict(dict)
    turn_ratings: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    scale = None
    for v in verdicts:
        if v["candidate_id"] is not None:
            ratings[v["candidate_id"]][v["principle"]] = v["score"]
        else:
            turn_ratings[(v["session_id"], v["turn_idx"])][v["principle"]] = v["score"]
        scale = (v["scale_min"], v["scale_max"])
    by_turn: dict[tuple[str, int], list[Candidate]] = defaultdict(list)
    for c in cands:
        by_turn[(c["session_id"], c["turn_idx"])].append(
            Candidate(c["id"], c["idx"], c["text"], c["model"], bool(c["chosen"]), c["score"], dict(ratings.get(c["id"], {}))))
    owner = {c.id: key for key, cs in by_turn.items() for c in cs}
    wins: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for comp in comps:
        key = owner.get(comp["winner_id"])
        if key is None:
            continue
        for other in comp["candidate_ids"]:
            if other != comp["winner_id"] and owner.get(other) == key:
                wins[key][(comp["winner_id"], other)] += 1

    for (sid, idx), rated in turn_ratings.items():
        turn = next((t for t in turns[sid] if t.idx == idx and t.speaker == "counselor"), None)
        if (sid, idx) not in by_turn and turn is not None and (turn.text or "").strip():
            by_turn[(sid, idx)].append(Candidate(None, 0, turn.text, turn.model, True, None, dict(rated)))

    order = {sid: i for i, sid in enumerate(sessions)}
    groups: list[Group] = []
    for (sid, turn_idx), cs in sorted(by_turn.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][1])):
        session = sessions[sid]
        if styles and session.get("style") not in styles:
            skipped["style"] += 1
        elif personas and session.get("persona_id") not in personas:
            skipped["persona"] += 1
        elif sid in flagged:
            skipped["safety"] += 1
        elif len(cs) < (1 if unpaired else 2):
            skipped["single"] += 1
        elif not (prompt := prompt_messages([t for t in turns[sid] if t.idx < turn_idx], _system_of(session))):
            skipped["no_prompt"] += 1
        else:
            groups.append(Group(session, turn_idx, prompt, sorted(cs, key=lambda c: c.idx), wins.get((sid, turn_idx), Counter())))
    return groups, used_judge, scale, len(sessions)


def group_pairs(group: Group, min_gap: float, *, use_logged: bool) -> tuple[list[Pair], int]:
    """All pairs in a group (see the module docstring) and how many pairs were dropped as conflicts."""
    cs = group.candidates
    rated = [c for c in cs if c.ratings]
    common = set.intersection(*(set(c.ratings) for c in rated)) if rated else set()
    totals: dict[int, float] = {}
    source = "scores"
    if common:
        totals = {c.id: sum(c.ratings[p] for p in common) for c in rated}
        n = len(common)
    elif use_logged and all(c.logged_score is not None for c in cs):
        totals, source, n = {c.id: float(c.logged_score) for c in cs}, "selector-score", 1
    else:
        n = 0
    by_id = {c.id: c for c in cs}
    pairs, conflicts = [], 0
    for a, b in combinations(cs, 2):
        gap = totals[a.id] - totals[b.id] if a.id in totals and b.id in totals else None
        # A tie is never a pair, even with min_gap 0 (and does not contradict a comparison).
        by_score = None if not gap else (a, b) if gap >= min_gap and gap > 0 else (b, a) if -gap >= min_gap else None
        wa, wb = group.wins[(a.id, b.id)], group.wins[(b.id, a.id)]
        by_comp = (a, b) if wa and not wb else (b, a) if wb and not wa else None
        if by_score and by_comp and by_score != by_comp:
            conflicts += 1
            continue
        winner = by_score or by_comp
        if winner is None:
            continue
        src = (source + "+comparison" if by_comp else source) if by_score else "comparison"
        c, r = (by_id[winner[0].id], by_id[winner[1].id])
        pairs.append(Pair(c, r, src, totals.get(c.id), totals.get(r.id), n))
    return pairs, conflicts


def _best_vs_worst(pairs: list[Pair], group: Group) -> list[Pair]:
    if not pairs:
        return []

    def rank(p: Pair):
        scored = "comparison" != p.source
        net = group.wins[(p.chosen.id, p.rejected.id)] - group.wins[(p.rejected.id, p.chosen.id)]
        return (scored, p.gap if scored and p.gap is not None else 0, net, -p.chosen.idx, p.rejected.idx)

    return [max(pairs, key=rank)]


# rows ---------------------------------------------------------------------------
def column(principle: str) -> str:
    """The rating column stem for a principle id (``crisis-probes-risk`` -> ``crisis_probes_risk``)."""
    return principle.replace("-", "_")


def _num(x: float | None) -> float | int | None:
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _pair_id(group: Group, pair: Pair) -> Any:
    cfg = group.session.get("config") or {}
    if "id" in cfg and cfg.get("dataset") and pair.chosen.idx == 0 and pair.rejected.idx == 1:
        return cfg["id"]  # the imported dataset's own pair keeps its id
    base = cfg["id"] if "id" in cfg and cfg.get("dataset") else f"{group.session['id']}:{group.turn_idx}"
    return f"{base}:{pair.chosen.idx}>{pair.rejected.idx}"


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _pair_row(group: Group, pair: Pair, kind: str) -> dict:
    row: dict[str, Any] = {
        "id": _pair_id(group, pair),
        "prompt": group.prompt,
        "chosen": _assistant(pair.chosen.text),
        "rejected": _assistant(pair.rejected.text),
        "chosen_model": pair.chosen.model,
        "rejected_model": pair.rejected.model,
        "chosen_score": _num(pair.chosen_total),
        "rejected_score": _num(pair.rejected_total),
        "pair_source": pair.source,
    }
    if kind == "reward":
        scored = pair.source != "comparison" and pair.gap is not None and pair.n_principles
        row["margin"] = float(pair.gap / pair.n_principles) if scored else 0.0
    row.update({"session_id": group.session["id"], "turn_idx": group.turn_idx,
                "chosen_id": pair.chosen.id, "rejected_id": pair.rejected.id})
    row["_ratings"] = {"chosen": pair.chosen.ratings, "rejected": pair.rejected.ratings}
    return row


def _principle_order(names: set[str]) -> list[str]:
    return [p for p in PSYCHOCOUNSEL if p in names] + sorted(names - set(PSYCHOCOUNSEL))


def _finish(row: dict, principles: list[str], sides: tuple[str, ...]) -> dict:
    ratings = row.pop("_ratings")
    for side in sides:
        for p in principles:
            key = f"{side}_{column(p)}_rating" if side else f"{column(p)}_rating"
            row[key] = _num(ratings[side].get(p))
    return row


def _scrub_messages(messages: list[dict], persona: dict | None) -> list[dict]:
    return [{**m, "content": scrub_text(m["content"], persona)} for m in messages]


# export ---------------------------------------------------------------------------
def _export(
    kind: str, db, out_dir, *, min_gap, mode, judge, principles, comparisons, comparison_judge, styles, personas, safety,
    dedupe, scrub, splits, seed, desirable=None, undesirable=None, force=False,
) -> dict:
    if mode not in MODES:
        raise PsyagentsError(f"unknown mode '{mode}'; expected one of {', '.join(MODES)}")
    if not isinstance(min_gap, (int, float)) or isinstance(min_gap, bool) or min_gap < 0 or math.isnan(min_gap):
        raise PsyagentsError(f"min_gap must be a non-negative number, not {min_gap!r}")
    if safety not in ("keep", "exclude"):
        raise PsyagentsError(f"safety must be 'keep' or 'exclude', not {safety!r}")
    if kind == "kto" and not (isinstance(desirable, (int, float)) and isinstance(undesirable, (int, float)) and undesirable < desirable):
        raise PsyagentsError(f"--undesirable ({undesirable!r}) must be a number below --desirable ({desirable!r})")
    split_shares = _check_splits(splits)
    db, out = check_paths(db, out_dir, PAIR_FILES, force)
    principle_ids = resolve_principles(principles)

    skipped: Counter[str] = Counter()
    groups, used_judge, scale, n_sessions = _collect(
        db, judge=judge, principles=principle_ids, comparisons=comparisons, comparison_judge=comparison_judge,
        styles=styles, personas=personas, safety=safety, skipped=skipped, unpaired=kind == "kto")
    if not groups and not skipped:
        what = "logged candidates or judged turns" if kind == "kto" else "logged candidates"
        raise PsyagentsError(f"no {what} in '{db}': run a judge-in-the-loop graph or an arena, or `psyagents import preference`")

    rows: list[tuple[str, dict]] = []  # (session id, row)
    seen: set[str] = set()
    sources: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for group in progress(groups, len(groups), f"{kind} export"):
        persona = group.session.get("persona") if isinstance(group.session.get("persona"), dict) else None
        prompt = _scrub_messages(group.prompt, persona) if scrub else group.prompt
        made: list[dict] = []
        if kind == "kto":
            for c in group.candidates:
                if not c.ratings:
                    continue
                mean = sum(c.ratings.values()) / len(c.ratings)
                label = True if mean >= desirable else False if mean <= undesirable else None
                if label is None:
                    skipped["middle"] += 1
                    continue
                made.append({
                    "id": f"{_pair_id_base(group)}:{c.idx}" if c.id is not None else f"{_pair_id_base(group)}:turn", "prompt": prompt,
                    "completion": _assistant(scrub_text(c.text, persona) if scrub else c.text), "label": label,
                    "model": c.model, "score": round(mean, 6), "session_id": group.session["id"], "turn_idx": group.turn_idx,
                    "candidate_id": c.id, "_ratings": {"": c.ratings},
                })
                labels["desirable" if label else "undesirable"] += 1
            if not made and not any(c.ratings for c in group.candidates):
                skipped["unrated"] += 1
        else:
            pairs, conflicts = group_pairs(group, float(min_gap), use_logged=judge is None)
            skipped["conflict"] += conflicts
            if mode == "best-vs-worst":
                pairs = _best_vs_worst(pairs, group)
            if not pairs:
                rated = any(c.ratings for c in group.candidates) or group.wins or all(c.logged_score is not None for c in group.candidates)
                if not conflicts:
                    skipped["small_gap" if rated else "unrated"] += 1
            for pair in pairs:
                row = _pair_row(group, pair, kind)
                row["prompt"] = prompt
                if scrub:
                    row["chosen"] = _scrub_messages(row["chosen"], persona)
                    row["rejected"] = _scrub_messages(row["rejected"], persona)
                sources[pair.source] += 1
                made.append(row)
        for row in made:
            if dedupe:
                body = [row["prompt"], row.get("chosen"), row.get("rejected"), row.get("completion")]
                key = hashlib.sha256(json.dumps(body, ensure_ascii=False).encode()).hexdigest()
                if key in seen:
                    skipped["duplicate"] += 1
                    if kind == "kto":
                        labels["desirable" if row["label"] else "undesirable"] -= 1
                    continue
                seen.add(key)
            rows.append((group.session["id"], row))

    if not rows:
        parts = [f"{SKIP_LABELS[k]}: {skipped[k]}" for k in SKIP_LABELS if skipped[k]]
        raise PsyagentsError(f"no {kind} rows from '{db}' ({'; '.join(parts) or 'nothing usable'})")
    names = set()
    for _, row in rows:
        for side in row["_ratings"].values():
            names |= set(side)
    principle_cols = _principle_order(names)
    if len({type(row["id"]) for _, row in rows}) > 1:  # imported whole-number IDs beside native ones: one type per column
        for _, row in rows:
            row["id"] = str(row["id"])
    sides = ("",) if kind == "kto" else ("chosen", "rejected")
    examples: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for sid, row in rows:
        examples[_split_of(sid, seed, split_shares)].append(_finish(row, principle_cols, sides))

    files = {f"{split}.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in examples[split]) for split in SPLITS}
    card = {
        "kind": kind,
        "source": str(db.resolve()),
        "out_dir": str(out.resolve()),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "psyagents_version": _version(),
        "counts": {s: len(examples[s]) for s in SPLITS},
        "sessions_total": n_sessions,
        "sessions_exported": len({sid for sid, _ in rows}),
        "groups": len(groups),
        "pair_sources": dict(sources),
        "labels": dict(labels),
        "skipped": {k: skipped[k] for k in SKIP_LABELS if skipped[k]},
        "principles": principle_cols,
        "columns": list(rows[0][1]),
        "filters": {
            "judge": used_judge, "principles": principle_ids, "scale": list(scale) if scale else None,
            "min_gap": min_gap, "mode": mode, "comparisons": comparisons, "comparison_judge": comparison_judge,
            "styles": list(styles or []), "personas": list(personas or []), "safety": safety,
            "dedupe": dedupe, "scrub": scrub, "splits": list(split_shares), "seed": seed,
            **({"desirable": desirable, "undesirable": undesirable} if kind == "kto" else {}),
        },
        "runs": {key: sorted({str(g.session.get(key)) for g in groups if g.session.get(key) is not None})
                 for key in ("counselor", "client", "style", "graph")},
        "models": sorted({str(c.model) for g in groups for c in g.candidates if c.model}),
    }
    files["README.md"] = preference_card(card)
    write_export(out, files, force=force)
    return card


def _pair_id_base(group: Group) -> str:
    cfg = group.session.get("config") or {}
    return str(cfg["id"]) if "id" in cfg and cfg.get("dataset") else f"{group.session['id']}:{group.turn_idx}"


def export_preference(
    db: str | Path, out_dir: str | Path, *, min_gap: float = 1, mode: str = "all-pairs", judge: str | None = None,
    principles: str | list[str] | None = None, comparisons: bool = True, comparison_judge: str | None = None,
    styles: list[str] | None = None, personas: list[str] | None = None, safety: str = "keep", dedupe: bool = True,
    scrub: bool = False, splits: tuple[float, float, float] = (0.9, 0.05, 0.05), seed: int = 0, force: bool = False,
) -> dict:
    """Write TRL conversational preference pairs (prompt/chosen/rejected + ratings) from logged candidates; returns the card data."""
    return _export("preference", db, out_dir, min_gap=min_gap, mode=mode, judge=judge, principles=principles,
                   comparisons=comparisons, comparison_judge=comparison_judge, styles=styles, personas=personas,
                   safety=safety, dedupe=dedupe, scrub=scrub, splits=splits, seed=seed, force=force)


def export_reward(
    db: str | Path, out_dir: str | Path, *, min_gap: float = 1, mode: str = "all-pairs", judge: str | None = None,
    principles: str | list[str] | None = None, comparisons: bool = True, comparison_judge: str | None = None,
    styles: list[str] | None = None, personas: list[str] | None = None, safety: str = "keep", dedupe: bool = True,
    scrub: bool = False, splits: tuple[float, float, float] = (0.9, 0.05, 0.05), seed: int = 0, force: bool = False,
) -> dict:
    """Preference pairs for TRL's ``RewardTrainer``, with a ``margin`` column (mean per-principle score gap)."""
    return _export("reward", db, out_dir, min_gap=min_gap, mode=mode, judge=judge, principles=principles,
                   comparisons=comparisons, comparison_judge=comparison_judge, styles=styles, personas=personas,
                   safety=safety, dedupe=dedupe, scrub=scrub, splits=splits, seed=seed, force=force)


def export_kto(
    db: str | Path, out_dir: str | Path, *, desirable: float = 4, undesirable: float = 2, judge: str | None = None,
    principles: str | list[str] | None = None, styles: list[str] | None = None, personas: list[str] | None = None,
    safety: str = "keep", dedupe: bool = True, scrub: bool = False,
    splits: tuple[float, float, float] = (0.9, 0.05, 0.05), seed: int = 0, force: bool = False,
) -> dict:
    """TRL's unpaired KTO rows (prompt/completion/label): label from each candidate's mean score against the thresholds."""
    return _export("kto", db, out_dir, min_gap=0, mode="all-pairs", judge=judge, principles=principles, comparisons=False,
                   comparison_judge=None, styles=styles, personas=personas, safety=safety, dedupe=dedupe, scrub=scrub,
                   splits=splits, seed=seed, desirable=desirable, undesirable=undesirable, force=force)


KIND_TEXT = {
    "preference": "TRL conversational preference rows (`prompt`, `chosen`, `rejected` as message lists) for `DPOTrainer`",
    "reward": "TRL conversational preference rows for `RewardTrainer`, with `margin` = the chosen reply's mean "
              "per-principle score minus the rejected one's (0 for pairs from comparisons alone)",
    "kto": "TRL unpaired rows (`prompt`, `completion`, `label`) for `KTOTrainer`",
}


def preference_card(card: dict) -> str:
    """The dataset card (README.md) of a preference, reward or KTO export."""
    c, f, kind = card["counts"], card["filters"], card["kind"]
    if kind == "kto":
        rule = (f"- label: `true` when a candidate's mean score is at least {f['desirable']}, `false` when at most "
                f"{f['undesirable']}; candidates in between are left out (desirable {card['labels'].get('desirable', 0)}, "
                f"undesirable {card['labels'].get('undesirable', 0)})")
    else:
        rule = (f"- pairs: {f['mode']}; score gap at least {f['min_gap']} on the total over the principles all rated "
                f"candidates of a turn share; comparisons {'used (' + (f['comparison_judge'] or 'any judge') + ')' if f['comparisons'] else 'not used'}")
    lines = [
        f"# psyagents {kind} export",
        "",
        f"Counsellor replies exported by psyagents {card['psyagents_version']} on {card['created_at']} from `{card['source']}`.",
        "Not clinical data: simulated replies were written by language models, ratings by judges.",
        "",
        f"Format: {KIND_TEXT[kind]}. The prompt is the counsellor's system prompt (if any) and the dialogue up to "
        "the client's last message before the rated turn.",
        "",
        "| split | rows |",
        "|---|---|",
        *[f"| {s} | {c[s]} |" for s in SPLITS],
        f"| total | {sum(c.values())} |",
        "",
        f"Sessions in the database: {card['sessions_total']}; sessions with exported rows: {card['sessions_exported']}; "
        + (f"counsellor turns with rated candidates or their own verdicts after the filters: {card['groups']}."
           if kind == "kto" else f"turns with two or more candidates after the filters: {card['groups']}."),
        *([f"Pairs by source: {', '.join(f'{k} {n}' for k, n in sorted(card['pair_sources'].items()))}."] if card["pair_sources"] else []),
        "",
        "## Selection",
        "",
        f"- judge: {f['judge'] or 'none (no verdicts on candidates)'}; principles: {', '.join(f['principles'] or []) or 'all it rated'}"
        + (f"; scale {f['scale'][0]}-{f['scale'][1]}" if f["scale"] else ""),
        rule,
        f"- styles: {', '.join(f['styles']) or 'any'}; personas: {', '.join(f['personas']) or 'any'}; "
        f"safety: {'exclude sessions screened moderate or above' if f['safety'] == 'exclude' else 'keep all'}",
        f"- de-duplication: {'on' if f['dedupe'] else 'off'}; scrubbing: {'on' if f['scrub'] else 'off'}",
        f"- split shares (train, validation, test): {', '.join(str(s) for s in f['splits'])}, by hash of session id with seed {f['seed']}",
        "",
        "## Skipped",
        "",
        *([f"- {SKIP_LABELS[k]}: {n}" for k, n in card["skipped"].items()] or ["- none"]),
        "",
        "## Columns",
        "",
        ", ".join(f"`{col}`" for col in card["columns"]),
        "",
        "## Source runs",
        "",
        *[f"- {k}: {', '.join(v) or '-'}" for k, v in card["runs"].items()],
        f"- candidate models: {', '.join(card['models']) or '-'}",
        "",
    ]
    return "\n".join(lines)


# import -------------------------------------------------------------------------
RATING_RE = re.compile(r"^(chosen|rejected)_(.+)_rating$")


def _read_rows(path: Path) -> list[tuple[str, Any]]:
    """``(where, row)`` for each row of a JSON list, JSON lines, CSV or parquet file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return [(f"row {i}", r) for i, r in enumerate(_read_parquet(path))]
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                return [(f"row {i} (line {reader.line_num})", {k: (None if v == "" else v) for k, v in r.items()})
                        for i, r in enumerate(reader)]
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is allowed
        if suffix == ".jsonl":
            out = []
            # split on newlines only: str.splitlines() also splits at U+2028 and friends, which JSON strings may hold
            for n, line in enumerate(text.split("\n"), 1):
                if line.strip():
                    try:
                        out.append((f"row {len(out)} (line {n})", json.loads(line)))
                    except json.JSONDecodeError as exc:
                        raise PsyagentsError(f"{path}: line {n}: cannot parse JSON: {exc.msg}") from None
            return out
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise PsyagentsError(f"{path}: cannot parse: {str(exc).splitlines()[0]}") from None
    except ImportError:
        raise PsyagentsError(f"{path}: reading parquet needs pyarrow (pip install 'psyagents[train]')") from None
    except OSError as exc:
        raise PsyagentsError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, list):
        raise PsyagentsError(f"{path}: expected a list of rows, got {type(data).__name__}")
    return [(f"row {i}", r) for i, r in enumerate(data)]


def _read_parquet(path: Path) -> list[dict]:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except (pyarrow.ArrowException, ValueError) as exc:  # not parquet, truncated, or an unreadable type
        raise PsyagentsError(f"{path}: cannot read as parquet: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None


def _text(where: str, row: dict, col: str) -> str:
    v = row.get(col)
    if not isinstance(v, str) or not v.strip():
        raise PsyagentsError(f"{where}: column '{col}' " + ("missing" if col not in row or v is None else "must be non-empty text"))
    return v


def _parse_pref(where: str, row: Any, scales: dict[str, tuple[int, int]]) -> dict:
    if not isinstance(row, dict):
        raise PsyagentsError(f"{where}: expected an object with ID, question, chosen, rejected, got {type(row).__name__}")
    key = "ID" if "ID" in row else "id"
    ident = row.get(key)
    if isinstance(ident, float) and ident.is_integer():
        ident = int(ident)
    if isinstance(ident, bool) or not isinstance(ident, (str, int)) or (isinstance(ident, str) and not ident.strip()):
        raise PsyagentsError(f"{where}: column 'ID' missing or not a string or whole number")
    parsed = {"id": ident, "question": _text(where, row, "question"), "chosen": _text(where, row, "chosen"),
              "rejected": _text(where, row, "rejected"), "ratings": {"chosen": {}, "rejected": {}}}
    for col in ("chosen_model", "rejected_model"):
        v = row.get(col)
        if v is not None and not isinstance(v, str):
            raise PsyagentsError(f"{where}: column '{col}' must be text, not {type(v).__name__}")
        parsed[col] = v
    for col, v in row.items():
        m = RATING_RE.match(str(col))
        if not m or v is None:
            continue
        side, stem = m.groups()
        principle = stem.replace("_", "-") if stem.replace("_", "-") in scales else stem
        lo, hi = scales.get(principle, (1, 5))
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                raise PsyagentsError(f"{where}: column '{col}': expected a number from {lo} to {hi}, got {v!r}") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo <= v <= hi):
            raise PsyagentsError(f"{where}: column '{col}': expected a number from {lo} to {hi}, got {v!r}")
        parsed["ratings"][side][principle] = v
    return parsed


def import_preference(path: str | Path, db: str | Path, *, source: str = IMPORT_SOURCE) -> dict:
    """Import PsychoCounsel-Preference rows (ID, question, chosen, rejected, models, ``{side}_{p}_rating``) into ``db``.

    Each row becomes a completed session ``{source}:{ID}`` (also its key): the question as the client's
    turn, the chosen reply as the counsellor's turn, both replies as candidates of that turn (with their
    models; the chosen one marked), each rating as a verdict on its candidate by judge ``import:{source}``,
    and the dataset's preference as a comparison won by the chosen reply. Every row is checked before
    anything is written (a bad row writes nothing); then each row is written in one transaction, and rows
    already in the store are skipped, so an interrupted import is finished by running it again.
    Returns ``{"added", "skipped", "run_id", "ignored_columns"}``: the last names the file's columns
    that are none of the above (not imported).
    """
    path = Path(path)
    if not path.exists():
        raise PsyagentsError(f"file '{path}' does not exist")
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", source or ""):
        raise PsyagentsError(f"--source must be a short name of letters, digits, '-', '_' or '.', not {source!r}")
    try:
        from .registry import principles as registered

        scales = {p.id: (p.scale_min, p.scale_max) for p in registered().values()}
    except PsyagentsError:
        scales = {}
    rows = _read_rows(path)
    parsed, first = [], {}
    for where, row in rows:
        p = _parse_pref(f"{path}: {where}", row, scales)
        if str(p["id"]) in first:
            raise PsyagentsError(f"{path}: {where}: column 'ID': {p['id']!r} repeats {first[str(p['id'])]}")
        first[str(p["id"])] = where
        parsed.append(p)
    if not parsed:
        raise PsyagentsError(f"{path}: no rows")
    known = {"ID", "id", "question", "chosen", "rejected", "chosen_model", "rejected_model"}
    ignored = sorted({str(c) for _, row in rows for c in row if c not in known and not RATING_RE.match(str(c))})

    judge = f"import:{source}"
    store = TraceStore(db)
    added = skipped = 0
    run_id = f"import-{source}-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"
    try:
        store.start_run(run_id, "import", {"file": str(path.resolve()), "source": source, "rows": len(parsed)}, {"psyagents": _version()})
        existing = {r["key"] for r in store.db.query("select key from sessions where key is not null")}
        for i, p in enumerate(progress(parsed, len(parsed), "import preference")):
            key = f"{source}:{p['id']}"
            if key in existing:
                skipped += 1
                continue
            _write_pref_row(store, key, run_id, judge, scales, path, i, p)
            existing.add(key)
            added += 1
        store.finish_run(run_id, "completed", {"added": added, "skipped": skipped})
    except BaseException as exc:
        store.finish_run(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", {"added": added, "skipped": skipped})
        raise
    finally:
        store.close()
    return {"added": added, "skipped": skipped, "run_id": run_id, "ignored_columns": ignored}


def _write_pref_row(store: TraceStore, key: str, run_id: str, judge: str, scales: dict, path: Path, index: int, p: dict) -> None:
    """One imported row in one transaction: session, two turns, two candidates, their verdicts, one comparison."""
    config = {"persona": IMPORTED, "style": IMPORTED, "graph": IMPORTED, "counselor": None, "client": None,
              "max_turns": 1, "seed": None, "source": str(path.resolve()), "index": index, "system_prompt": None,
              "dataset": key.split(":", 1)[0], "id": p["id"]}
    t = now()
    session, turns = imported_rows(key, config, [Turn(0, "client", p["question"]), Turn(1, "counselor", p["chosen"], model=p["chosen_model"])],
                                   versions={"psyagents": _version()}, run_id=run_id, key=key, at=t)
    with store._lock, store.db.atomic():  # the whole row or nothing
        db = store.db
        db["sessions"].insert(session, alter=False)
        db["turns"].insert_all(turns)
        ids = []
        for idx, side in enumerate(("chosen", "rejected")):
            ids.append(db["candidates"].insert({
                "session_id": key, "turn_idx": 1, "idx": idx, "source": "import", "model": p[f"{side}_model"],
                "text": p[side], "chosen": int(side == "chosen"), "score": None, "meta": json.dumps({"side": side}),
                "created_at": t}).last_pk)
        verdicts = [
            {"session_id": key, "turn_idx": 1, "candidate_id": cid, "judge": judge, "principle": principle, "score": score,
             "scale_min": scales.get(principle, (1, 5))[0], "scale_max": scales.get(principle, (1, 5))[1], "rationale": "",
             "status": "ok", "error": "", "raw": "", "created_at": t}
            for cid, side in zip(ids, ("chosen", "rejected")) for principle, score in p["ratings"][side].items()
        ]
        if verdicts:
            db["verdicts"].insert_all(verdicts)
        db["comparisons"].insert({
            "session_id": key, "turn_idx": 1, "judge": judge, "candidate_ids": json.dumps(ids), "winner_id": ids[0],
            "rationale": "the dataset's chosen reply", "status": "ok", "error": "", "raw": "",
            "meta": json.dumps({"source": "dataset label"}), "created_at": t})
