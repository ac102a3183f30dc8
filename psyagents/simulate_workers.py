"""``simulate(workers=N)``: one batch split between N processes.

A batch on a fast backend is bound by the framework's CPU time per turn (graph steps,
safety screens, trace and checkpoint writes), and one Python process uses one core. Here
the parent process validates the batch, forks N workers and waits until each has built its
models (a worker that cannot is reported and the database is never touched), records the run,
then lets them go. Worker i runs sessions i, i+N, i+2N... of the batch with ``asimulate`` on
its own event loop and its own connection to the trace store (SQLite in WAL mode takes the
workers' short write transactions in turn), and reports its progress through a queue.
``concurrency`` and every ``limits`` entry are divided between the workers.

Session keys are the same as in one process, so a batch started with one number of workers
resumes with another. Ctrl-C is handled by the parent alone (workers ignore SIGINT): it tells the workers to stop,
each cancels its batch, which marks its unfinished sessions interrupted, and the parent closes
the run. A worker whose parent dies (kill -9) cancels its batch the same way.

Workers are forked where the platform allows and the parent runs no other thread, so plugins
registered in the parent process (``register_plugin``) are theirs too; elsewhere they are
spawned and load plugins from entry points only.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from multiprocessing.connection import wait
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .errors import PsyagentsError
from .session import package_versions
from .simulate import RUN_KIND, Progress, SimulateResult, _mark_interrupted, _plan, _summary, build_models, run_config, statuses_by_key
from .tracing import TraceStore

COUNTS = ("completed", "skipped", "failed", "running", "retries", "turns")
SETUP_TIMEOUT_S = 600  # building a local model can take a while


def _split(n: int, parts: int, i: int) -> int:
    return n // parts + (1 if i < n % parts else 0)


def _share_limits(limits: dict[str, int], workers: int, i: int) -> dict[str, int]:
    return {k: _split(n, workers, i) for k, n in limits.items()}


def _parent_gone(parent_pid: int) -> bool:
    return os.getppid() != parent_pid


class _Outbox:
    """A worker's reports to the parent, on a pipe of its own.

    Not one ``multiprocessing.Queue`` for all workers: a worker killed while its queue's
    feeder thread held the shared write lock would leave the others unable to report or exit.
    A report to a parent that is gone is dropped (the worker is being cancelled anyway).
    """

    def __init__(self, conn: Any):
        self.conn = conn

    def put(self, msg: tuple) -> None:
        try:
            self.conn.send(msg)
        except (BrokenPipeError, ConnectionError, OSError):
            pass


class _Inbox:
    """The parent's side: every worker's pipe, read as one stream of reports."""

    def __init__(self, readers: list):
        self.readers = {r: i for i, r in enumerate(readers)}
        self.pending: list[tuple] = []

    def add(self, reader: Any, index: int) -> None:
        self.readers[reader] = index

    def get(self, timeout: float) -> tuple:
        if not self.pending:
            for r in wait(list(self.readers), timeout):
                self._read(r)
        if not self.pending:
            raise queue_module.Empty
        return self.pending.pop(0)

    def drain(self, index: int) -> list[tuple]:
        """What worker ``index`` sent before it ended (its pipe is read to the end)."""
        for r, i in list(self.readers.items()):
            if i == index:
                while r in self.readers and r.poll(0):
                    self._read(r)
        out, self.pending = self.pending, []
        return out

    def _read(self, r: Any) -> None:
        try:
            self.pending.append(r.recv())
        except (EOFError, OSError):  # the worker is gone and everything it sent has been read
            del self.readers[r]
            r.close()


def _worker(index: int, count: int, kwargs: dict, conn: Any, go: Any, stop: Any, parent_pid: int) -> None:
    """One worker process. ``go`` and ``stop`` are shared flags (``RawValue``) it polls.

    Not ``multiprocessing.Event``: ``Event.set()`` waits for every process blocked in
    ``wait()`` to wake, so one worker that died (killed, out of memory) would hang the parent.
    """
    events = _Outbox(conn)
    import asyncio

    from .simulate import asimulate  # after the fork or spawn: a spawned worker imports afresh

    # Ctrl-C is the parent's to handle: it raises ``stop``, and the worker cancels its batch,
    # which marks its unfinished sessions interrupted (one signal, never a second one mid-cleanup).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        models = build_models([kwargs["counselor"], kwargs["client"]], kwargs["limits"] or {})
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        events.put(("setup_error", index, type(exc).__name__, str(exc), isinstance(exc, PsyagentsError)))
        return
    events.put(("ready", index))
    while not go.value:
        if stop.value or _parent_gone(parent_pid):
            return
        time.sleep(0.02)

    def sink(p: Progress) -> None:
        events.put(("progress", index, p.event, p.session_id, p.key, p.error, {k: getattr(p, k) for k in COUNTS}))

    async def main() -> None:
        task, loop = asyncio.current_task(), asyncio.get_running_loop()

        def watch() -> None:  # the parent's stop, or the parent gone (kill -9): cancel the batch
            while not stop.value and not _parent_gone(parent_pid):
                time.sleep(0.2)
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop has already closed
                pass

        threading.Thread(target=watch, daemon=True).start()
        await asimulate(**kwargs, on_progress=sink, _share=(index, count), _models=models)

    try:
        asyncio.run(main())
        events.put(("end", index, None))
    except (KeyboardInterrupt, asyncio.CancelledError):
        events.put(("end", index, "interrupted"))
    except BaseException as exc:  # noqa: BLE001 - an error of the batch itself, not of a session
        events.put(("end", index, f"{type(exc).__name__}: {exc}"))


def _context() -> multiprocessing.context.BaseContext:
    # Fork only on Linux: on macOS forking a process that has loaded system frameworks can crash.
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def simulate_in_processes(kwargs: dict, workers: int) -> SimulateResult:
    """``simulate(**kwargs, workers=workers)``; see the module docstring."""
    on_progress = kwargs.pop("on_progress")
    plan = _plan(
        kwargs["personas"], kwargs["styles"], kwargs["sessions_per_persona"], concurrency=kwargs["concurrency"],
        counselor=kwargs["counselor"], client=kwargs["client"], seed=kwargs["seed"], max_turns=kwargs["max_turns"],
        graph=kwargs["graph"], retries=kwargs["retries"], limits=kwargs["limits"], retry_delay=kwargs["retry_delay"],
    )
    workers = min(workers, len(plan.jobs))
    if workers > plan.concurrency:
        raise PsyagentsError(f"workers ({workers}) cannot exceed concurrency ({plan.concurrency}): each worker runs at least one session at a time")
    for key, n in plan.limits.items():
        if n < workers:
            raise PsyagentsError(f"limits: the limit for {key!r} ({n}) is divided between the workers and must be at least workers ({workers})")
    db = Path(kwargs["db"])
    if db.parent and not db.parent.exists():
        raise PsyagentsError(f"database '{db}': folder '{db.parent}' does not exist")
    # The workers get the validated lists (an iterator given by the caller is consumed by now).
    kwargs = {**kwargs, "personas": list(plan.persona_refs), "styles": list(plan.identity["styles"])}

    ctx = _context()
    go, stop = ctx.RawValue("b", 0), ctx.RawValue("b", 0)
    procs, readers = [], []
    events = _Inbox(readers)
    try:
        for i in range(workers):
            mine = {**kwargs, "concurrency": _split(plan.concurrency, workers, i), "limits": _share_limits(plan.limits, workers, i)}
            reader, writer = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_worker, args=(i, workers, mine, writer, go, stop, os.getpid()), name=f"psyagents-simulate-{i}")
            procs.append(p)
            p.start()
            # The worker now holds the only write end (closed here before the next fork, so no
            # other worker inherits it): its death shows as the end of its pipe.
            writer.close()
            events.add(reader, i)
        _await_ready(procs, events)
    except BaseException:
        stop.value = 1
        for p in procs:
            if p.pid is not None:
                p.terminate()
        for p in procs:
            if p.pid is not None:
                p.join(5)
        raise

    store = TraceStore(db)
    progress = Progress(run_id=plan.run_id, total=len(plan.jobs))
    per_worker: dict[int, dict[str, int]] = {}
    errors: dict[str, str] = {}
    batch_errors: list[str] = []
    status = "interrupted"
    try:
        store.start_run(plan.run_id, RUN_KIND, run_config(
            plan.identity, plan.persona_refs, plan.concurrency, plan.retries, plan.limits, store.path, workers), package_versions())
        go.value = 1
        if on_progress:
            on_progress(progress)
        try:
            _collect(procs, events, progress, per_worker, errors, batch_errors, on_progress)
        except KeyboardInterrupt:
            stop.value = 1  # each worker cancels its batch and marks its unfinished sessions
            _collect(procs, events, progress, per_worker, errors, batch_errors, None, deadline=time.monotonic() + 60)
            raise
        interrupted = [e for e in batch_errors if e == "interrupted"]
        if interrupted:
            raise KeyboardInterrupt
        status = "failed" if progress.failed or batch_errors else "completed"
        if batch_errors:
            raise PsyagentsError("simulate: " + "; ".join(batch_errors))
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt):
            status = "failed"
        stop.value = 1  # whatever went wrong here (an on_progress callback that raised...), the workers stop too
        raise
    finally:
        # Keep reading the workers' reports while they wind down (a worker blocks on a full pipe
        # otherwise), stop any that will not, and mark what a dead worker left running.
        _collect(procs, events, progress, per_worker, errors, batch_errors, None, deadline=time.monotonic() + 60)
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(5)
        try:
            _mark_interrupted(store, [j.session_id for j in plan.jobs])
            store.finish_run(plan.run_id, status, _summary(progress))
            rows = statuses_by_key(store, [j.key for j in plan.jobs])
        finally:
            store.close()
    progress.event = "end"
    if on_progress:
        on_progress(progress)
    sessions = [
        {"key": j.key, "id": j.session_id, "persona": j.persona.id, "style": j.style.name,
         "status": rows.get(j.key), "error": errors.get(j.key)}
        for j in plan.jobs
    ]
    return SimulateResult(
        run_id=plan.run_id, db=db, status=status, total=len(plan.jobs), completed=progress.completed,
        skipped=progress.skipped, failed=progress.failed, turns=progress.turns, elapsed=progress.elapsed, sessions=sessions,
    )


def _await_ready(procs: list, events: Any) -> None:
    ready: set[int] = set()
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while len(ready) < len(procs):
        try:
            msg = events.get(timeout=0.2)
        except queue_module.Empty:
            dead = [p for i, p in enumerate(procs) if i not in ready and not p.is_alive()]
            if dead:
                raise PsyagentsError(f"simulate: worker {dead[0].name} exited during setup (exit code {dead[0].exitcode})")
            if time.monotonic() > deadline:
                raise PsyagentsError(f"simulate: workers not ready after {SETUP_TIMEOUT_S} s")
            continue
        if msg[0] == "setup_error":
            _, index, kind, text, is_user_error = msg
            raise PsyagentsError(text if is_user_error else f"worker {index}: {kind}: {text}")
        if msg[0] == "ready":
            ready.add(msg[1])


def _collect(procs, events, progress, per_worker, errors, batch_errors, on_progress, deadline: float | None = None) -> None:
    """Read the workers' reports until every worker has ended or died (or ``deadline`` passes)."""
    ended = {i for i, p in enumerate(procs) if getattr(p, "_psyagents_ended", False)}
    try:
        while len(ended) < len(procs) and (deadline is None or time.monotonic() < deadline):
            try:
                msg = events.get(timeout=0.2)
            except queue_module.Empty:
                for i, p in enumerate(procs):
                    if i not in ended and not p.is_alive():
                        for late in events.drain(i):  # its last reports
                            _apply(late, progress, per_worker, errors, batch_errors, ended, on_progress)
                        if i not in ended:
                            ended.add(i)
                            batch_errors.append(f"worker {p.name} exited with code {p.exitcode}")
                continue
            _apply(msg, progress, per_worker, errors, batch_errors, ended, on_progress)
    finally:
        for i in ended:
            procs[i]._psyagents_ended = True


def _apply(msg, progress, per_worker, errors, batch_errors, ended, on_progress) -> None:
    if msg[0] == "end":
        ended.add(msg[1])
        if msg[2]:
            batch_errors.append(msg[2])
        return
    if msg[0] != "progress":
        return
    _, index, event, session_id, key, error, counts = msg
    per_worker[index] = counts
    for name in COUNTS:
        setattr(progress, name, sum(c[name] for c in per_worker.values()))
    if event in ("start", "end"):
        return  # the parent reports the batch's own start and end
    progress.event, progress.session_id, progress.key, progress.error = event, session_id, key, error
    if event == "failed" and key:
        errors[key] = error
    if on_progress:
        on_progress(progress)
