"""Trace store: migrations, idempotent turn writes, reading back."""

from __future__ import annotations

import sqlite_utils

from psyagents.migrations import MIGRATIONS, migrate
from psyagents.tracing import TraceStore, Turn


def test_migrations_apply_once():
    db = sqlite_utils.Database(memory=True)
    assert migrate(db) == [fn.__name__ for fn in MIGRATIONS]
    assert migrate(db) == []
    assert {"sessions", "turns", "events", "_migrations"} <= set(db.table_names())


def test_rewriting_a_turn_replaces_it(db):
    store = TraceStore(db)
    store.start_session("s", config={"style": "cbt"}, persona={"id": "p"}, versions={})
    store.add_turn("s", Turn(idx=0, speaker="client", text="first draft"))
    store.add_turn("s", Turn(idx=0, speaker="client", text="after a re-run"))
    store.add_turn("s", Turn(idx=1, speaker="counselor", text="reply", technique="open-question"))
    store.set_turn_risk("s", 0, "low")
    turns = store.turns("s")
    assert [(t.idx, t.text, t.risk_level) for t in turns] == [(0, "after a re-run", "low"), (1, "reply", None)]
    store.set_status("s", "completed", end_reason="turn_cap")
    row = store.sessions()[0]
    assert row["status"] == "completed" and row["end_reason"] == "turn_cap" and row["n_turns"] == 2 and row["ended_at"]


def test_writes_are_visible_to_another_connection_at_once(db):
    """Each write commits on its own: a reader (or a crash) sees every turn already written."""
    store = TraceStore(db)
    store.start_session("s", config={}, persona={"id": "p"}, versions={})
    store.add_turn("s", Turn(idx=0, speaker="client", text="hello"))
    store.add_event("s", "screen", turn_idx=0, level="none", layer="lexicon")
    other = sqlite_utils.Database(db)
    assert other.execute("select text from turns").fetchall() == [("hello",)]
    assert other["events"].count == 1


def test_a_session_id_cannot_be_reused(db):
    import pytest

    from psyagents.errors import PsyagentsError

    store = TraceStore(db)
    store.start_session("s", config={}, persona={"id": "p"}, versions={})
    with pytest.raises(PsyagentsError, match="session 's' already exists"):
        store.start_session("s", config={}, persona={"id": "p"}, versions={})


def _open_and_start(path, i):
    store = TraceStore(path)
    store.start_session(f"s{i}", config={}, persona={"id": "p"}, versions={})
    store.close()


def test_many_writers_can_create_the_same_new_database(tmp_path):
    """Processes and threads opening one new file at once: migrations run once, nobody sees 'locked'.

    The race is short (switching a new file to WAL; about one trial in twenty failed before
    `_use_wal` waited for it), so the threads try twenty new files.
    """
    import multiprocessing
    import threading

    for trial in range(2):
        path = tmp_path / f"p{trial}.db"
        procs = [multiprocessing.Process(target=_open_and_start, args=(path, i)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 4
    for trial in range(20):
        errors = []
        path = tmp_path / f"t{trial}.db"

        def worker(i):
            try:
                _open_and_start(path, i)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(repr(exc))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        store = TraceStore(path)
        assert len(store.sessions()) == 8
        assert store.db["_migrations"].count == len(__import__("psyagents.migrations").migrations.MIGRATIONS)


def test_a_screen_sets_the_turn_risk_and_logs_its_event_together(db):
    store = TraceStore(db)
    store.start_session("s", config={}, persona={"id": "p"}, versions={})
    store.add_turn("s", Turn(idx=0, speaker="client", text="I want to die"))
    store.add_screen("s", 0, "high", categories=["active_ideation"], layer="lexicon", evidence=["want to die"])
    assert store.turns("s")[0].risk_level == "high"
    (event,) = store.events("s", "screen")
    assert event["turn_idx"] == 0 and event["level"] == "high"
    assert event["detail"] == {"categories": ["active_ideation"], "layer": "lexicon", "evidence": ["want to die"]}
