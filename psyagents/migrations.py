"""Trace-store migrations: small functions applied once each, in order, recorded in ``_migrations``.

Never edit a migration once released; add a new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlite_utils

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = []


def migration(fn: Callable[[sqlite_utils.Database], None]) -> Callable[[sqlite_utils.Database], None]:
    MIGRATIONS.append(fn)
    return fn


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied.

    All pending migrations run in one ``BEGIN IMMEDIATE`` transaction, so processes or threads
    opening a new database at the same moment take turns (waiting up to the connection's busy
    timeout) and the later ones find the work done instead of creating the tables twice.
    """
    if _pending(db) == []:
        return []
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS [_migrations] ([name] TEXT PRIMARY KEY, [applied_at] TEXT)")
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        applied = []
        for fn in MIGRATIONS:
            if fn.__name__ in done:
                continue
            fn(db)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                         [fn.__name__, dt.datetime.now(dt.timezone.utc).isoformat()])
            applied.append(fn.__name__)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return applied


def _pending(db: sqlite_utils.Database) -> list[str] | None:
    """Names of migrations not yet applied; None when the database has no migrations table yet."""
    if not db["_migrations"].exists():
        return None
    done = {row[0] for row in db.conn.execute("SELECT name FROM _migrations")}
    return [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in done]


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    db["sessions"].create(
        {
            "id": str,
            "status": str,  # running | completed | interrupted | failed
            "created_at": str,
            "updated_at": str,
            "ended_at": str,
            "persona_id": str,
            "style": str,
            "graph": str,
            "counselor": str,
            "client": str,
            "seed": int,
            "max_turns": int,
            "end_reason": str,
            "error": str,
            "config": str,  # JSON: everything needed to rebuild and resume the session
            "persona": str,  # JSON: the persona as used
            "versions": str,  # JSON: package versions
        },
        pk="id",
    )
    db["turns"].create(
        {
            "id": int,
            "session_id": str,
            "idx": int,  # position in the dialogue, from 0
            "speaker": str,
            "text": str,
            "stage": str,
            "technique": str,
            "risk_level": str,
            "model": str,
            "latency_ms": float,
            "prompt_tokens": int,
            "completion_tokens": int,
            "created_at": str,
            "meta": str,  # JSON
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["turns"].create_index(["session_id", "idx"], unique=True)
    db["events"].create(
        {
            "id": int,
            "session_id": str,
            "turn_idx": int,
            "kind": str,  # screen | guard | crisis | closing | end | error
            "level": str,
            "detail": str,  # JSON
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["events"].create_index(["session_id", "kind"])


@migration
def m002_verdicts(db: sqlite_utils.Database) -> None:
    db["verdicts"].create(
        {
            "id": int,
            "session_id": str,
            "turn_idx": int,  # the rated counsellor turn; null for a verdict on the whole session
            "judge": str,  # the judge spec, e.g. crisis-heuristic or rubric:local:smollm2
            "principle": str,
            "score": float,  # null when the principle does not apply (or the verdict failed)
            "scale_min": int,
            "scale_max": int,
            "rationale": str,
            "status": str,  # ok | failed
            "error": str,
            "raw": str,  # the judge model's raw output
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["verdicts"].create_index(["session_id", "judge", "principle"])


@migration
def m003_runs_candidates(db: sqlite_utils.Database) -> None:
    """Batch runs, session keys, logged candidate replies and comparisons between them."""
    db["runs"].create(
        {
            "id": str,
            "kind": str,  # simulate | arena | judge | import | dpo-iter ...
            "status": str,  # running | completed | interrupted | failed
            "created_at": str,
            "updated_at": str,
            "config": str,  # JSON: the run's full configuration (what re-running it needs)
            "versions": str,  # JSON: package versions
            "summary": str,  # JSON: counts when it ended
        },
        pk="id",
    )
    db["sessions"].add_column("run_id", str)
    # A batch's deterministic key for a session (persona x style x seed x index): re-running skips it.
    db["sessions"].add_column("key", str)
    db["sessions"].create_index(["key"], unique=True)  # SQLite allows many NULL keys
    db["candidates"].create(
        {
            "id": int,
            "session_id": str,
            "turn_idx": int,  # the counsellor turn this candidate was drawn for
            "idx": int,  # its position among that turn's candidates, from 0
            "source": str,  # judge-loop | arena | import | dpo-iter ...
            "model": str,  # the model (or bot) spec that wrote it
            "text": str,
            "chosen": int,  # 1 when the dialogue continued with it
            "score": float,  # the selector's total score, if any
            "meta": str,  # JSON
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["candidates"].create_index(["session_id", "turn_idx", "idx"], unique=True)
    db["verdicts"].add_column("candidate_id", int)  # a verdict on one candidate rather than on the turn
    db["verdicts"].create_index(["candidate_id"])
    db["comparisons"].create(
        {
            "id": int,
            "session_id": str,
            "turn_idx": int,
            "judge": str,
            "candidate_ids": str,  # JSON list of candidate ids, in the order the judge saw them
            "winner_id": int,  # null for a tie or a failed comparison
            "rationale": str,
            "status": str,  # ok | failed
            "error": str,
            "raw": str,
            "meta": str,  # JSON, e.g. {"order": "ba", "pair": 3}
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["comparisons"].create_index(["session_id", "turn_idx", "judge"])


@migration
def m004_run_resumes(db: sqlite_utils.Database) -> None:
    """Each re-start of a run, with what it changed: a resumed batch may use other workers or versions."""
    db["runs"].add_column("resumes", str)  # JSON list of {"at", "config": {key: [before, after]}, "versions": ...}


@migration
def m005_session_owner(db: sqlite_utils.Database) -> None:
    """The process running a session (``host:pid:start``), so a second process does not resume it at the same time."""
    db["sessions"].add_column("owner", str)
