"""The SQLite trace store: sessions, turns and events, written as they happen.

Each write is its own transaction, so a crash loses nothing already written.
Turns are keyed by (session, position): a node re-run after a crash rewrites
the same row instead of adding a duplicate. The database runs in WAL mode so
readers (``psyagents traces``) never block a running session.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import random
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from .errors import PsyagentsError, SessionBusy, SessionExists, unknown
from .migrations import migrate


T = TypeVar("T")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def connect(path: str | Path, *, check: bool | None = None) -> sqlite3.Connection:
    """A connection suitable for sharing between the trace store and LangGraph's checkpointer.

    With ``check`` set, the file is first checked to be a psyagents trace database (see
    ``_check_trace_db``), before anything is written to it; ``check=True`` also accepts a new one.
    """
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=_BUSY_TIMEOUT)
    try:
        if check is not None:
            _check_trace_db(conn, Path(path), create=check)
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


_BUSY_TIMEOUT = 30.0


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the database to WAL, waiting for other connections that are opening it too.

    Changing the journal mode needs the database to itself. When another connection holds a read
    lock (several processes creating one new file at once), SQLite answers "database is locked"
    straight away instead of calling the busy handler, so the wait is here. The mode is stored in
    the file: once one connection has switched it, the others' pragma is a no-op.
    """
    _while_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))


def _while_locked(fn: Callable[[], T]) -> T:
    """``fn()``, tried again (with a growing random pause, up to the busy timeout) while SQLite says the file is locked."""
    deadline = time.monotonic() + _BUSY_TIMEOUT
    pause = 0.001
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause * (1 + random.random()))
        pause = min(pause * 2, 0.05)


def _check_trace_db(conn: sqlite3.Connection, path: Path, *, create: bool) -> None:
    """Refuse a file that is not a psyagents trace database, before switching it to WAL or migrating it.

    A trace database has a ``_migrations`` table. With ``create`` a database with nothing in it
    yet (a new or empty file, or one another process is creating right now: its tables appear
    in one transaction with ``_migrations``) is accepted too; another program's database is not.
    Only reads: a refused file is left exactly as it was.
    """
    names = _while_locked(lambda: {row[0] for row in conn.execute("SELECT name FROM sqlite_master")})
    if "_migrations" in names or (create and not names):
        return
    if not names and path.exists() and path.stat().st_size == 0:
        raise PsyagentsError(f"database '{path}': empty file, not a trace database")
    raise PsyagentsError(f"database '{path}': not a psyagents trace database (no _migrations table)")


_TOKEN: tuple[int, str] | None = None


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), to tell it from a later one with its number."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def process_token() -> str:
    """``host:pid:start`` for this process: a session's ``owner`` while it runs here."""
    global _TOKEN
    pid = os.getpid()
    if _TOKEN is None or _TOKEN[0] != pid:  # computed again in a forked worker
        _TOKEN = (pid, f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}")
    return _TOKEN[1]


def busy_elsewhere(session_id: str, status: str | None, owner: str | None) -> SessionBusy | None:
    """The error for resuming a session another live process is running, or None when it may be taken."""
    if status != "running" or not owner_alive(owner):
        return None
    pid = str(owner).rsplit(":", 2)[1]
    return SessionBusy(f"session '{session_id}' is running in another process (pid {pid}) on this machine; "
                       "let it finish or stop it (Ctrl-C), then resume")


def owner_alive(token: str | None) -> bool:
    """Whether the process a session's ``owner`` names is still running (on this machine; another machine's cannot be told)."""
    try:
        host, pid_text, start = (token or "").rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    now_start = _start_time(pid)
    if now_start is not None or start:
        return now_start == start  # a process with that number that started later is another one
    try:
        os.kill(pid, 0)  # no /proc: at least the number is taken
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Turn:
    idx: int
    speaker: str
    text: str
    stage: str | None = None
    technique: str | None = None
    risk_level: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


IMPORTED = "imported"  # an imported session's persona, style, graph and end reason (``import sharegpt|preference``)


def imported_rows(session_id: str, config: dict, turns: list[Turn], *, versions: dict, run_id: str | None = None,
                  key: str | None = None, at: str | None = None) -> tuple[dict, list[dict]]:
    """The ``sessions`` row and ``turns`` rows of one imported, completed dialogue, for an importer to insert in one transaction."""
    t = at or now()
    session = {
        "run_id": run_id, "key": key, "id": session_id, "status": "completed", "created_at": t, "updated_at": t,
        "ended_at": t, "end_reason": IMPORTED, "persona_id": IMPORTED, "style": IMPORTED, "graph": IMPORTED,
        "counselor": None, "client": None, "seed": None, "max_turns": config["max_turns"],
        "config": json.dumps(config, ensure_ascii=False), "persona": json.dumps({"id": IMPORTED}), "versions": json.dumps(versions),
    }
    return session, [{**turn.__dict__, "session_id": session_id, "created_at": t, "meta": "{}"} for turn in turns]


_TURN_FIELDS = tuple(Turn.__dataclass_fields__)
_INSERT_TURN = (
    f"INSERT OR REPLACE INTO turns ({', '.join(_TURN_FIELDS)}, session_id, created_at, meta) "
    f"VALUES ({', '.join('?' * (len(_TURN_FIELDS) + 3))})"
)
_SET_RISK = "UPDATE turns SET risk_level = ? WHERE session_id = ? AND idx = ?"
_INSERT_EVENT = "INSERT INTO events (session_id, turn_idx, kind, level, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)"


def _locked(method):
    """Run a reading method under the store's lock: the connection is shared by a batch's threads."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class TraceStore:
    """Reads and writes one trace database."""

    def __init__(self, path: str | Path, *, create: bool = True):
        if isinstance(path, str) and path.endswith(("/", os.sep)):  # Path() would drop the slash and make a file
            raise PsyagentsError(f"database '{path}' names a folder; give a file, e.g. '{path.rstrip('/' + os.sep) or '.'}/traces.db'")
        self.path = Path(path)
        if not create and not self.path.exists():
            raise PsyagentsError(f"database '{self.path}' does not exist")
        if self.path.parent and not self.path.parent.exists():
            raise PsyagentsError(f"database '{self.path}': folder '{self.path.parent}' does not exist")
        try:
            self.conn = connect(self.path, check=create)
            self.db = sqlite_utils.Database(self.conn)
            self._lock = threading.RLock()
            with self._lock:
                migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise PsyagentsError(f"database '{self.path}': {exc}") from None

    def close(self) -> None:
        self.conn.close()

    # writing -------------------------------------------------------------
    def _write(self, fn) -> Any:
        with self._lock, self.conn:
            return fn()

    def start_session(
        self, session_id: str, *, config: dict, persona: dict, versions: dict, run_id: str | None = None, key: str | None = None
    ) -> None:
        row = {
            "run_id": run_id,
            "key": key,
            "id": session_id,
            "status": "running",
            "created_at": now(),
            "updated_at": now(),
            "persona_id": persona.get("id"),
            "style": config.get("style"),
            "graph": config.get("graph"),
            "counselor": config.get("counselor"),
            "client": config.get("client"),
            "seed": config.get("seed"),
            "max_turns": config.get("max_turns"),
            "config": json.dumps(config, ensure_ascii=False),
            "persona": json.dumps(persona, ensure_ascii=False),
            "versions": json.dumps(versions),
            "owner": process_token(),
        }
        try:
            self._write(lambda: self.db["sessions"].insert(row))
        except sqlite3.IntegrityError:
            what = f"session '{session_id}'" + (f" (or one with key '{key}')" if key else "")
            raise SessionExists(f"{what} already exists in '{self.path}'; resume it or choose another id") from None

    def set_status(self, session_id: str, status: str, *, end_reason: str | None = None, error: str | None = None) -> None:
        """Set a session's status; back to ``running`` (a resume) clears its error into an ``earlier_error`` event.

        Setting ``running`` claims the session for this process: in one ``BEGIN IMMEDIATE``
        transaction it checks that no other live process runs it (``owner_alive``) and records this
        one as its owner, else raises ``SessionBusy`` and writes nothing. Two processes resuming one
        session at the same moment therefore cannot both go on.
        """
        update: dict[str, Any] = {"status": status, "updated_at": now()}
        if status == "running":
            update["owner"] = process_token()
        if end_reason is not None:
            update["end_reason"] = end_reason
            update["ended_at"] = now()
        if error is not None:
            update["error"] = error

        def write() -> None:
            if status == "running":
                if not self.conn.in_transaction:
                    self.conn.execute("BEGIN IMMEDIATE")  # the check and the claim below as one step
                old = self.db.execute("select error, status, owner from sessions where id = ?", [session_id]).fetchone()
                if old and (busy := busy_elsewhere(session_id, old[1], old[2])):
                    raise busy
                # A resumed session has no current error; the one it had is kept as an event.
                if old and old[0]:
                    self.db["events"].insert({"session_id": session_id, "turn_idx": None, "kind": "earlier_error", "level": None,
                                              "detail": json.dumps({"error": old[0]}, ensure_ascii=False), "created_at": now()})
                    update["error"] = None
            self.db["sessions"].update(session_id, update)

        self._write(write)

    def add_turn(self, session_id: str, turn: Turn, meta: dict | None = None) -> None:
        values = (*(getattr(turn, f) for f in _TURN_FIELDS), session_id, now(), json.dumps(meta or {}, ensure_ascii=False))
        # INSERT OR REPLACE on the unique (session_id, idx) index: a re-run node rewrites its turn.
        # Plain SQL rather than sqlite-utils: this runs twice per turn in every session.
        self._write(lambda: self.conn.execute(_INSERT_TURN, values))

    def set_turn_risk(self, session_id: str, idx: int, level: str) -> None:
        self._write(lambda: self.conn.execute(_SET_RISK, (level, session_id, idx)))

    def add_screen(self, session_id: str, idx: int, level: str, **detail: Any) -> None:
        """A message's screen result: its turn's risk level and a ``screen`` event, in one transaction."""
        event = (session_id, idx, "screen", level, json.dumps(detail, ensure_ascii=False, default=str), now())

        def write() -> None:
            self.conn.execute(_SET_RISK, (level, session_id, idx))
            self.conn.execute(_INSERT_EVENT, event)

        self._write(write)

    def add_event(self, session_id: str, kind: str, *, turn_idx: int | None = None, level: str | None = None, **detail: Any) -> None:
        values = (session_id, turn_idx, kind, level, json.dumps(detail, ensure_ascii=False, default=str), now())
        self._write(lambda: self.conn.execute(_INSERT_EVENT, values))

    def add_verdicts(
        self, session_id: str, verdicts: Iterable[Any], turn_idx: int | None = None, candidate_id: int | None = None
    ) -> None:
        """Record judges' verdicts (``judging.Verdict`` or dicts) on a session, on one turn with ``turn_idx``,
        or on one logged candidate reply with ``candidate_id``."""
        fields = ("judge", "principle", "score", "scale_min", "scale_max", "rationale", "status", "error", "raw")
        rows = []
        for v in verdicts:
            data = v.model_dump() if hasattr(v, "model_dump") else dict(v)
            rows.append(
                {"session_id": session_id, "turn_idx": turn_idx, "candidate_id": candidate_id,
                 **{k: data.get(k) for k in fields}, "created_at": now()}
            )
        if rows:
            self._write(lambda: self.db["verdicts"].insert_all(rows))

    def add_candidates(self, session_id: str, turn_idx: int, candidates: Iterable[dict]) -> list[int]:
        """Log the candidate replies drawn for one counsellor turn; returns their ids in order.

        Each dict has ``text`` and optionally ``model``, ``source``, ``chosen``, ``score``, ``meta``;
        its position is its ``idx``. Re-logging the same turn (a node re-run after a crash) replaces the rows,
        and drops the verdicts and comparisons that referred to the replaced ones, in the same transaction.
        """
        rows = []
        for i, c in enumerate(candidates):
            rows.append({
                "session_id": session_id, "turn_idx": turn_idx, "idx": c.get("idx", i), "source": c.get("source"),
                "model": c.get("model"), "text": c["text"], "chosen": int(bool(c.get("chosen"))), "score": c.get("score"),
                "meta": json.dumps(c.get("meta") or {}, ensure_ascii=False, default=str), "created_at": now(),
            })

        def write() -> list[int]:
            # Verdicts and comparisons of the candidates being replaced would point at rows that no longer exist.
            old = "select id from candidates where session_id = ? and turn_idx = ?"
            self.db.execute(f"delete from verdicts where candidate_id in ({old})", [session_id, turn_idx])
            self.db.execute("delete from comparisons where session_id = ? and turn_idx = ?", [session_id, turn_idx])
            self.db.execute("delete from candidates where session_id = ? and turn_idx = ?", [session_id, turn_idx])
            self.db["candidates"].insert_all(rows)
            return [
                r["id"] for r in self.db.query(
                    "select id from candidates where session_id = ? and turn_idx = ? order by idx", [session_id, turn_idx])
            ]

        return self._write(write) if rows else []

    def set_chosen(self, candidate_id: int, *, score: float | None = None) -> None:
        """Mark the candidate the dialogue continued with (and clear its siblings)."""
        def write() -> None:
            row = self.db["candidates"].get(candidate_id)
            self.db.execute("update candidates set chosen = 0 where session_id = ? and turn_idx = ?", [row["session_id"], row["turn_idx"]])
            self.db["candidates"].update(candidate_id, {"chosen": 1, **({"score": score} if score is not None else {})})
        self._write(write)

    def add_comparison(
        self, session_id: str, turn_idx: int | None, judge: str, candidate_ids: list[int], winner_id: int | None, *,
        rationale: str = "", status: str = "ok", error: str = "", raw: str = "", meta: dict | None = None,
    ) -> int:
        """Record a judge's choice among candidates (pairwise or best-of-N); ``winner_id`` None is a tie or failure."""
        row = {
            "session_id": session_id, "turn_idx": turn_idx, "judge": judge, "candidate_ids": json.dumps(list(candidate_ids)),
            "winner_id": winner_id, "rationale": rationale, "status": status, "error": error, "raw": raw,
            "meta": json.dumps(meta or {}, ensure_ascii=False, default=str), "created_at": now(),
        }
        return self._write(lambda: self.db["comparisons"].insert(row).last_pk)

    def start_run(self, run_id: str, kind: str, config: dict, versions: dict | None = None) -> None:
        """Record a batch run's configuration; re-starting an existing run marks it running again.

        The first start's configuration and versions stay the run's own. Each re-start appends to
        ``resumes`` when it happened and what differed from the first start (``{key: [first, now]}``
        for the configuration and the package versions), so a batch resumed with other workers,
        concurrency or library versions says so.
        """
        config_json = json.dumps(config, ensure_ascii=False, default=str)
        versions_json = json.dumps(versions or {})
        row = {"id": run_id, "kind": kind, "status": "running", "created_at": now(), "updated_at": now(),
               "config": config_json, "versions": versions_json}

        def write() -> None:
            old = self.db.execute("select config, versions, resumes from runs where id = ?", [run_id]).fetchone()
            if old is None:
                self.db["runs"].insert(row)
                return
            resume = {"at": now(), "config": _changes(json.loads(old[0] or "{}"), json.loads(config_json)),
                      "versions": _changes(json.loads(old[1] or "{}"), json.loads(versions_json))}
            resumes = json.loads(old[2] or "[]") + [resume]
            self.db["runs"].update(run_id, {"status": "running", "updated_at": now(),
                                            "resumes": json.dumps(resumes, ensure_ascii=False)})
        self._write(write)

    def finish_run(self, run_id: str, status: str, summary: dict | None = None) -> None:
        self._write(lambda: self.db["runs"].update(
            run_id, {"status": status, "updated_at": now(), "summary": json.dumps(summary or {}, default=str)}))

    # reading -------------------------------------------------------------
    @_locked
    def session_by_key(self, key: str) -> dict | None:
        rows = list(self.db["sessions"].rows_where("key = ?", [key]))
        return _decode(rows[0]) if rows else None

    @_locked
    def candidates(self, session_id: str | None = None, turn_idx: int | None = None, source: str | None = None) -> list[dict]:
        clauses, args = [], []
        for col, val in (("session_id", session_id), ("turn_idx", turn_idx), ("source", source)):
            if val is not None:
                clauses, args = clauses + [f"{col} = ?"], args + [val]
        rows = self.db["candidates"].rows_where(" and ".join(clauses) or None, args, order_by="session_id, turn_idx, idx")
        return [_decode(r) for r in rows]

    @_locked
    def comparisons(self, session_id: str | None = None, judge: str | None = None) -> list[dict]:
        clauses, args = [], []
        for col, val in (("session_id", session_id), ("judge", judge)):
            if val is not None:
                clauses, args = clauses + [f"{col} = ?"], args + [val]
        out = []
        for r in self.db["comparisons"].rows_where(" and ".join(clauses) or None, args, order_by="id"):
            r = _decode(r)
            r["candidate_ids"] = json.loads(r["candidate_ids"])
            out.append(r)
        return out

    @_locked
    def runs(self, kind: str | None = None) -> list[dict]:
        rows = self.db["runs"].rows_where("kind = ?" if kind else None, [kind] if kind else [], order_by="created_at desc")
        out = []
        for r in rows:
            r = _decode(r)
            r["summary"] = json.loads(r["summary"]) if r.get("summary") else {}
            r["resumes"] = r.get("resumes") or []
            r["n_sessions"] = self.db["sessions"].count_where("run_id = ?", [r["id"]])
            out.append(r)
        return out

    @_locked
    def run(self, run_id: str) -> dict:
        for r in self.runs():
            if r["id"] == run_id:
                return r
        raise unknown("run", run_id, [r["id"] for r in self.runs()])

    @_locked
    def session(self, session_id: str) -> dict:
        try:
            row = self.db["sessions"].get(session_id)
        except sqlite_utils.db.NotFoundError:
            ids = [r["id"] for r in self.db.query("select id from sessions order by created_at desc limit 200")]
            raise unknown("session", session_id, ids) from None
        return _decode(row)

    @_locked
    def sessions(self, *, limit: int | None = None) -> list[dict]:
        sql = (
            "select s.*, (select count(*) from turns t where t.session_id = s.id) as n_turns "
            "from sessions s order by created_at desc" + (f" limit {int(limit)}" if limit else "")
        )
        return [_decode(r) for r in self.db.query(sql)]

    @_locked
    def turns(self, session_id: str) -> list[Turn]:
        fields = Turn.__dataclass_fields__
        rows = self.db["turns"].rows_where("session_id = ?", [session_id], order_by="idx")
        return [Turn(**{k: r[k] for k in fields}) for r in rows]

    @_locked
    def events(self, session_id: str, kind: str | None = None) -> list[dict]:
        where, args = "session_id = ?", [session_id]
        if kind:
            where, args = where + " and kind = ?", args + [kind]
        return [_decode(r) for r in self.db["events"].rows_where(where, args, order_by="id")]


    @_locked
    def verdicts(self, session_id: str | None = None, judge: str | None = None) -> list[dict]:
        """Recorded verdicts, oldest first, optionally for one session and one judge."""
        clauses, args = [], []
        if session_id is not None:
            clauses, args = clauses + ["session_id = ?"], args + [session_id]
        if judge is not None:
            clauses, args = clauses + ["judge = ?"], args + [judge]
        return list(self.db["verdicts"].rows_where(" and ".join(clauses) or None, args, order_by="id"))


def _changes(before: dict, after: dict) -> dict:
    """``{key: [before, after]}`` for each key whose value differs (None where a side lacks it)."""
    return {k: [before.get(k), after.get(k)] for k in sorted(before.keys() | after.keys()) if before.get(k) != after.get(k)}


def _decode(row: dict) -> dict:
    out = dict(row)
    for key in ("config", "persona", "versions", "detail", "meta", "resumes"):
        if isinstance(out.get(key), str):
            try:
                out[key] = json.loads(out[key])
            except json.JSONDecodeError:
                pass
    return out


def open_existing(path: str | Path) -> TraceStore:
    """Open a database that must already exist (for reading commands)."""
    return TraceStore(path, create=False)

