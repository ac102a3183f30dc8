"""Benchmarks of batches (issue 3, 8b and 8d); ``make bench`` runs them after bench/run.py.

(b) 64 sessions x 10 counsellor turns (20 model calls each) against a backend that takes
    100 ms per call, run by ``psyagents.simulate`` at concurrency 64 (in one process, and
    split between one worker process per core), against a sequential
    loop like the Interactive Agents driver: one call after another on the same backend.
(d) trace-store turns written per second with 32 concurrent sessions: the store shared by
    32 writer threads (how a batch writes), 32 separate connections, one writer (baseline),
    and whole sessions: ``simulate`` at concurrency 32 on zero-latency scripted models.

``python bench/simulate.py [--sessions 64] [--turns 10] [--latency 0.1] [--skip-sequential]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PSYAGENTS_LOAD_PLUGINS", "")

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage  # noqa: E402

import psyagents  # noqa: E402
from psyagents.default_plugins.scripted_models import ScriptedChatModel  # noqa: E402
from psyagents.hookspecs import hookimpl  # noqa: E402
from psyagents.plugins import register_plugin  # noqa: E402
from psyagents.tracing import TraceStore, Turn  # noqa: E402

COUNSELOR = ["How has that been for you?", "What goes through your mind then?", "What would help a little?"]
CLIENT = ["It has been hard lately.", "I worry about work a lot.", "Maybe some rest would help."]


class SlowScriptedModel(ScriptedChatModel):
    """A scripted model that takes ``latency`` seconds per call, like a remote API."""

    latency: float = 0.1

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        time.sleep(self.latency)
        return super()._generate(messages, stop, run_manager, **kwargs)

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        await asyncio.sleep(self.latency)
        return super()._generate(messages, stop, None, **kwargs)


class SlowBackend:
    @hookimpl
    def register_chat_models(self, register):
        def factory(name, options):
            replies = COUNSELOR if name == "counselor" else CLIENT
            return SlowScriptedModel(replies=replies, cycle=True, latency=float(options.get("latency", 0.1)), script_name=f"slow:{name}")

        register("slow", factory, description="bench: scripted replies after a fixed latency")


def sequential(sessions: int, turns: int, latency: float) -> float:
    """The Interactive Agents way: each session, each call, one after another."""
    counselor = SlowScriptedModel(replies=COUNSELOR, cycle=True, latency=latency)
    client = SlowScriptedModel(replies=CLIENT, cycle=True, latency=latency)
    start = time.perf_counter()
    for _ in range(sessions):
        history: list[tuple[str, str]] = []
        for _ in range(turns):
            msgs = [SystemMessage("client")] + [AIMessage(t) if s == "client" else HumanMessage(t) for s, t in history]
            history.append(("client", client.invoke(msgs or [HumanMessage("Hello.")]).content))
            msgs = [SystemMessage("counsellor")] + [HumanMessage(t) if s == "client" else AIMessage(t) for s, t in history]
            history.append(("counselor", counselor.invoke(msgs).content))
    return time.perf_counter() - start


def personas_for(n: int) -> tuple[str, int]:
    ids = list(psyagents.personas())
    k = min(n, len(ids))
    while n % k:
        k -= 1
    return ",".join(ids[:k]), n // k


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def concurrent(sessions: int, turns: int, latency: float, concurrency: int, db: Path, workers: int = 1) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process and its workers) of one batch, and the turns it wrote."""
    personas, per = personas_for(sessions)
    spec = f"?latency={latency}"
    wall, cpu = time.perf_counter(), time.process_time() + _children_cpu()
    result = psyagents.simulate(personas, "cbt", per, concurrency=concurrency, counselor="slow:counselor" + spec,
                                client="slow:client" + spec, db=db, max_turns=turns, retries=0, workers=workers)
    wall, cpu = time.perf_counter() - wall, time.process_time() + _children_cpu() - cpu
    assert result.completed == sessions and result.failed == 0, result
    return wall, cpu, result.turns


def median_run(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    """The run with the median wall time."""
    return sorted(runs)[len(runs) // 2]


def spread(runs: list[tuple[float, float, int]]) -> str:
    return ", ".join(f"{r[0]:.2f}" for r in runs) + " s"


def store_writes(folder: Path, writers: int, per_writer: int, shared: bool) -> float:
    """Turns written per second by ``writers`` threads, each its own session, on one shared store or one store each."""
    path = folder / f"store-{writers}-{shared}-{time.perf_counter_ns()}.db"
    main = TraceStore(path)
    stores = [main] * writers if shared else [TraceStore(path) for _ in range(writers)]
    for i in range(writers):
        main.start_session(f"s{i}", config={}, persona={"id": "p"}, versions={})
    barrier = threading.Barrier(writers + 1)

    def work(i: int) -> None:
        barrier.wait()
        for j in range(per_writer):
            stores[i].add_turn(f"s{i}", Turn(idx=j, speaker="client" if j % 2 else "counselor", text="A short line of dialogue."))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    for s in set(stores):
        s.close()
    return writers * per_writer / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=64)
    ap.add_argument("--turns", type=int, default=10, help="counsellor turns per session (two model calls each)")
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--skip-sequential", action="store_true", help="compute the sequential time as calls x latency")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each batch; the median is reported")
    args = ap.parse_args()
    register_plugin(SlowBackend(), name="bench-slow")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        concurrent(2, 2, 0.0, 2, folder / "warm.db")  # imports, plugins, data files
        w2 = os.cpu_count() or 1
        one_runs, two_runs = [], []
        for i in range(args.repeats):  # alternated, so a busy moment of the machine hits both alike
            one_runs.append(concurrent(args.sessions, args.turns, args.latency, args.sessions, folder / f"b{i}.db"))
            two_runs.append(concurrent(args.sessions, args.turns, args.latency, args.sessions, folder / f"b2-{i}.db", workers=w2))
        wall, cpu, turns = median_run(one_runs)
        wall2, cpu2, turns2 = median_run(two_runs)
        assert turns2 == turns
        calls = args.sessions * args.turns * 2
        seq = calls * args.latency if args.skip_sequential else sequential(args.sessions, args.turns, args.latency)
        one_writer = store_writes(folder, 1, 2000, True)
        shared32 = store_writes(folder, 32, 200, True)
        separate32 = store_writes(folder, 32, 200, False)
        personas, per = personas_for(32)
        w = time.perf_counter()
        r = psyagents.simulate(personas, "cbt", per, concurrency=32, counselor="slow:counselor?latency=0",
                               client="slow:client?latency=0", db=folder / "d.db", max_turns=args.turns, retries=0)
        w = time.perf_counter() - w
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, {platform.platform()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}; load average (1 min) before: {load_before:.1f}, after: {os.getloadavg()[0]:.1f}")
    print()
    print(f"(b) {args.sessions} sessions x {args.turns} counsellor turns ({calls} model calls), {args.latency * 1000:.0f} ms per call")
    print("| measure | value |")
    print("|---|---|")
    print(f"| sequential loop, one call after another{' (calls x latency)' if args.skip_sequential else ''} | {seq:.1f} s |")
    print(f"| psyagents.simulate, concurrency {args.sessions}, one process (median of {args.repeats}) | {wall:.2f} s ({cpu:.2f} s CPU, {turns} turns, {turns / wall:.0f} turns/s); runs {spread(one_runs)} |")
    print(f"| speed-up, one process | {seq / wall:.1f}x (runs {seq / max(r[0] for r in one_runs):.1f}x to {seq / min(r[0] for r in one_runs):.1f}x) |")
    print(f"| psyagents.simulate, concurrency {args.sessions}, --workers {w2} (median of {args.repeats}) | {wall2:.2f} s ({cpu2:.2f} s CPU, {turns2 / wall2:.0f} turns/s); runs {spread(two_runs)} |")
    print(f"| speed-up, --workers {w2} | {seq / wall2:.1f}x (runs {seq / max(r[0] for r in two_runs):.1f}x to {seq / min(r[0] for r in two_runs):.1f}x) |")
    print(f"| ceiling while CPU-bound: sequential time / CPU seconds of the batch | {seq / cpu:.1f}x |")
    print(f"| lower bound for one session (20 calls x latency) | {args.turns * 2 * args.latency:.1f} s |")
    print(f"| CPU per turn (utterance) | {cpu / turns * 1000:.2f} ms |")
    print()
    print("(d) trace store, 32 concurrent sessions")
    print("| measure | turns written per second |")
    print("|---|---|")
    print(f"| one writer (baseline) | {one_writer:,.0f} |")
    print(f"| 32 writer threads, one shared store (how a batch writes) | {shared32:,.0f} |")
    print(f"| 32 writer threads, a store (connection) each | {separate32:,.0f} |")
    print(f"| whole sessions: simulate, concurrency 32, zero-latency models | {r.turns / w:,.0f} ({r.turns} turns in {w:.2f} s) |")


if __name__ == "__main__":
    main()
