"""Training data from traces: ``export_sft`` writes SFT datasets, ``import_sharegpt`` reads them back.

One example per completed session: a short counsellor system prompt, then the dialogue with the
client as ``user`` and the counsellor as ``assistant``, ending on a counsellor turn, so every
counsellor turn is a training target. Two formats:

* ``sharegpt`` - ``{"conversations": [{"from": "human"|"gpt", "value": ...}], "system": ...}``, the
  LLaMA-Factory ShareGPT format, with a ``dataset_info.json`` registering the non-empty splits;
* ``messages`` - ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}]}``, TRL's
  conversational SFT rows (also LLaMA-Factory ShareGPT with role/content tags, as Interactive
  Agents' SimPsyDial corpus is; ``dataset_info.json`` is written for it too).

Sessions are split into train/validation/test by a hash of the seed and the session id, so a
session's split never depends on which other sessions are exported or in what order. Judge
verdicts can filter the data (``min_score``, per session or per counsellor turn); the helpers for
picking a judge's latest verdicts are shared with ``psyagents.preference`` (preference, reward and
KTO exports, and the preference import).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from .errors import PsyagentsError, unknown
from .risk import RISK_LEVELS, level_index
from .tracing import IMPORTED, TraceStore, Turn, imported_rows

FORMATS = ("sharegpt", "messages")
SPLITS = ("train", "validation", "test")

SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt", "system_tag": "system"}
MESSAGES_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant", "system_tag": "system"}


def system_prompt(style: str | None) -> str:
    """The counsellor's role for a simulated session in ``style``."""
    title = style or "integrative"
    try:
        from .registry import get_style

        title = get_style(style).title or style
    except Exception:  # an unknown or removed style still exports, under its name
        pass
    return (
        f"You are a professional psychological counsellor working in the {title} style. "
        "Reply warmly and briefly, one or two sentences at a time, and keep the client safe."
    )


# scrubbing -------------------------------------------------------------------
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_RE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{6,}\d(?!\w)")
ADDRESS_RE = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][\w'-]*\s+){1,3}"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|Close|Crescent)\b"
)


def _name_patterns(persona: dict | None) -> list[re.Pattern]:
    name = str((persona or {}).get("name") or "").strip()
    if not name or name == IMPORTED:
        return []
    names = [name]
    first = name.split()[0]
    if first != name and len(first) > 1:
        names.append(first)
    out = []
    for n in sorted(set(names), key=len, reverse=True):
        if n.isascii():
            out.append(re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.IGNORECASE))
        else:  # CJK names have no word boundaries
            out.append(re.compile(re.escape(n)))
    return out


def scrub_text(text: str, persona: dict | None = None) -> str:
    """Replace e-mail addresses, street addresses, phone numbers and the persona's names with placeholders."""
    text = EMAIL_RE.sub("[EMAIL]", text)
    text = ADDRESS_RE.sub("[ADDRESS]", text)
    text = PHONE_RE.sub("[PHONE]", text)
    for pattern in _name_patterns(persona):
        text = pattern.sub("[NAME]", text)
    return text


# building examples -----------------------------------------------------------
def dialogue(turns: list[Turn]) -> list[dict[str, str]]:
    """Client/counsellor turns as alternating user/assistant messages ending on the counsellor.

    Consecutive turns by one speaker are joined with a newline; counsellor lines before the
    client's first line and a trailing client turn are dropped (nothing to learn from).
    """
    out: list[dict[str, str]] = []
    for t in turns:
        role = {"client": "user", "counselor": "assistant"}.get(t.speaker)
        if role is None or not (t.text or "").strip():
            continue
        if not out and role == "assistant":
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n" + t.text
        else:
            out.append({"role": role, "content": t.text})
    while out and out[-1]["role"] != "assistant":
        out.pop()
    return out


def _split_of(session_id: str, seed: int, splits: tuple[float, float, float]) -> str:
    digest = hashlib.sha256(f"{seed}:{session_id}".encode()).digest()
    x = int.from_bytes(digest[:8], "big") / 2**64
    acc = 0.0
    for name, share in zip(SPLITS, splits):
        acc += share
        if x < acc:
            return name
    return next(name for name, share in reversed(list(zip(SPLITS, splits))) if share > 0)


SFT_FILES = (*(f"{s}.jsonl" for s in SPLITS), "dataset_info.json", "README.md")
# The first line of every dataset card psyagents writes ("# psyagents SFT export", "# psyagents kto export"):
# a folder whose README.md starts with it is a previous export, whose files an export may replace.
CARD_MARK = re.compile(r"# psyagents [\w-]+ export\s*")


def check_paths(db: str | Path, out_dir: str | Path, files: tuple[str, ...] = (), force: bool = False) -> tuple[Path, Path]:
    """An export's database (must exist) and output folder (not empty text, not a file, not someone else's files).

    ``files`` are the names the export writes: an existing folder holding any of them must be a previous
    psyagents export (see ``is_export_folder``) unless ``force``.
    """
    db = Path(db)
    if not db.exists():
        raise PsyagentsError(f"database '{db}' does not exist")
    if not str(out_dir).strip():
        raise PsyagentsError("-o/--out: the output folder is empty text; name a folder (use '.' for the current one)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PsyagentsError(f"output '{out}' is a file, not a folder")
    _check_folder(out, files, force)
    return db, out


def is_export_folder(out: Path) -> bool:
    """Whether ``out`` holds a psyagents export: its README.md is a psyagents dataset card (first line ``CARD_MARK``)."""
    try:
        with (out / "README.md").open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline(200)
    except OSError:
        return False
    return CARD_MARK.fullmatch(first) is not None


EXPORT_ONLY_FILES = ("dataset_info.json",)  # written by some exports only (sft)


def _check_folder(out: Path, files: tuple[str, ...], force: bool) -> None:
    if force or not out.is_dir():
        return
    theirs = [name for name in files if os.path.lexists(out / name)]
    if theirs and not is_export_folder(out):
        raise PsyagentsError(f"output folder '{out}' already holds '{theirs[0]}' and is not a psyagents export; "
                             "choose another folder, or pass --force to replace its files")


def _check_splits(splits: Any) -> tuple[float, float, float]:
    try:
        values = tuple(float(s) for s in splits)
    except (TypeError, ValueError):
        raise PsyagentsError(f"--splits must be three numbers (train, validation, test), not {splits!r}") from None
    if len(values) == 3 and not all(math.isfinite(v) for v in values):
        raise PsyagentsError(f"--splits must be three finite numbers (train, validation, test), not {splits!r}")
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1) > 1e-6:
        raise PsyagentsError(f"--splits must be three non-negative shares adding up to 1, not {splits!r}")
    return values  # type: ignore[return-value]


def _row(fmt: str, system: str | None, messages: list[dict[str, str]]) -> dict:
    if fmt == "messages":
        return {"messages": ([{"role": "system", "content": system}] if system is not None else []) + messages}
    conv = [{"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]} for m in messages]
    return {"conversations": conv, **({"system": system} if system is not None else {})}


def _write_temp(path: Path, text: str) -> str:
    """``text`` in a synced temporary file beside ``path``; returns its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _write_atomic(path: Path, text: str) -> None:
    tmp = _write_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible everywhere (Windows); the renames are still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_export(out: Path, files: dict[str, str], *, force: bool = False) -> None:
    """Write an export's files into ``out`` as one set, as far as a file system allows.

    Refuses (unless ``force``) when ``out`` holds any of the files and is not a previous psyagents
    export. Every file is first written and synced to a temporary file beside its target; only then are
    they renamed into place one after another, ``README.md`` (the card that marks the folder as an export)
    first. An interruption before the renames leaves the old files untouched; only one during the
    renames (no data is written then) can leave some files new and some old.
    """
    out.mkdir(parents=True, exist_ok=True)
    _check_folder(out, tuple(files), force)
    # A previous export of another kind (sft, then preference) may have written files this one does
    # not; left behind, dataset_info.json would describe train.jsonl as SFT rows.
    stale = [n for n in EXPORT_ONLY_FILES if n not in files and (out / n).is_file()] if is_export_folder(out) else []
    names = sorted(files, key=lambda n: n != "README.md")
    temps: dict[str, str] = {}
    try:
        for name in names:
            temps[name] = _write_temp(out / name, files[name])
        for name in names:
            os.replace(temps[name], out / name)
            del temps[name]
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
    for name in stale:
        (out / name).unlink(missing_ok=True)
    _sync_dir(out)


def dataset_info(fmt: str, splits: tuple[str, ...] = SPLITS, prefix: str = "psyagents_sft") -> dict:
    """LLaMA-Factory ``dataset_info.json`` entries for the split files; empty ones are left out (`datasets` cannot load an empty JSON-lines file)."""
    if fmt == "messages":
        columns, tags = {"messages": "messages"}, MESSAGES_TAGS
    else:
        columns, tags = {"messages": "conversations", "system": "system"}, SHAREGPT_TAGS
    return {
        f"{prefix}_{split}": {"file_name": f"{split}.jsonl", "formatting": "sharegpt", "columns": dict(columns), "tags": dict(tags)}
        for split in splits
    }


def progress(items, total: int | None = None, label: str = "", console=None):
    """Yield ``items`` with a rich progress bar on stderr when it is a terminal; silently otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)


# judge scores ----------------------------------------------------------------
def resolve_principles(spec: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """Principle ids for ``--principles`` (sets, ids or files, see ``judging.resolve_principles``); None for all."""
    if not spec:
        return None
    from .judging import resolve_principles as resolve

    return [p.id for p in resolve(spec)]


def usable_verdicts(store: TraceStore, principles: list[str] | None = None) -> list[dict]:
    """The latest ok, scored verdict per (judge, principle, session, turn, candidate), oldest first."""
    latest: dict[tuple, dict] = {}
    for v in store.db.query("select * from verdicts where status = 'ok' and score is not null order by id"):
        if principles is None or v["principle"] in principles:
            latest[(v["judge"], v["principle"], v["session_id"], v["turn_idx"], v["candidate_id"])] = v
    return list(latest.values())


def pick_judge(verdicts: list[dict], judge: str | None, what: str) -> str | None:
    """The judge whose verdicts to use: ``judge`` if it has any, the only judge there is, or None when there are none."""
    judges = sorted({v["judge"] for v in verdicts})
    if judge is not None:
        if judge not in judges:
            raise unknown(f"judge with verdicts on {what}", judge, judges)
        return judge
    if len(judges) > 1:
        raise PsyagentsError(f"verdicts on {what} come from several judges ({', '.join(judges)}); choose one with --judge")
    return judges[0] if judges else None


def check_scales(verdicts: list[dict]) -> None:
    """Refuse to add up scores on different scales (a 1-5 principle and a 0-6 one)."""
    scales: dict[tuple, set[str]] = {}
    for v in verdicts:
        scales.setdefault((v["scale_min"], v["scale_max"]), set()).add(v["principle"])
    if len(scales) > 1:
        parts = "; ".join(f"{a}-{b}: {', '.join(sorted(ps))}" for (a, b), ps in sorted(scales.items(), key=str))
        raise PsyagentsError(f"the verdicts are on different scales ({parts}); choose principles on one scale with --principles")


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


class _JudgeScores:
    """Mean judge scores of sessions and counsellor turns, for ``export_sft``'s judge filter."""

    def __init__(self, store: TraceStore, judge: str | None, principles: list[str] | None):
        verdicts = usable_verdicts(store, principles)
        chosen = {r["id"]: (r["session_id"], r["turn_idx"]) for r in store.db.query("select id, session_id, turn_idx from candidates where chosen = 1")}
        # verdicts on the session or its turns, and on the candidates the dialogue continued with
        relevant = [v for v in verdicts if v["candidate_id"] is None or v["candidate_id"] in chosen]
        self.judge = pick_judge(relevant, judge, "sessions, turns or chosen candidates")
        if self.judge is None:
            raise PsyagentsError("--min-score: the database has no judge verdicts" + (" on these principles" if principles else "")
                                 + "; run `psyagents judge` first")
        mine = [v for v in relevant if v["judge"] == self.judge]
        check_scales(mine)
        self.session: dict[str, list[float]] = {}
        own: dict[tuple, list[float]] = {}
        via_candidate: dict[tuple, list[float]] = {}
        for v in mine:
            self.session.setdefault(v["session_id"], []).append(v["score"])
            if v["candidate_id"] is not None:
                via_candidate.setdefault(chosen[v["candidate_id"]], []).append(v["score"])
            elif v["turn_idx"] is not None:
                own.setdefault((v["session_id"], v["turn_idx"]), []).append(v["score"])
        self.turn = {**via_candidate, **own}  # a turn's own verdicts win over its chosen candidate's
        self.scale = (mine[0]["scale_min"], mine[0]["scale_max"]) if mine else None

    def session_mean(self, session_id: str) -> float | None:
        return _mean(self.session.get(session_id, []))

    def turn_mean(self, session_id: str, idx: int) -> float | None:
        return _mean(self.turn.get((session_id, idx), []))


FILTER_LABELS = {
    "not_completed": "status is not completed",
    "empty": "no counsellor reply to the client",
    "style": "--style",
    "persona": "--persona",
    "end_reason": "--end-reason",
    "unjudged": "no judge verdict (--min-score)",
    "judge_score": "--min-score",
    "min_turns": "--min-turns",
    "safety": "--exclude-flagged (screened moderate or above)",
    "duplicate": "duplicate dialogue",
}


def export_sft(
    db: str | Path,
    out_dir: str | Path,
    *,
    format: str = "sharegpt",
    min_turns: int = 0,
    end_reasons: list[str] | tuple[str, ...] | None = None,
    styles: list[str] | tuple[str, ...] | None = None,
    personas: list[str] | tuple[str, ...] | None = None,
    safety: str = "keep",
    dedupe: bool = True,
    scrub: bool = False,
    splits: tuple[float, float, float] = (0.9, 0.05, 0.05),
    seed: int = 0,
    judge: str | None = None,
    min_score: float | None = None,
    score_on: str = "session",
    principles: str | list[str] | None = None,
    force: bool = False,
) -> dict:
    """Write an SFT dataset from the completed sessions in ``db`` to ``out_dir``; returns the dataset card data.

    With ``min_score``, judge verdicts filter the data (``judge`` picks whose, ``principles`` a set or
    ids): ``score_on="session"`` keeps sessions whose mean score is at least ``min_score``;
    ``score_on="turn"`` ends each dialogue before its first counsellor turn whose mean score is below
    it (or that has no verdict), so no such reply is ever a target. ``out_dir`` must be new, empty of
    the export's files, or a previous psyagents export, unless ``force`` (see ``write_export``).
    """
    if format not in FORMATS:
        raise PsyagentsError(f"unknown export format '{format}'; expected one of {', '.join(FORMATS)}")
    if safety not in ("keep", "exclude"):
        raise PsyagentsError(f"safety must be 'keep' or 'exclude', not {safety!r}")
    if not isinstance(min_turns, int) or min_turns < 0:
        raise PsyagentsError(f"min_turns must be a non-negative whole number, not {min_turns!r}")
    if score_on not in ("session", "turn"):
        raise PsyagentsError(f"score_on must be 'session' or 'turn', not {score_on!r}")
    if min_score is not None and not isinstance(min_score, (int, float)):
        raise PsyagentsError(f"min_score must be a number, not {min_score!r}")
    if min_score is None and (judge or principles):
        raise PsyagentsError("--judge and --principles choose the verdicts for --min-score; give --min-score too")
    split_shares = _check_splits(splits)
    db, out = check_paths(db, out_dir, SFT_FILES, force)
    principle_ids = resolve_principles(principles)

    store = TraceStore(db, create=False)
    try:
        scores = _JudgeScores(store, judge, principle_ids) if min_score is not None else None
        rows = [_decode_row(r) for r in store.db.query("select rowid as _rowid, * from sessions order by rowid")]
        flagged = {
            r["session_id"]
            for r in store.db.query("select session_id, level from events where kind = 'screen' and level is not null")
            if r["level"] in RISK_LEVELS and level_index(r["level"]) >= level_index("moderate")
        }
        turns = {r["id"]: store.turns(r["id"]) for r in rows}
    finally:
        store.close()

    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    examples: dict[str, list[dict]] = {s: [] for s in SPLITS}
    kept: list[dict] = []
    cut_turns = 0
    for row in progress(rows, len(rows), "sft export"):
        cfg = row.get("config") if isinstance(row.get("config"), dict) else {}
        messages = dialogue(turns[row["id"]])
        judged, unjudged = messages, False
        if scores is not None and score_on == "turn":
            means = {t.idx: scores.turn_mean(row["id"], t.idx) for t in turns[row["id"]] if t.speaker == "counselor" and (t.text or "").strip()}
            unjudged = all(m is None for m in means.values())
            below = [i for i, m in means.items() if m is None or m < min_score]
            if below:
                judged = dialogue([t for t in turns[row["id"]] if t.idx < min(below)])
        reason = None
        if row["status"] != "completed":
            reason = "not_completed"
        elif not messages:
            reason = "empty"
        elif styles and row.get("style") not in styles:
            reason = "style"
        elif personas and row.get("persona_id") not in personas:
            reason = "persona"
        elif end_reasons and row.get("end_reason") not in end_reasons:
            reason = "end_reason"
        elif unjudged or (scores is not None and score_on == "session" and scores.session_mean(row["id"]) is None):
            reason = "unjudged"
        elif scores is not None and score_on == "session" and scores.session_mean(row["id"]) < min_score:
            reason = "judge_score"
        elif not judged:
            reason = "judge_score"
        elif sum(m["role"] == "assistant" for m in judged) < min_turns:
            reason = "min_turns"
        elif safety == "exclude" and row["id"] in flagged:
            reason = "safety"
        if reason is None:
            cut_turns += sum(m["role"] == "assistant" for m in messages) - sum(m["role"] == "assistant" for m in judged)
            messages = judged
        if reason is None and dedupe:
            key = hashlib.sha256(json.dumps(messages, ensure_ascii=False).encode()).hexdigest()
            if key in seen:
                reason = "duplicate"
            seen.add(key)
        if reason:
            skipped[reason] += 1
            continue
        if "system_prompt" in cfg:  # an imported dialogue keeps its own prompt (or none)
            system = cfg["system_prompt"]
        else:
            system = system_prompt(row.get("style"))
        if scrub:
            persona = row.get("persona") if isinstance(row.get("persona"), dict) else None
            messages = [{**m, "content": scrub_text(m["content"], persona)} for m in messages]
        split = _split_of(row["id"], seed, split_shares)
        examples[split].append(_row(format, system, messages))
        kept.append(row)

    if not kept:
        raise PsyagentsError(_nothing_left(db, len(rows), skipped))

    files = {f"{split}.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in examples[split]) for split in SPLITS}
    files["dataset_info.json"] = json.dumps(dataset_info(format, tuple(s for s in SPLITS if examples[s])), ensure_ascii=False, indent=2) + "\n"

    def distinct(key: str) -> list:
        return sorted({str(r.get(key)) for r in kept if r.get(key) is not None})

    card = {
        "format": format,
        "source": str(db.resolve()),
        "out_dir": str(out.resolve()),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "psyagents_version": _version(),
        "counts": {s: len(examples[s]) for s in SPLITS},
        "sessions_total": len(rows),
        "sessions_exported": len(kept),
        "assistant_turns": sum(
            sum(1 for m in (r.get("messages") or r.get("conversations")) if m.get("role") == "assistant" or m.get("from") == "gpt")
            for s in SPLITS for r in examples[s]
        ),
        "skipped": {k: skipped[k] for k in FILTER_LABELS if skipped[k]},
        "filters": {
            "min_turns": min_turns, "end_reasons": list(end_reasons or []), "styles": list(styles or []),
            "personas": list(personas or []), "safety": safety, "dedupe": dedupe, "scrub": scrub,
            "splits": list(split_shares), "seed": seed,
            "judge": None if scores is None else {
                "judge": scores.judge, "min_score": min_score, "score_on": score_on, "principles": principle_ids,
                "scale": list(scores.scale) if scores.scale else None,
            },
        },
        "judge_cut_turns": cut_turns,
        "runs": {key: distinct(key) for key in ("counselor", "client", "style", "graph", "max_turns")},
    }
    files["README.md"] = dataset_card(card)
    write_export(out, files, force=force)
    return card


def _decode_row(row: dict) -> dict:
    out = dict(row)
    for key in ("config", "persona"):
        if isinstance(out.get(key), str):
            try:
                out[key] = json.loads(out[key])
            except json.JSONDecodeError:
                out[key] = {}
    return out


def _nothing_left(db: Path, total: int, skipped: Counter) -> str:
    if not total:
        return f"no sessions in '{db}' to export"
    parts = [f"{FILTER_LABELS[k]} removed {skipped[k]}" for k in FILTER_LABELS if skipped[k]]
    return f"no session in '{db}' passes the filters ({total} sessions: {'; '.join(parts)})"


def _version() -> str:
    try:
        return importlib.metadata.version("psyagents")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def dataset_card(card: dict) -> str:
    """The dataset card (README.md) for an export."""
    c = card["counts"]
    f = card["filters"]
    lines = [
        "# psyagents SFT export",
        "",
        f"Counselling dialogues exported by psyagents {card['psyagents_version']} on {card['created_at']}",
        f"from `{card['source']}`. Not clinical data: simulated sessions were written by language models.",
        "",
        f"Format: `{card['format']}` (" + ("LLaMA-Factory ShareGPT, `conversations` with `from`/`value`"
                                         if card["format"] == "sharegpt" else "TRL conversational, `messages` with `role`/`content`")
        + "); `dataset_info.json` registers the non-empty splits for LLaMA-Factory. One row per session; every counsellor turn is a target.",
        "",
        "| split | rows |",
        "|---|---|",
        *[f"| {s} | {c[s]} |" for s in SPLITS],
        f"| total | {sum(c.values())} |",
        "",
        f"Sessions in the database: {card['sessions_total']}; exported: {card['sessions_exported']}; "
        f"counsellor turns: {card['assistant_turns']}.",
        "",
        "## Filters",
        "",
        f"- minimum counsellor turns: {f['min_turns']}",
        f"- end reasons: {', '.join(f['end_reasons']) or 'any'}",
        f"- styles: {', '.join(f['styles']) or 'any'}",
        f"- personas: {', '.join(f['personas']) or 'any'}",
        f"- safety: {'exclude sessions screened moderate or above' if f['safety'] == 'exclude' else 'keep all'}",
        f"- de-duplication: {'on' if f['dedupe'] else 'off'}; scrubbing of names, e-mails, phones, addresses: {'on' if f['scrub'] else 'off'}",
        f"- split shares (train, validation, test): {', '.join(str(s) for s in f['splits'])}, by hash of session id with seed {f['seed']}",
        f"- judge score: {_judge_line(f.get('judge'), card.get('judge_cut_turns', 0))}",
        "",
        "## Sessions skipped",
        "",
        *([f"- {FILTER_LABELS[k]}: {n}" for k, n in card["skipped"].items()] or ["- none"]),
        "",
        "## Source runs",
        "",
        *[f"- {k}: {', '.join(v) or '-'}" for k, v in card["runs"].items()],
        "",
    ]
    return "\n".join(lines)


def _judge_line(j: dict | None, cut: int) -> str:
    if not j:
        return "not filtered"
    what = f"mean of `{j['judge']}`'s verdicts" + (f" on {', '.join(j['principles'])}" if j["principles"] else " on every principle it rated")
    if j["score_on"] == "session":
        return f"{what} over the session (its turns and chosen candidates included) at least {j['min_score']}"
    return (f"{what} on each counsellor turn at least {j['min_score']}: a dialogue ends before its first counsellor turn "
            f"below that or without a verdict ({cut} counsellor turns cut)")


# import ----------------------------------------------------------------------
ROLE_MAP = {"system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant"}


def _parse_item(path: Path, i: int, item: Any, line: int | None = None) -> tuple[str | None, list[dict[str, str]]]:
    where = f"{path}: item {i}" + (f" (line {line})" if line is not None else "")
    if not isinstance(item, dict):
        raise PsyagentsError(f"{where}: expected an object with 'messages' or 'conversations', got {type(item).__name__}")
    if isinstance(item.get("messages"), list):
        field, role_key, content_key, raw = "messages", "role", "content", item["messages"]
    elif isinstance(item.get("conversations"), list):
        field, role_key, content_key, raw = "conversations", "from", "value", item["conversations"]
    else:
        raise PsyagentsError(f"{where}: field 'messages' (or 'conversations') missing or not a list")
    system = item.get("system")
    if system is not None and not isinstance(system, str):
        raise PsyagentsError(f"{where}: field 'system' must be a string")
    messages: list[dict[str, str]] = []
    for j, m in enumerate(raw):
        at = f"{where}: {field}[{j}]"
        if not isinstance(m, dict):
            raise PsyagentsError(f"{at}: expected an object, got {type(m).__name__}")
        role = ROLE_MAP.get(m.get(role_key)) if isinstance(m.get(role_key), str) else None
        if role is None:
            raise PsyagentsError(f"{at}: field '{role_key}' is {m.get(role_key)!r}; expected system, user/human or assistant/gpt")
        content = m.get(content_key)
        if not isinstance(content, str):
            raise PsyagentsError(f"{at}: field '{content_key}' missing or not a string")
        if role == "system":
            if messages:
                raise PsyagentsError(f"{at}: a system message may only come first")
            system = content
            continue
        messages.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in messages):
        raise PsyagentsError(f"{where}: field '{field}' has no assistant (counsellor) message")
    return system, messages


def _read_sharegpt(path: Path) -> list[tuple[Any, int | None]]:
    """The items of a ShareGPT file with their line numbers (JSON lines: ``.jsonl`` in any case), a BOM allowed."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PsyagentsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise PsyagentsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".jsonl":
        items = []
        # split on newlines only: str.splitlines() also splits at U+2028 and friends, which JSON strings may hold
        for n, line in enumerate(text.split("\n"), 1):
            if line.strip():
                try:
                    items.append((json.loads(line), n))
                except json.JSONDecodeError as exc:
                    raise PsyagentsError(f"{path}: line {n}: cannot parse JSON: {exc.msg} (column {exc.colno})") from None
        return items
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PsyagentsError(f"{path}: cannot parse JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, list):
        raise PsyagentsError(f"{path}: expected a list of dialogues, got {type(data).__name__}")
    return [(item, None) for item in data]


def _session_tables(store: TraceStore) -> list[str]:
    """Every table with a ``session_id`` column: what a replaced session's rows may be in."""
    return [t.name for t in store.db.tables if t.name != "sessions" and "session_id" in t.columns_dict]


def _write_dialogue(store: TraceStore, session_id: str, config: dict, messages: list[dict[str, str]], tables: list[str]) -> bool:
    """One imported dialogue in one transaction: its completed session and all its turns, or nothing.

    A session with this id that is not ``completed`` (left by an import interrupted before this was one
    transaction) is replaced, with everything recorded about it; a completed one is kept. Returns
    whether the dialogue was written.
    """
    row, turns = imported_rows(session_id, config, [
        Turn(idx=j, speaker="client" if m["role"] == "user" else "counselor", text=m["content"]) for j, m in enumerate(messages)
    ], versions={"psyagents": _version()})
    conn = store.conn
    with store._lock:
        conn.execute("BEGIN IMMEDIATE")  # the write lock now: another import cannot add this session in between
        try:
            old = conn.execute("select status, graph from sessions where id = ?", [session_id]).fetchone()
            if old and (old[0] == "completed" or old[1] != IMPORTED):
                conn.execute("ROLLBACK")
                return False
            if old:
                for table in tables:
                    conn.execute(f"delete from [{table}] where session_id = ?", [session_id])
                conn.execute("delete from sessions where id = ?", [session_id])
            store.db["sessions"].insert(row, alter=False)
            store.db["turns"].insert_all(turns, alter=False)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
    return True


def import_sharegpt(path: str | Path, db: str | Path) -> int:
    """Import a ShareGPT file (``messages`` role/content or ``conversations`` from/value) as completed sessions.

    Each dialogue becomes a session with graph, style and persona ``imported``; the system prompt,
    the source file and the item's index are kept in the session's config. ``.jsonl`` files (any
    case) are JSON lines; a UTF-8 byte-order mark is allowed. Every item is checked before anything
    is written; then each dialogue is written in one transaction (session, turns and status, or
    nothing). Session ids derive from the content and index, so importing the same file twice adds
    nothing, and running an interrupted import again adds what is missing. Returns the number of
    sessions added.
    """
    path = Path(path)
    if not path.exists():
        raise PsyagentsError(f"file '{path}' does not exist")
    items = _read_sharegpt(path)
    parsed = [_parse_item(path, i, item, line) for i, (item, line) in enumerate(items)]  # validate everything before writing
    store = TraceStore(db)
    added = 0
    try:
        done = {r["id"] for r in store.db.query("select id from sessions where status = 'completed' or graph is not ?", [IMPORTED])}
        tables = _session_tables(store)
        for i, (system, messages) in enumerate(progress(parsed, len(parsed), "import sharegpt")):
            digest = hashlib.sha256(json.dumps([i, system, messages], ensure_ascii=False).encode()).hexdigest()[:12]
            session_id = f"imp-{digest}"
            if session_id in done:
                continue
            config = {
                "persona": IMPORTED, "style": IMPORTED, "graph": IMPORTED, "counselor": None, "client": None,
                "max_turns": sum(m["role"] == "assistant" for m in messages), "seed": None,
                "source": str(path.resolve()), "index": i, "system_prompt": system,
            }
            if _write_dialogue(store, session_id, config, messages, tables):
                added += 1
            done.add(session_id)
    finally:
        store.close()
    return added
