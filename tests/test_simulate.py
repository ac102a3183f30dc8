"""Batches: concurrency, per-backend limits, retries, resume after kill -9 and Ctrl-C, runs list/show.

The models are scripted (``scripted:counselor`` / ``scripted:client``) or a scripted model
with a fixed latency (``slow:``, registered below) that counts the calls in flight, so the
tests observe the overlap from the backend's side. Nothing is mocked inside psyagents.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import psyagents
from psyagents.default_plugins.scripted_models import COUNSELOR_SCRIPT, ScriptedChatModel
from psyagents.errors import PsyagentsError
from psyagents.hookspecs import hookimpl
from psyagents.simulate import parse_limits, session_id_for, session_key, session_seed
from psyagents.tracing import TraceStore

from .conftest import ROOT, run_cli

SLOW_PLUGIN = '''
import threading, time
from psyagents.default_plugins.scripted_models import BUILTIN_SCRIPTS, ScriptedChatModel
from psyagents.hookspecs import hookimpl

class Meter:
    lock = threading.Lock()
    now = 0
    peak = 0
    calls = 0
    now_by = {}
    peak_by = {}

class SlowModel(ScriptedChatModel):
    """Scripted replies after ``latency`` seconds; counts the calls in flight."""
    latency: float = 0.1
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        name = self.script_name
        with Meter.lock:
            Meter.now += 1
            Meter.calls += 1
            Meter.peak = max(Meter.peak, Meter.now)
            Meter.now_by[name] = Meter.now_by.get(name, 0) + 1
            Meter.peak_by[name] = max(Meter.peak_by.get(name, 0), Meter.now_by[name])
        try:
            time.sleep(self.latency)
            return super()._generate(messages, stop, run_manager, **kwargs)
        finally:
            with Meter.lock:
                Meter.now -= 1
                Meter.now_by[name] -= 1

class SlowPlugin:
    @hookimpl
    def register_chat_models(self, register):
        def factory(name, options):
            return SlowModel(replies=BUILTIN_SCRIPTS[name], latency=float(options.get("latency", 0.1)), script_name="slow:" + name)
        register("slow", factory, description="scripted replies after a latency")
'''

ns: dict = {}
exec(compile(SLOW_PLUGIN, "slow_plugin", "exec"), ns)  # one definition for this process and the subprocesses
Meter, SlowPlugin = ns["Meter"], ns["SlowPlugin"]

CLI_SCRIPT = '''
import sys
sys.path.insert(0, {root!r})
exec(compile(open({plugin!r}).read(), "slow_plugin", "exec"))
from psyagents.plugins import register_plugin
register_plugin(SlowPlugin(), name="slow-test")
from psyagents.cli import main
main(sys.argv[1:])
'''


@pytest.fixture
def slow(plugin):
    plugin(SlowPlugin(), "slow-test")
    with Meter.lock:
        Meter.now = Meter.peak = Meter.calls = 0
        Meter.now_by, Meter.peak_by = {}, {}
    return Meter


@pytest.fixture
def cli_script(tmp_path) -> Path:
    """A script that registers the ``slow:`` backend and runs the real ``psyagents`` entry point."""
    plugin_file = tmp_path / "slow_plugin.py"
    plugin_file.write_text(SLOW_PLUGIN)
    script = tmp_path / "psyagents_slow.py"
    script.write_text(CLI_SCRIPT.format(root=str(ROOT), plugin=str(plugin_file)))
    return script


def _env() -> dict:
    return {**os.environ, "PSYAGENTS_LOAD_PLUGINS": ""}


def _rows(db: Path, sql: str, args=()) -> list[tuple]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _transcripts(db: Path) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for key, idx, speaker, text in _rows(
        db, "select s.key, t.idx, t.speaker, t.text from turns t join sessions s on s.id = t.session_id order by s.key, t.idx"
    ):
        out.setdefault(key, []).append((idx, speaker, text))
    return out


def test_sessions_overlap_and_concurrency_caps_them(db, slow):
    # 8 sessions x 2 counsellor turns = 4 calls of 0.25 s each per session: 8 s one after another.
    eight = list(psyagents.personas())[:8]
    start = time.perf_counter()
    result = psyagents.simulate(eight, "cbt", 1, concurrency=8, counselor="slow:counselor?latency=0.25",
                                client="slow:client?latency=0.25", db=db, max_turns=2)
    elapsed = time.perf_counter() - start
    assert result.status == "completed" and result.completed == 8 and result.failed == 0
    assert slow.calls == sum(4 - bool(psyagents.get_persona(p).opening) for p in eight)  # an opening is no call
    assert slow.peak == 8  # every session had a call in flight at the same time
    assert elapsed < 8 * 4 * 0.25 / 2, elapsed  # one session takes ~1 s; one after another 8 s

    with Meter.lock:
        Meter.peak = 0
    psyagents.simulate(eight[:6], "cbt", 1, concurrency=3, counselor="slow:counselor?latency=0.05",
                       client="slow:client?latency=0.05", db=db, max_turns=2, seed=1)
    assert slow.peak == 3


def test_per_backend_limit_caps_requests_in_flight(db, slow):
    eight = list(psyagents.personas())[:8]
    args = dict(concurrency=8, counselor="slow:counselor?latency=0.1", client="slow:client?latency=0.1", db=db, max_turns=2)
    result = psyagents.simulate(eight, "cbt", 1, limits={"slow": 2}, **args)  # a provider's limit covers its model strings
    assert result.completed == 8
    assert slow.peak == 2
    with Meter.lock:
        Meter.peak, Meter.peak_by = 0, {}
    psyagents.simulate(eight, "cbt", 1, limits=["slow:counselor?latency=0.1=3"], seed=9, **args)  # one model string
    assert slow.peak_by["slow:counselor"] == 3 and slow.peak > 3  # the client's calls are not limited


def test_a_gate_admits_its_limit_from_threads_and_coroutines_and_survives_cancellation():
    """Stress: two event loops and two threads share a gate of 3; a third of the waiters are cancelled."""
    import random
    import threading as th

    from psyagents.simulate import Gate

    gate = Gate("x", 3)
    inside, peak, served, lock = [0], [0], [0], th.Lock()

    def enter():
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
            served[0] += 1

    def leave():
        with lock:
            inside[0] -= 1

    async def one(rng):
        await gate.aacquire()
        try:
            enter()
            try:
                await asyncio.sleep(rng.random() / 1000)
            finally:
                leave()
        finally:
            gate.release()

    async def crowd(seed):
        rng = random.Random(seed)
        tasks = [asyncio.create_task(one(rng)) for _ in range(300)]
        for task in tasks[::3]:
            await asyncio.sleep(rng.random() / 2000)
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def threads_work():
        for _ in range(200):
            gate.acquire()
            try:
                enter()
                time.sleep(0.0002)
                leave()
            finally:
                gate.release()

    workers = [th.Thread(target=asyncio.run, args=(crowd(s),)) for s in (1, 2)]
    workers += [th.Thread(target=threads_work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not any(w.is_alive() for w in workers)
    assert peak[0] == 3 and inside[0] == 0 and served[0] >= 400 + 2 * 100
    assert gate._free == 3 and not gate._parked  # every place came back
    with pytest.raises(ValueError, match="released more often"):
        gate.release()


def test_limits_are_validated(db):
    assert parse_limits(["openai=16", "openai:gpt-4o?temperature=0.5=8"]) == {"openai": 16, "openai:gpt-4o?temperature=0.5": 8}
    for bad in (["openai"], ["openai=0"], ["openai=many"], ["=3"]):
        with pytest.raises(PsyagentsError, match="limit"):
            parse_limits(bad)
    with pytest.raises(PsyagentsError, match="limits: 'openai' names neither"):
        psyagents.simulate("kevin-panic", counselor="scripted:counselor", client="scripted:client", limits={"openai": 4}, db=db)
    assert not db.exists()


class FlakyPlugin:
    """Counsellor replies fail for one persona (its name is in the counsellor's prompt), or for the first N calls."""

    def __init__(self, fail_for: str = "", fail_first: int = 0):
        self.fail_for, self.fail_first, self.calls = fail_for, fail_first, 0
        self.lock = threading.Lock()

    @hookimpl
    def register_chat_models(self, register):
        plugin = self

        class Flaky(ScriptedChatModel):
            def _generate(self, messages, stop=None, run_manager=None, **kwargs):
                with plugin.lock:
                    plugin.calls += 1
                    n = plugin.calls
                if n <= plugin.fail_first or (plugin.fail_for and plugin.fail_for in str(messages[0].content)):
                    raise RuntimeError("backend down")
                return super()._generate(messages, stop, run_manager, **kwargs)

        register("flaky", lambda name, options: Flaky(replies=COUNSELOR_SCRIPT), description="fails on purpose")


def test_failing_session_is_retried_then_failed_and_the_batch_goes_on(db, plugin, monkeypatch):
    sim = sys.modules["psyagents.simulate"]  # the module; psyagents.simulate is the function

    savers = []

    class Noted(sim.StoreSaver):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            savers.append(self)

    monkeypatch.setattr(sim, "StoreSaver", Noted)
    flaky = FlakyPlugin(fail_for="Kevin")
    plugin(flaky, "flaky")
    events = []
    result = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt", 1, concurrency=2, counselor="flaky:c",
                                client="scripted:client", db=db, max_turns=3, retries=2, retry_delay=0,
                                on_progress=lambda p: events.append((p.event, p.key)))
    assert (result.status, result.completed, result.failed) == ("failed", 1, 1)
    by_persona = {s["persona"]: s for s in result.sessions}
    assert by_persona["maya-exam-anxiety"]["status"] == "completed"
    kevin = by_persona["kevin-panic"]
    assert kevin["status"] == "failed" and "RuntimeError: backend down" in kevin["error"]
    store = TraceStore(db)
    try:
        row = store.session(kevin["id"])
        assert row["status"] == "failed" and "backend down" in row["error"]
        assert [e["detail"]["attempt"] for e in store.events(kevin["id"], "error")] == [1, 2, 3]
        assert [e["detail"]["reason"] for e in store.events(kevin["id"], "resume")] == ["retry", "retry"]
        assert store.run(result.run_id)["status"] == "failed"
    finally:
        store.close()
    assert sum(1 for e, k in events if e == "retry" and k == kevin["key"]) == 2
    # The batch's checkpointer forgot each session as it ended, the failed one included.
    [saver] = savers
    assert saver.skipped and not (saver._held or saver._pending or saver._written or saver._skipped_ids)

    flaky.fail_for = ""  # the backend is back: re-running the batch resumes the failed session only
    again = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt", 1, concurrency=2, counselor="flaky:c",
                               client="scripted:client", db=db, max_turns=3, retries=2, retry_delay=0)
    assert (again.run_id, again.status, again.completed, again.skipped, again.failed) == (result.run_id, "completed", 1, 1, 0)
    assert _rows(db, "select status, count(*) from sessions group by status") == [("completed", 2)]


def test_transient_failure_resumes_from_the_checkpoint(db, plugin, tmp_path):
    plugin(FlakyPlugin(fail_first=1), "flaky")
    result = psyagents.simulate("kevin-panic", "cbt", 1, counselor="flaky:c", client="scripted:client", db=db,
                                max_turns=3, retries=1, retry_delay=0)
    assert (result.completed, result.failed) == (1, 0)
    reference = psyagents.simulate("kevin-panic", "cbt", 1, counselor="scripted:counselor", client="scripted:client",
                                   db=tmp_path / "ref.db", max_turns=3)
    got = [t[1:] for t in next(iter(_transcripts(db).values()))]
    want = [t[1:] for t in next(iter(_transcripts(reference.db).values()))]
    assert got == want  # the client turn written before the failure was not duplicated or lost


def test_rerun_skips_completed_sessions_and_keys_are_deterministic(db):
    args = dict(counselor="scripted:counselor", client="scripted:client", db=db, max_turns=2, seed=7)
    first = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt,integrative", 2, **args)
    assert (first.completed, first.skipped, first.total) == (8, 0, 8)
    again = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt,integrative", 2, **args)
    assert again.run_id == first.run_id and (again.completed, again.skipped, again.turns) == (0, 8, 0)
    # a larger batch re-uses the sessions it shares with the first one
    more = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt,integrative", 3, **args)
    assert more.run_id != first.run_id and (more.completed, more.skipped) == (4, 8)
    keys = _rows(db, "select key, id, seed from sessions")
    assert len(keys) == 12 and len({k for k, _, _ in keys}) == 12
    for key, sid, seed in keys:
        assert sid == session_id_for(key) and seed == session_seed(7, key)
    assert len({seed for _, _, seed in keys}) == 12
    settings = {"counselor": "scripted:counselor", "client": "scripted:client", "graph": "default", "max_turns": 2}
    assert session_key("kevin-panic", "cbt", 7, 0, settings) in {k for k, _, _ in keys}
    assert session_seed(None, "x") is None


def test_bad_arguments_raise_errors_naming_them(db):
    for kwargs, name in [({"concurrency": 0}, "concurrency"), ({"sessions_per_persona": -1}, "sessions_per_persona"),
                         ({"retries": 1.5}, "retries"), ({"max_turns": 0}, "max_turns"), ({"seed": -2}, "seed")]:
        with pytest.raises(PsyagentsError, match=name):
            psyagents.simulate("kevin-panic", counselor="scripted:counselor", client="scripted:client", db=db, **kwargs)
    with pytest.raises(PsyagentsError, match="unknown persona 'nobody'"):
        psyagents.simulate("nobody", counselor="scripted:counselor", client="scripted:client", db=db)
    assert not db.exists()


@pytest.mark.parametrize("args, option", [
    (["--personas", "nobody"], "--personas"),
    (["--styles", "cbt,nostyle"], "--styles"),
    (["--concurrency", "0"], "--concurrency"),
    (["--sessions-per-persona", "x"], "--sessions-per-persona"),
    (["--limit", "scripted"], "--limit"),
    (["--counselor", "nocolon"], "--counselor"),
    (["--client", "nosuch:x"], "--client"),
    (["--graph", "nograph"], "--graph"),
])
def test_cli_bad_arguments_give_one_line_naming_the_option(args, option, db, capsys):
    from psyagents.cli import main  # the real entry point, in this process (a subprocess each costs seconds)

    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--counselor", "scripted:counselor", "--client", "scripted:client", "--db", str(db), *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and option in lines[0], err
    assert not db.exists()


def _wait_for(db: Path, sql: str, minimum: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if db.exists() and _rows(db, sql)[0][0] >= minimum:
                return
        except sqlite3.OperationalError:
            pass  # tables not created yet
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {sql} >= {minimum}")


BATCH = ["--personas", "kevin-panic,maya-exam-anxiety,liam-anger", "--styles", "cbt,integrative",
         "--sessions-per-persona", "1", "--concurrency", "2", "--max-turns", "4", "--seed", "3",
         "--counselor", "slow:counselor?latency=0.08", "--client", "slow:client?latency=0.08"]


def _reference(tmp_path: Path, plugin) -> dict:
    plugin(SlowPlugin(), "slow-test")
    ref = psyagents.simulate("kevin-panic,maya-exam-anxiety,liam-anger", "cbt,integrative", 1, concurrency=6,
                             counselor="slow:counselor?latency=0", client="slow:client?latency=0",
                             db=tmp_path / "ref.db", max_turns=4, seed=3)
    assert ref.completed == 6
    # the latency option is part of the model string, hence of the keys: compare by persona/style/index
    return {k.rsplit("/", 1)[0]: v for k, v in _transcripts(tmp_path / "ref.db").items()}


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_kill_9_finishes_the_batch_without_losing_or_duplicating(tmp_path, cli_script, plugin, workers):
    db = tmp_path / "batch.db"
    cmd = [sys.executable, str(cli_script), "simulate", *BATCH, "--db", str(db), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        # kill mid-batch: some sessions finished, others part-way
        _wait_for(db, "select count(*) from sessions where status = 'completed'", 1, proc)
        _wait_for(db, "select count(*) from turns", 20, proc)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    if workers > 1:
        time.sleep(2)  # orphaned workers notice within 0.3 s, cancel their batch and mark their sessions
    before = _rows(db, "select session_id, idx, speaker, text from turns")
    statuses = dict(_rows(db, "select status, count(*) from sessions group by status"))
    assert statuses.get("completed", 0) < 6, statuses  # killed mid-batch
    # one process: started sessions stay marked running; workers mark theirs interrupted when their parent dies
    assert set(statuses) <= ({"completed", "running"} if workers == 1 else {"completed", "interrupted"}), statuses

    proc2 = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=_env(), timeout=180)
    assert proc2.returncode == 0, proc2.stderr
    result = json.loads(proc2.stdout)
    assert result["completed"] + result["skipped"] == 6 and result["failed"] == 0
    assert result["skipped"] == statuses.get("completed", 0)

    after = set(_rows(db, "select session_id, idx, speaker, text from turns"))
    assert set(before) <= after  # no completed turn lost or changed
    keys = _rows(db, "select key from sessions")
    assert len(keys) == 6 == len(set(keys))
    assert _rows(db, "select count(*) from sessions where status != 'completed'") == [(0,)]
    for sid, n, top in _rows(db, "select session_id, count(*), max(idx) from turns group by session_id"):
        assert n == top + 1  # contiguous turns, none duplicated
    got = {k.rsplit("/", 1)[0]: v for k, v in _transcripts(db).items()}
    assert got == _reference(tmp_path, plugin)  # equal to an uninterrupted run's transcripts


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_marks_sessions_and_run_interrupted_and_rerun_resumes(tmp_path, cli_script, plugin, workers):
    db = tmp_path / "batch.db"
    cmd = [sys.executable, str(cli_script), "simulate", *BATCH, "--db", str(db), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_for(db, "select count(*) from turns", 6, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    statuses = dict(_rows(db, "select status, count(*) from sessions group by status"))
    assert "running" not in statuses and statuses.get("interrupted", 0) >= 1, statuses
    assert _rows(db, "select status from runs") == [("interrupted",)]
    before = set(_rows(db, "select session_id, idx, speaker, text from turns"))

    proc2 = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=180)
    assert proc2.returncode == 0, proc2.stderr
    assert "6 sessions" in proc2.stdout
    assert _rows(db, "select status from runs") == [("completed",)]
    assert before <= set(_rows(db, "select session_id, idx, speaker, text from turns"))
    got = {k.rsplit("/", 1)[0]: v for k, v in _transcripts(db).items()}
    assert got == _reference(tmp_path, plugin)


def test_a_session_running_in_another_process_is_not_resumed_twice(tmp_path, cli_script, slow):
    """Two processes on one database: the second neither resumes nor marks the first one's live sessions."""
    from psyagents.errors import SessionBusy

    db = tmp_path / "batch.db"
    models = dict(counselor="slow:counselor?latency=0.25", client="slow:client?latency=0.25")
    batch = ["--personas", "kevin-panic,maya-exam-anxiety", "--styles", "cbt,integrative", "--sessions-per-persona", "1",
             "--concurrency", "2", "--max-turns", "4", "--seed", "3", "--counselor", models["counselor"], "--client", models["client"]]
    proc = subprocess.Popen([sys.executable, str(cli_script), "simulate", *batch, "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_for(db, "select count(*) from sessions where status = 'running'", 2, proc)
        # The same batch started again alongside: it leaves the other process's running sessions alone.
        ours = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt,integrative", 1, concurrency=2, db=db, max_turns=4,
                                  seed=3, retries=0, **models)
        busy = [s for s in ours.sessions if s["error"] and "running in another process" in s["error"]]
        assert busy and ours.failed == len(busy), ours.sessions
        [(sid, owner)] = _rows(db, "select id, owner from sessions where status = 'running' limit 1") or [(None, None)]
        if sid is not None:  # the other process is still at it
            assert owner.split(":")[1] == str(proc.pid)
            with pytest.raises(SessionBusy, match=rf"session '{sid}' is running in another process \(pid {proc.pid}\)"):
                psyagents.resume_session(sid, db)
        proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    for row in busy:  # this process wrote nothing into the sessions it found busy
        assert not _rows(db, "select 1 from events where session_id = ? and kind = 'error'", [row["id"]])
    again = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt,integrative", 1, db=db, max_turns=4, seed=3, **models)
    assert again.failed == 0
    assert _rows(db, "select count(*) from sessions where status != 'completed'") == [(0,)]
    for _sid, n, top in _rows(db, "select session_id, count(*), max(idx) from turns group by session_id"):
        assert n == top + 1 == 8  # contiguous turns, none written twice


def test_run_resume_refuses_a_session_another_process_runs(tmp_path, cli_script):
    db = tmp_path / "one.db"
    proc = subprocess.Popen([sys.executable, str(cli_script), "simulate", "--personas", "kevin-panic", "--styles", "cbt",
                             "--counselor", "slow:counselor?latency=1", "--client", "slow:client?latency=1",
                             "--max-turns", "8", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_for(db, "select count(*) from turns", 1, proc)
        [(sid,)] = _rows(db, "select id from sessions")
        cli = run_cli("run", "--resume", sid, "--db", str(db))
        assert cli.returncode == 2 and "is running in another process" in cli.stderr and len(cli.stderr.splitlines()) == 1, cli.stderr
        assert proc.poll() is None, "the session ended before the check: make it slower"
    finally:
        proc.kill()
        proc.wait()
    # kill -9: the session stays 'running' but its process is gone, so it can be resumed now
    from psyagents.session import check_not_running_elsewhere
    from psyagents.tracing import TraceStore

    assert _rows(db, "select status from sessions") == [("running",)]
    store = TraceStore(db)
    try:
        check_not_running_elsewhere(store.session(sid))
    finally:
        store.close()


CLAIM_SCRIPT = """
import sys, time
from psyagents.errors import SessionBusy
from psyagents.tracing import TraceStore
store = TraceStore(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # start together
try:
    store.set_status(sys.argv[2], "running")
    print("claimed", flush=True)
except SessionBusy:
    print("busy", flush=True)
time.sleep(1.5)  # stay alive: the claim stands while this process runs
"""


def test_two_processes_resuming_one_session_at_once_cannot_both_claim_it(tmp_path):
    """A session left 'running' by a dead process, claimed by four processes at the same instant: one wins."""
    from psyagents.tracing import TraceStore

    db = tmp_path / "t.db"
    store = TraceStore(db)
    store.start_session("s", config={}, persona={"id": "p"}, versions={})
    store.db["sessions"].update("s", {"owner": "nowhere:1:1"})  # its process is gone
    store.close()
    script = tmp_path / "claim.py"
    script.write_text(CLAIM_SCRIPT)
    for _ in range(2):
        at = time.time() + 2.5  # after the interpreters have started
        procs = [subprocess.Popen([sys.executable, str(script), str(db), "s", str(at)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
                 for _ in range(4)]
        outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
        assert outs == ["busy", "busy", "busy", "claimed"], outs
        [(owner,)] = _rows(db, "select owner from sessions")
        assert int(owner.split(":")[1]) in [p.pid for p in procs]


def test_owner_tokens_tell_live_processes_from_gone_ones():
    import socket

    from psyagents.tracing import owner_alive, process_token

    me = process_token()
    assert me.startswith(f"{socket.gethostname()}:{os.getpid()}:") and not owner_alive(me)  # this process may resume
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        token = subprocess.run([sys.executable, "-c", "from psyagents.tracing import process_token; print(process_token())"],
                               capture_output=True, text=True, cwd=ROOT).stdout.strip()
        assert token and not owner_alive(token)  # that process has ended
        host, _, start = me.rsplit(":", 2)
        live = f"{host}:{child.pid}:" + open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[19]
        assert owner_alive(live)
        assert not owner_alive(f"{host}:{child.pid}:1")  # same number, another start: a reused pid
        assert not owner_alive(f"elsewhere:{child.pid}:{live.rsplit(':', 1)[1]}")  # another machine: cannot tell
        assert not owner_alive(None) and not owner_alive("garbage")
    finally:
        child.kill()
        child.wait()


def test_runs_list_and_show(db):
    from psyagents.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    result = psyagents.simulate("kevin-panic,maya-exam-anxiety", "cbt", 1, counselor="scripted:counselor",
                                client="scripted:client", db=db, max_turns=2, seed=5)
    runner = CliRunner()
    listed = runner.invoke(cli, ["runs", "list", "--db", str(db), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["id"], r["kind"], r["status"], r["n_sessions"]) for r in rows] == [(result.run_id, "simulate", "completed", 2)]
    shown = runner.invoke(cli, ["runs", "show", result.run_id, "--db", str(db), "--json"])
    data = json.loads(shown.output)
    assert data["status_counts"] == {"completed": 2}
    assert data["run"]["config"]["seed"] == 5 and data["run"]["config"]["counselor"] == "scripted:counselor"
    assert data["run"]["config"]["personas"] == ["kevin-panic", "maya-exam-anxiety"]
    assert sorted(s["persona_id"] for s in data["sessions"]) == ["kevin-panic", "maya-exam-anxiety"]
    assert all(s["n_turns"] == 4 for s in data["sessions"])
    text = runner.invoke(cli, ["runs", "show", result.run_id, "--db", str(db)])
    assert text.exit_code == 0 and result.run_id in text.output and "completed 2" in text.output
    table = runner.invoke(cli, ["runs", "list", "--db", str(db)])
    assert table.exit_code == 0 and "simulate" in table.output
    missing = run_cli("runs", "show", "sim-nope", "--db", str(db))
    assert missing.returncode == 2 and "unknown run 'sim-nope'" in missing.stderr


def test_a_resumed_run_records_what_it_changed(db):
    from psyagents.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    args = dict(counselor="scripted:counselor", client="scripted:client", db=db, max_turns=2, seed=5)
    first = psyagents.simulate("kevin-panic", "cbt", 2, concurrency=2, **args)
    again = psyagents.simulate("kevin-panic", "cbt", 2, concurrency=3, **args)
    psyagents.simulate("kevin-panic", "cbt", 2, concurrency=2, **args)
    assert again.run_id == first.run_id and again.skipped == 2
    shown = CliRunner().invoke(cli, ["runs", "show", first.run_id, "--db", str(db), "--json"])
    run = json.loads(shown.output)["run"]
    assert run["config"]["concurrency"] == 2  # the first start's configuration stays the run's own
    assert [(r["config"], r["versions"]) for r in run["resumes"]] == [({"concurrency": [2, 3]}, {}), ({}, {})]
    text = CliRunner().invoke(cli, ["runs", "show", first.run_id, "--db", str(db)]).output
    assert "concurrency 2 -> 3" in text and "same configuration" in text


def test_async_api_runs_inside_an_event_loop(db):
    import asyncio

    async def main():
        with pytest.raises(PsyagentsError, match="asimulate"):
            psyagents.simulate("kevin-panic", counselor="scripted:counselor", client="scripted:client", db=db)
        return await psyagents.asimulate("kevin-panic", "cbt", 2, counselor="scripted:counselor", client="scripted:client",
                                         db=db, max_turns=2)

    result = asyncio.run(main())
    assert (result.completed, result.turns) == (2, 8)
    assert [s["status"] for s in result.sessions] == ["completed", "completed"]
    for turns in _transcripts(db).values():
        assert [text for _, speaker, text in turns if speaker == "counselor"] == COUNSELOR_SCRIPT[:2]


def test_a_batch_session_resumes_with_the_sync_api(db, plugin, tmp_path):
    flaky = FlakyPlugin(fail_for="Kevin")
    plugin(flaky, "flaky")
    result = psyagents.simulate("kevin-panic", "cbt", 1, counselor="flaky:c", client="scripted:client", db=db,
                                max_turns=3, retries=0)
    sid = result.sessions[0]["id"]
    assert result.sessions[0]["status"] == "failed"
    flaky.fail_for = ""
    session = psyagents.resume_session(sid, db)  # the batch's checkpoints are LangGraph SqliteSaver checkpoints
    assert session.status == "completed" and session.end_reason == "turn_cap"
    reference = psyagents.run_session("kevin-panic", "cbt", "scripted:counselor", "scripted:client", max_turns=3,
                                      db=tmp_path / "ref.db")
    assert [(t.speaker, t.text) for t in session.turns] == [(t.speaker, t.text) for t in reference.turns]


def test_a_setup_failure_surfaces_its_own_error(tmp_path, monkeypatch):
    """If the batch cannot set up (here: the checkpointer), that error reaches the caller, not a blank
    'run not found' from closing a run that was never recorded."""
    sim = sys.modules["psyagents.simulate"]  # the package's `simulate` attribute is the function

    def broken(store):
        raise PsyagentsError("checkpoint table cannot be created")

    monkeypatch.setattr(sim, "StoreSaver", broken)
    with pytest.raises(PsyagentsError, match="checkpoint table cannot be created"):
        psyagents.simulate("maya-exam-anxiety", "cbt", counselor="scripted:counselor", client="scripted:client",
                           db=tmp_path / "t.db", max_turns=2)
