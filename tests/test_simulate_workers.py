"""simulate(workers=N): one batch split between processes, with the same sessions as in one process.

Scripted models only; the worker processes are real (forked) processes. Ctrl-C and kill -9
with workers are covered in test_simulate.py (parametrised over --workers 1 and 2).
"""

from __future__ import annotations

import sqlite3

import pytest

import psyagents
from psyagents.errors import PsyagentsError

PERSONAS = "kevin-panic,maya-exam-anxiety,liam-anger"


def _rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _transcripts(db) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for key, idx, speaker, text in _rows(db, "select s.key, t.idx, t.speaker, t.text from turns t join sessions s on s.id = t.session_id order by s.key, t.idx"):
        out.setdefault(key, []).append((idx, speaker, text))
    return out


def test_two_workers_make_the_same_sessions_as_one_process(tmp_path):
    args = dict(counselor="scripted:counselor", client="scripted:client", max_turns=3, seed=5, concurrency=4)
    one = psyagents.simulate(PERSONAS, "cbt,integrative", 1, db=tmp_path / "one.db", **args)
    seen = []
    two = psyagents.simulate(PERSONAS, "cbt,integrative", 1, db=tmp_path / "two.db", workers=2,
                             on_progress=lambda p: seen.append((p.event, p.completed, p.turns)), **args)
    assert one.status == two.status == "completed"
    assert two.completed == 6 and two.failed == 0 and two.turns == one.turns
    assert two.run_id == one.run_id  # the number of workers is not part of the batch's identity
    assert _transcripts(tmp_path / "two.db") == _transcripts(tmp_path / "one.db")
    assert sorted(s["status"] for s in two.sessions) == ["completed"] * 6
    # progress is summed over the workers and ends complete
    assert [e for e, _, _ in seen].count("completed") == 6
    assert seen[-1][0] == "end" and seen[-1][1] == 6 and seen[-1][2] == one.turns
    run = psyagents.tracing.TraceStore(tmp_path / "two.db").run(two.run_id)
    assert run["status"] == "completed" and run["config"]["workers"] == 2


def test_a_rerun_with_workers_skips_what_one_process_finished(tmp_path):
    db = tmp_path / "b.db"
    args = dict(counselor="scripted:counselor", client="scripted:client", max_turns=2, db=db)
    first = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt", 1, **args)
    again = psyagents.simulate("kevin-panic,maya-exam-anxiety,liam-anger", "cbt", 1, workers=2, **args)
    assert first.completed == 2
    assert again.skipped == 2 and again.completed == 1
    assert _rows(db, "select count(*) from sessions") == [(3,)]


def test_a_worker_that_cannot_build_its_model_stops_the_batch_before_the_database(tmp_path):
    db = tmp_path / "never.db"
    with pytest.raises(PsyagentsError, match="missing.yaml"):
        psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt", 1, counselor=f"scripted:{tmp_path / 'missing.yaml'}",
                           client="scripted:client", db=db, workers=2)
    assert not db.exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(workers=0), "workers must be a whole number"),
        (dict(workers=3, concurrency=2), r"workers \(3\) cannot exceed concurrency \(2\)"),
        (dict(workers=2, concurrency=4, limits={"scripted": 1}), "limit for 'scripted'"),
    ],
)
def test_bad_worker_settings_name_the_argument(tmp_path, kwargs, message):
    with pytest.raises(PsyagentsError, match=message):
        psyagents.simulate(PERSONAS, "cbt", 1, counselor="scripted:counselor", client="scripted:client",
                           db=tmp_path / "x.db", **kwargs)
    assert not (tmp_path / "x.db").exists()


@pytest.fixture
def forked(monkeypatch):
    """Workers forked even if earlier tests left threads in this process (simulate would spawn
    them then), so they inherit the ``slow:`` test backend registered in this process."""
    import multiprocessing

    import psyagents.simulate_workers as workers

    monkeypatch.setattr(workers, "_context", lambda: multiprocessing.get_context("fork"))


def test_an_error_in_the_parent_stops_the_workers_and_closes_the_run(tmp_path, plugin, forked):
    """An on_progress callback that raises: the batch stops, no session is left running, the run is failed."""
    from tests.test_simulate import SlowPlugin

    plugin(SlowPlugin(), "slow-test")  # registered in this process: the forked workers have it too
    db = tmp_path / "cb.db"

    def boom(p):
        if p.event == "completed":
            raise RuntimeError("progress display broke")

    with pytest.raises(RuntimeError, match="progress display broke"):
        psyagents.simulate(PERSONAS, "cbt,integrative", 1, counselor="slow:counselor?latency=0.05",
                           client="slow:client?latency=0.05", db=db, max_turns=6, concurrency=2, workers=2,
                           on_progress=boom)
    statuses = dict(_rows(db, "select status, count(*) from sessions group by status"))
    assert "running" not in statuses and statuses.get("completed", 0) < 6, statuses
    assert _rows(db, "select status from runs") == [("failed",)]


def test_a_killed_worker_fails_the_batch_without_hanging_and_a_rerun_finishes_it(tmp_path, plugin, forked):
    """SIGKILL one worker mid-batch (as the OOM killer would): the parent does not hang, marks that
    worker's unfinished sessions interrupted, records the run failed; the same call again completes it."""
    import multiprocessing
    import os
    import signal
    import time

    from tests.test_simulate import SlowPlugin

    plugin(SlowPlugin(), "slow-test")
    db = tmp_path / "k.db"
    args = dict(counselor="slow:counselor?latency=0.05", client="slow:client?latency=0.05", db=db, max_turns=6,
                concurrency=2, workers=2)
    killed = []

    def kill_one(p):
        if p.event == "turn" and not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    start = time.monotonic()
    with pytest.raises(PsyagentsError, match="exited with code -9"):
        psyagents.simulate(PERSONAS, "cbt,integrative", 1, on_progress=kill_one, **args)
    assert time.monotonic() - start < 60 and killed
    statuses = dict(_rows(db, "select status, count(*) from sessions group by status"))
    # the killed worker's started sessions are marked interrupted (it may not have started one yet)
    assert "running" not in statuses and statuses.get("completed", 0) < 6 and set(statuses) <= {"completed", "interrupted"}, statuses
    assert _rows(db, "select status from runs") == [("failed",)]
    again = psyagents.simulate(PERSONAS, "cbt,integrative", 1, **args)
    assert again.status == "completed" and again.completed + again.skipped == 6
    assert _rows(db, "select count(*) from sessions where status = 'completed'") == [(6,)]


def test_personas_and_styles_may_be_iterators(tmp_path):
    result = psyagents.simulate(iter(["kevin-panic", "maya-exam-anxiety"]), iter(["cbt"]), 1, counselor="scripted:counselor",
                                client="scripted:client", db=tmp_path / "it.db", max_turns=2, workers=2)
    assert result.completed == 2


def test_workers_are_spawned_when_the_parent_runs_other_threads(tmp_path):
    """With another thread running, forking is unsafe: the workers are spawned (a fresh interpreter each)."""
    import threading

    import psyagents.simulate_workers as workers

    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        assert workers._context().get_start_method() == "spawn"
        result = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt", 1, counselor="scripted:counselor",
                                    client="scripted:client", db=tmp_path / "sp.db", max_turns=2, workers=2)
    finally:
        stop.set()
    assert result.completed == 2
