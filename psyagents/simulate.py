"""Simulate many sessions at once: concurrent, resumable batches (``psyagents simulate``).

A batch is every persona x style x index up to ``sessions_per_persona``. Each
session has a key derived from persona, style, seed, index and the session
settings (models, graph, turn cap), stored in ``sessions.key``; its id and its
seed derive from the key. Re-running the same batch therefore finds its own
sessions: completed ones are skipped, unfinished ones (running after a crash,
interrupted by Ctrl-C, failed) continue from their last checkpoint.

Sessions run as asyncio tasks on the graphs' async API (``graph.astream``).
The built-in nodes are ``TwinNode``s (``psyagents.steps``): on the event loop
they await their models' ``ainvoke`` and hand only blocking work (checks and
styles that do not declare ``blocking = False``) to the loop's default
executor; plugin nodes that are plain functions run in that executor too. The
batch installs a thread pool large enough for ``concurrency`` sessions. All sessions share one ``TraceStore`` (one connection, every write
under its lock), and checkpoints go through LangGraph's ``SqliteSaver`` (as a ``TurnSaver``) on that
same connection and lock (``StoreSaver``), so SQLite never has to arbitrate
between writers. ``PSYAGENTS_SIMULATE_SAVER=aiosqlite`` uses LangGraph's
``AsyncSqliteSaver`` on a connection of its own instead (slower; see docs/simulate.md).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

from .checkpoints import TurnSaver
from .errors import PsyagentsError, SessionBusy, SessionExists
from .models import get_chat_model, parse_model_spec
from .registry import get_graph_spec, get_persona, get_style, personas as all_personas
from .session import DEFAULT_MODEL, aresume_session, astart_session, new_session_config, package_versions
from .tracing import TraceStore, owner_alive

RUN_KIND = "simulate"
DONE = ("completed", "paused")  # a paused session waits for a human, not for the batch


# per-backend limits ------------------------------------------------------------
def parse_limits(limits: Mapping[str, int] | Iterable[str] | None) -> dict[str, int]:
    """``{"openai": 16}`` or ``["openai=16", "openai:gpt-4o=8"]`` -> ``{key: n}``; keys are providers or model strings."""
    if not limits:
        return {}
    items: list[tuple[str, Any]] = []
    if isinstance(limits, Mapping):
        items = list(limits.items())
    else:
        for item in limits:
            key, sep, n = str(item).rpartition("=")  # a model string's options may hold '=' too
            if not sep or not key.strip():
                raise PsyagentsError(f"limits: bad limit {item!r}: expected SPEC=N, e.g. openai=16 or openai:gpt-4o-mini=8")
            items.append((key.strip(), n.strip()))
    out: dict[str, int] = {}
    for key, n in items:
        try:
            value = int(n)
        except (TypeError, ValueError):
            value = 0
        if value < 1 or (isinstance(n, float) and n != value):
            raise PsyagentsError(f"limits: limit for {key!r} must be a whole number of at least 1, not {n!r}")
        out[str(key)] = value
    return out


class Gate:
    """At most ``limit`` requests in flight for one backend, from threads or from coroutines.

    A coroutine that must wait parks a future (never blocking its event loop, never polling);
    ``release`` hands the freed place straight to the first parked coroutine, on its own loop,
    else to a waiting thread. Waiters are served first come, first served within each kind,
    coroutines before threads.
    """

    def __init__(self, name: str, limit: int):
        self.name, self.limit = name, limit
        self._cond = threading.Condition(threading.Lock())
        self._free = limit
        self._parked: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = collections.deque()

    def acquire(self) -> None:
        with self._cond:
            while self._free == 0:
                self._cond.wait()
            self._free -= 1

    async def aacquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._free and not self._parked:
                self._free -= 1
                return
            future = loop.create_future()
            self._parked.append((loop, future))
        try:
            await future
        except BaseException:  # cancelled while parked, or just after the place was handed over
            with self._cond:
                try:
                    self._parked.remove((loop, future))
                    granted = False
                except ValueError:
                    granted = True
            if granted:
                self.release()
            raise

    def release(self) -> None:
        with self._cond:
            if not self._parked:
                if self._free >= self.limit:
                    raise ValueError(f"gate '{self.name}' released more often than acquired")
                self._free += 1
                self._cond.notify()
                return
            loop, future = self._parked.popleft()  # the place passes to it without being freed
        try:
            loop.call_soon_threadsafe(self._grant, future)
        except RuntimeError:  # its loop has closed: nobody is waiting there any more
            self.release()

    @staticmethod
    def _grant(future: asyncio.Future) -> None:
        # Cancelled since the hand-over: its task's cleanup in ``aacquire`` (which finds it no
        # longer parked) passes the place on, whether it runs before or after this.
        if not future.done():
            future.set_result(None)


class LimitedChatModel(BaseChatModel):
    """A chat model whose calls pass through the gates of its backend's limits (``--limit``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    gates: list[Any]

    @property
    def _llm_type(self) -> str:
        return self.inner._llm_type

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {**self.inner._identifying_params, "limits": {g.name: g.limit for g in self.gates}}

    @contextmanager
    def _held(self) -> Iterator[None]:
        taken = []
        try:
            for gate in self.gates:  # always in the same order: no deadlock between two gates
                gate.acquire()
                taken.append(gate)
            yield
        finally:
            for gate in reversed(taken):
                gate.release()

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        with self._held():
            message = self.inner.invoke(messages, stop=stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        taken = []
        try:
            for gate in self.gates:
                await gate.aacquire()
                taken.append(gate)
            message = await self.inner.ainvoke(messages, stop=stop, **kwargs)
        finally:
            for gate in reversed(taken):
                gate.release()
        return ChatResult(generations=[ChatGeneration(message=message)])


def build_models(specs: Iterable[str], limits: Mapping[str, int]) -> dict[str, BaseChatModel]:
    """One model per distinct model string, shared by every session; wrapped when a limit applies.

    A limit keyed by a provider (``openai``) is shared by all that provider's model strings;
    one keyed by a full model string applies to that string only; a call passes both.
    """
    specs = list(dict.fromkeys(specs))
    parsed = {s: parse_model_spec(s) for s in specs}
    for key in limits:
        if key not in specs and key not in {p.provider for p in parsed.values()}:
            raise PsyagentsError(
                f"limits: {key!r} names neither a provider nor a model string of this batch ({', '.join(specs)})"
            )
    gates = {key: Gate(key, n) for key, n in limits.items()}
    models: dict[str, BaseChatModel] = {}
    for spec in specs:
        model = get_chat_model(spec)
        mine = [gates[k] for k in (parsed[spec].provider, spec) if k in gates]
        models[spec] = LimitedChatModel(inner=model, gates=mine) if mine else model
    return models


# checkpoints ---------------------------------------------------------------------------
class StoreSaver(TurnSaver):
    """The sessions' ``TurnSaver`` (LangGraph's ``SqliteSaver``) on the trace store's own connection and lock, for the async API.

    One connection for traces and checkpoints means SQLite never arbitrates between writers:
    no busy waits, and no deadlock between an async connection holding SQLite's write lock
    and an event loop blocked on it. The async methods run the sync ones in place: a write
    takes well under a millisecond, and the only other holders of the lock are node threads
    writing a trace row, which never wait for the event loop; a hop to a thread per
    checkpoint would cost more than the write. Each write commits on its own.
    """

    def __init__(self, store: TraceStore):
        super().__init__(store.conn)
        self.lock = store._lock  # an RLock: the store's writes and the checkpoints take turns
        with self.lock:
            self.setup()

    async def aget_tuple(self, config):
        return self.get_tuple(config)

    async def alist(self, config, *, filter=None, before=None, limit=None):
        for item in list(self.list(config, filter=filter, before=before, limit=limit)):
            yield item

    async def aput(self, config, checkpoint, metadata, new_versions):
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config, writes, task_id, task_path=""):
        return self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id):
        return self.delete_thread(thread_id)


# keys, ids and seeds -------------------------------------------------------------
def _digest(text: str, n: int = 12) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def session_key(persona: str, style: str, seed: int | None, index: int, settings: Mapping[str, Any]) -> str:
    """The batch key of one session: persona x style x seed x index, plus a digest of the session settings."""
    family = _digest(json.dumps(dict(settings), sort_keys=True, default=str), 8)
    return f"{persona}/{style}/seed-{'none' if seed is None else seed}/{index}/{family}"


def session_id_for(key: str) -> str:
    return _digest("session:" + key)


def session_seed(seed: int | None, key: str) -> int | None:
    """Each session's own seed, from the batch seed and its key (None keeps sampling unseeded)."""
    return None if seed is None else int(_digest(f"{seed}:{key}", 8), 16) % (2**31)


def run_id_for(config: Mapping[str, Any]) -> str:
    """A run's id from what determines its sessions: the same command gets the same id."""
    return "sim-" + _digest(json.dumps(dict(config), sort_keys=True, default=str), 10)


# progress and results ------------------------------------------------------------------
@dataclass
class Progress:
    """Counts so far, passed to ``on_progress`` after each event (``event`` says which)."""

    run_id: str
    total: int
    completed: int = 0  # finished in this call
    skipped: int = 0  # already completed before this call
    failed: int = 0
    running: int = 0
    retries: int = 0
    turns: int = 0  # turns written in this call
    started_at: float = field(default_factory=time.perf_counter)
    event: str = "start"  # start | session_start | turn | completed | retry | failed | skipped | end
    session_id: str | None = None
    key: str | None = None
    error: str | None = None

    @property
    def done(self) -> int:
        return self.completed + self.skipped + self.failed

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started_at

    @property
    def turns_per_second(self) -> float:
        return self.turns / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class SimulateResult:
    """What a batch did; ``sessions`` lists every session of the batch (key, id, status, error)."""

    run_id: str
    db: Path
    status: str  # completed | failed (some sessions failed) | interrupted
    total: int
    completed: int
    skipped: int
    failed: int
    turns: int
    elapsed: float
    sessions: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    key: str
    session_id: str
    persona: Any
    style: Any
    seed: int | None


def _names(value: str | Iterable[str], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    items = [v for v in items if v]
    if not items:
        raise PsyagentsError(f"{what}: give at least one")
    return list(dict.fromkeys(items))


def _whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PsyagentsError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return value


@dataclass(frozen=True)
class _Plan:
    """A validated batch: its sessions (jobs), its run id and what the run records."""

    concurrency: int
    retries: int
    max_turns: int
    seed: int | None
    persona_refs: list[str]
    spec: Any
    limits: dict[str, int]
    identity: dict[str, Any]
    run_id: str
    jobs: list[_Job]


def _plan(personas, styles, sessions_per_persona, *, concurrency, counselor, client, seed, max_turns, graph, retries,
          limits, retry_delay) -> _Plan:
    """Validate a batch's arguments (errors name the argument) and list its sessions; touches no database."""
    concurrency = _whole("concurrency", concurrency, 1)
    sessions_per_persona = _whole("sessions_per_persona", sessions_per_persona, 1)
    retries = _whole("retries", retries, 0)
    max_turns = _whole("max_turns", max_turns, 1)
    if seed is not None:
        seed = _whole("seed", seed, 0)
    if not isinstance(retry_delay, (int, float)) or retry_delay < 0:
        raise PsyagentsError(f"retry_delay must be a number of seconds, at least 0, not {retry_delay!r}")
    available = all_personas()  # read once: get_persona would gather every persona file per call
    persona_refs = list(available) if personas == "all" else _names(personas, "personas")
    persona_objs = [available[p] if p in available else get_persona(p) for p in persona_refs]
    style_objs = [get_style(s) for s in _names(styles, "styles")]
    spec = get_graph_spec(graph)
    limit_map = parse_limits(limits)
    for model in (counselor, client):
        parse_model_spec(model)
    settings = {"counselor": counselor, "client": client, "graph": str(graph), "max_turns": max_turns}
    identity = {
        "kind": RUN_KIND, "personas": [p.id for p in persona_objs], "styles": [s.name for s in style_objs],
        "sessions_per_persona": sessions_per_persona, "seed": seed, **settings,
    }
    jobs = []
    for persona in persona_objs:
        for style in style_objs:
            for index in range(sessions_per_persona):
                key = session_key(persona.id, style.name, seed, index, settings)
                jobs.append(_Job(key, session_id_for(key), persona, style, session_seed(seed, key)))
    return _Plan(concurrency, retries, max_turns, seed, persona_refs, spec, limit_map, identity, run_id_for(identity), jobs)


# the batch -------------------------------------------------------------------------------
async def asimulate(
    personas: str | Iterable[str] = "all",
    styles: str | Iterable[str] = "integrative",
    sessions_per_persona: int = 1,
    *,
    concurrency: int = 8,
    counselor: str = DEFAULT_MODEL,
    client: str = DEFAULT_MODEL,
    db: str | Path = "traces.db",
    seed: int | None = 0,
    max_turns: int = 8,
    graph: str = "default",
    retries: int = 2,
    limits: Mapping[str, int] | Iterable[str] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    retry_delay: float = 0.5,
    _share: tuple[int, int] | None = None,
    _models: Mapping[str, BaseChatModel] | None = None,
) -> SimulateResult:
    """Run a batch of sessions concurrently (async); see ``simulate``.

    ``_share=(i, n)`` (a worker process of ``simulate(workers=n)``) runs only every n-th
    session from the i-th, with models built beforehand (``_models``), and leaves the run's
    record to the parent process.
    """
    # Everything is validated and every model built before the database is touched.
    plan = _plan(personas, styles, sessions_per_persona, concurrency=concurrency, counselor=counselor, client=client,
                 seed=seed, max_turns=max_turns, graph=graph, retries=retries, limits=limits, retry_delay=retry_delay)
    concurrency, retries, max_turns, seed = plan.concurrency, plan.retries, plan.max_turns, plan.seed
    persona_refs, spec, limit_map, identity, run_id = plan.persona_refs, plan.spec, plan.limits, plan.identity, plan.run_id
    jobs = list(plan.jobs)
    models = dict(_models) if _models is not None else build_models([counselor, client], limit_map)
    if _share is not None:
        jobs = jobs[_share[0]::_share[1]]
    record_run = _share is None

    store = TraceStore(db)
    progress = Progress(run_id=run_id, total=len(jobs))
    outcome: dict[str, dict] = {}

    def report(event: str, job: _Job | None = None, error: str | None = None) -> None:
        progress.event, progress.error = event, error
        progress.session_id, progress.key = (job.session_id, job.key) if job else (None, None)
        if on_progress:
            on_progress(progress)

    def locked(fn: Callable[[], Any]) -> Any:
        with store._lock:  # node threads write on the same connection
            return fn()

    async def off_loop(fn: Callable[[], Any]) -> Any:
        # Never touch the store on the event loop: see session._arun.
        return await asyncio.to_thread(locked, fn)

    loop = asyncio.get_running_loop()
    previous_executor = getattr(loop, "_default_executor", None)
    executor = ThreadPoolExecutor(max_workers=concurrency + 4, thread_name_prefix="psyagents-simulate")
    loop.set_default_executor(executor)
    conn = saver = None
    run_started = False
    tasks: list[asyncio.Task] = []
    status, rows = "interrupted", {}
    try:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        if os.environ.get("PSYAGENTS_SIMULATE_SAVER") == "aiosqlite":
            conn = await aiosqlite.connect(str(store.path), timeout=30)
            for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"):
                async with conn.execute(pragma):  # an unclosed cursor would hold a read snapshot open
                    pass
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
        else:
            saver = await asyncio.to_thread(StoreSaver, store)
        # Built-in nodes on the event loop need the checkpointer on the store's own connection.
        on_loop = isinstance(saver, StoreSaver)
        if record_run:
            await off_loop(lambda: store.start_run(run_id, RUN_KIND, run_config(identity, persona_refs, concurrency, retries, limit_map, store.path), package_versions()))
            run_started = True
        gate = asyncio.Semaphore(concurrency)
        report("start")

        def on_event(kind: str, data: Any) -> None:
            if kind == "turn":
                progress.turns += 1
                report("turn")

        async def one(job: _Job) -> None:
            row = await off_loop(lambda: store.session_by_key(job.key))
            if row is not None and row["status"] in DONE:
                progress.skipped += 1
                outcome[job.key] = {"status": row["status"], "error": None}
                report("skipped", job)
                return
            async with gate:
                progress.running += 1
                report("session_start", job)
                try:
                    for attempt in range(retries + 1):
                        exists = row is not None or await off_loop(lambda: store.session_by_key(job.key)) is not None
                        try:
                            if not exists:
                                config = new_session_config(job.persona, job.style, spec, graph, counselor, client, max_turns, job.seed)
                                try:
                                    status = await astart_session(
                                        store, job.session_id, job.persona, job.style, spec, config, checkpointer=saver,
                                        models=models, run_id=run_id, key=job.key, on_event=on_event, on_loop=on_loop,
                                    )
                                except SessionExists:  # another process started it a moment ago: resume it (or find it busy)
                                    exists = True
                            if exists:
                                status = await aresume_session(
                                    store, job.session_id, checkpointer=saver, models=models, on_event=on_event,
                                    reason="retry" if attempt else "resume", on_loop=on_loop,
                                )
                        except SessionBusy as exc:  # another process runs it: leave its record alone, no retry
                            progress.failed += 1
                            outcome[job.key] = {"status": "failed", "error": str(exc)}
                            report("failed", job, str(exc))
                            return
                        except Exception as exc:
                            error = f"{type(exc).__name__}: {exc}"
                            if await off_loop(lambda: store.session_by_key(job.key)) is not None:
                                await off_loop(lambda: store.add_event(job.session_id, "error", attempt=attempt + 1, error=error))
                            if attempt < retries:
                                progress.retries += 1
                                report("retry", job, error)
                                await asyncio.sleep(retry_delay * 2**attempt)
                                continue
                            progress.failed += 1
                            outcome[job.key] = {"status": "failed", "error": error}
                            report("failed", job, error)
                            return
                        progress.completed += 1
                        outcome[job.key] = {"status": status, "error": None}
                        report("completed", job)
                        return
                finally:
                    progress.running -= 1
                    if isinstance(saver, TurnSaver):
                        saver.forget(job.session_id)  # its bookkeeping, and anything held after a failure

        tasks = [asyncio.create_task(one(job)) for job in jobs]
        await asyncio.gather(*tasks)
        status = "failed" if progress.failed else "completed"
    except BaseException as exc:  # Ctrl-C (the task is cancelled), or an error of the batch itself
        status = "interrupted" if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)) else "failed"
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        # Closing the checkpointer's connection first rolls back a write a cancelled task left
        # open; then the node threads still running finish their trace writes; then the run is closed.
        if conn is not None:
            await conn.close()
        await _drain(executor)
        if previous_executor is not None:
            loop.set_default_executor(previous_executor)
        elif hasattr(loop, "_default_executor"):
            loop._default_executor = None  # asyncio creates a fresh one when next needed
        try:
            # When setup failed before the run was recorded there is no run to close: the setup's
            # own error goes through (finish_run on a missing row would replace it).
            if tasks and not all(t.done() and not t.cancelled() for t in tasks):
                _mark_interrupted(store, [j.session_id for j in jobs])
            if run_started:
                store.finish_run(run_id, status, _summary(progress))
            rows = statuses_by_key(store, [j.key for j in jobs])
        finally:
            store.close()
    report("end")
    sessions = [
        {"key": j.key, "id": j.session_id, "persona": j.persona.id, "style": j.style.name,
         "status": rows.get(j.key, outcome.get(j.key, {}).get("status")),
         "error": outcome.get(j.key, {}).get("error")}
        for j in jobs
    ]
    return SimulateResult(
        run_id=run_id, db=store.path, status=status, total=len(jobs), completed=progress.completed,
        skipped=progress.skipped, failed=progress.failed, turns=progress.turns, elapsed=progress.elapsed, sessions=sessions,
    )


def run_config(identity: Mapping[str, Any], persona_refs: list[str], concurrency: int, retries: int,
               limits: Mapping[str, int], db: Path, workers: int = 1) -> dict:
    """What a run records as its configuration (``psyagents runs show``)."""
    return {
        **identity, "persona_refs": persona_refs, "session_seeds": "derived from seed and key",
        "concurrency": concurrency, "retries": retries, "limits": dict(limits), "db": str(db), "workers": workers,
    }


def _chunks(items: list[str], n: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), n):  # SQLite caps the parameters of one statement
        yield items[i:i + n]


def _mark_interrupted(store: TraceStore, session_ids: list[str]) -> None:
    """Sessions of the batch still marked running (a node thread outlived its task, a worker was killed) become interrupted.

    A session another live process is running (see ``session.check_not_running_elsewhere``) is left alone.
    """
    for chunk in _chunks(session_ids):
        rows = list(store.db["sessions"].rows_where(
            "status = 'running' and id in (%s)" % ",".join("?" * len(chunk)), chunk, select="id, owner"))
        for row in rows:
            if not owner_alive(row["owner"]):
                store.set_status(row["id"], "interrupted")


def statuses_by_key(store: TraceStore, keys: list[str]) -> dict[str, str]:
    """The recorded status of each of these session keys that has a session."""
    out: dict[str, str] = {}
    for chunk in _chunks(keys):
        out.update((r["key"], r["status"]) for r in store.db["sessions"].rows_where(
            "key in (%s)" % ",".join("?" * len(chunk)), chunk, select="key, status"))
    return out


def _summary(progress: Progress) -> dict:
    return {
        "total": progress.total, "completed": progress.completed, "skipped": progress.skipped, "failed": progress.failed,
        "retries": progress.retries, "turns": progress.turns, "elapsed_s": round(progress.elapsed, 3),
    }


async def _drain(executor: ThreadPoolExecutor) -> None:
    """Wait for the node threads to finish without blocking the event loop."""
    done = threading.Event()
    threading.Thread(target=lambda: (executor.shutdown(wait=True), done.set()), daemon=True).start()
    while not done.is_set():
        await asyncio.sleep(0.01)


def simulate(
    personas: str | Iterable[str] = "all",
    styles: str | Iterable[str] = "integrative",
    sessions_per_persona: int = 1,
    *,
    concurrency: int = 8,
    counselor: str = DEFAULT_MODEL,
    client: str = DEFAULT_MODEL,
    db: str | Path = "traces.db",
    seed: int | None = 0,
    max_turns: int = 8,
    graph: str = "default",
    retries: int = 2,
    limits: Mapping[str, int] | Iterable[str] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    retry_delay: float = 0.5,
    workers: int = 1,
) -> SimulateResult:
    """Run a batch of sessions concurrently and return what happened.

    ``personas`` is ``"all"`` or ids (a list or ``"a,b"``); ``styles`` likewise; each
    persona x style gets ``sessions_per_persona`` sessions, at most ``concurrency`` at a
    time. ``limits`` caps model requests in flight per provider or model string
    (``{"openai": 16}`` or ``["openai=16"]``). A failing session is retried ``retries``
    times (resuming from its last checkpoint), then recorded as failed and the batch goes
    on (``retry_delay`` seconds before the first retry, doubling). Re-running the same call
    resumes the batch. ``on_progress(Progress)`` follows it.
    Ctrl-C marks unfinished sessions and the run ``interrupted`` and raises KeyboardInterrupt.

    ``workers`` > 1 splits the sessions between that many processes (one event loop each;
    ``concurrency`` and ``limits`` are divided between them): a batch on a fast backend is
    bound by the framework's CPU time per turn, and one process uses one core. Each worker
    builds its own models (a local model is loaded once per worker).
    """
    kwargs = dict(locals())
    workers = kwargs.pop("workers")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise PsyagentsError(f"workers must be a whole number of at least 1, not {workers!r}") from None
        if workers == 1:
            return asyncio.run(asimulate(**kwargs))
        from .simulate_workers import simulate_in_processes

        return simulate_in_processes(kwargs, workers)
    raise PsyagentsError("simulate() cannot run inside a running event loop; use 'await asimulate(...)'")
