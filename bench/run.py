"""Benchmarks: framework overhead per turn against a bare loop calling the same scripted models.

Run with ``make bench``. Every figure is a ratio or difference against a baseline
measured in the same run, on the same machine; docs/benchmarks.md records results.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PSYAGENTS_LOAD_PLUGINS", "")

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage  # noqa: E402

import psyagents  # noqa: E402
from psyagents.default_plugins.scripted_models import ScriptedChatModel  # noqa: E402
from psyagents.tracing import TraceStore, Turn  # noqa: E402

COUNSELOR = ["How has that been for you?", "What goes through your mind then?", "What would help a little?"]
CLIENT = ["It has been hard lately.", "I worry about work a lot.", "Maybe some rest would help."]
TURNS = 40
REPEATS = 5


def bare_loop(turns: int) -> float:
    """What a hand-written driver does: alternate the two models over a growing history."""
    counselor = ScriptedChatModel(replies=COUNSELOR, cycle=True)
    client = ScriptedChatModel(replies=CLIENT, cycle=True)
    history: list[tuple[str, str]] = [("client", "Hello.")]
    start = time.perf_counter()
    for _ in range(turns):
        msgs = [SystemMessage("counsellor")] + [HumanMessage(t) if s == "client" else AIMessage(t) for s, t in history]
        history.append(("counselor", counselor.invoke(msgs).content))
        msgs = [SystemMessage("client")] + [AIMessage(t) if s == "client" else HumanMessage(t) for s, t in history]
        history.append(("client", client.invoke(msgs).content))
    return time.perf_counter() - start


def same_work_loop(turns: int, folder: Path) -> float:
    """A hand-written driver that does the session's work without the framework's machinery.

    The same prompts, response guard, safety screen on each client message, reply screen on each
    counsellor reply, style policy and trace-store writes as a psyagents session, in a plain loop:
    no LangGraph, no checkpoints, no events beyond the screen's. What psyagents costs on top of
    this is the price of the graph engine, its checkpoints and its plumbing.
    """
    from psyagents import guard
    from psyagents.nodes import CLIENT_LIMITS, plan_view
    from psyagents.prompts import client_messages, counselor_messages, counselor_system_prompt
    from psyagents.registry import get_persona, get_style
    from psyagents.reply_safety import reply_checks, screen_reply
    from psyagents.risk import RiskAssessment
    from psyagents.safety import safety_checks
    from psyagents.state import SessionContext

    persona, style = get_persona("kevin-panic"), get_style("cbt")
    counselor = ScriptedChatModel(replies=COUNSELOR, cycle=True)
    client = ScriptedChatModel(replies=CLIENT, cycle=True)
    checks, replies = safety_checks(), reply_checks()
    store = TraceStore(folder / f"same-{time.perf_counter_ns()}.db")
    store.start_session("s", config={}, persona=persona.model_dump(), versions={})
    ctx = SessionContext(session_id="s", persona=persona, style=style, counselor=counselor, client=client, max_turns=turns)
    history: list[tuple[str, str]] = []
    state: dict = {"messages": [], "plans": [], "turn": 0}
    start = time.perf_counter()
    for turn in range(turns):
        if history:
            reply = client.invoke(client_messages(persona, history, turn, False))
            text = guard.clean(str(reply.content), "client")
            guard.violations(text, CLIENT_LIMITS, "client")
        else:
            text = persona.opening
        idx = len(history)
        history.append(("client", text))
        store.add_turn("s", Turn(idx=idx, speaker="client", text=text))
        risk = RiskAssessment.combine([c.screen(text, language=persona.language) for c in checks])
        store.add_screen("s", idx, risk.level, categories=risk.categories, layer=risk.layer, evidence=risk.evidence)
        state["turn"] = turn
        state["messages"] = history  # plan_view reads the dialogue through history(state)
        plan = style.plan(_view(plan_view, ctx, history, state))
        state["plans"].append(plan.model_dump())
        system = counselor_system_prompt(style, plan, language=persona.language, turn=turn + 1, max_turns=turns,
                                         client_name=persona.name, limits=style.limits)
        reply = counselor.invoke(counselor_messages(system, history))
        text = guard.clean(str(reply.content), "counselor")
        guard.violations(text, style.limits, "counselor")
        screen_reply(text, language=persona.language, checks=replies)
        history.append(("counselor", text))
        store.add_turn("s", Turn(idx=idx + 1, speaker="counselor", text=text, stage=plan.stage, technique=plan.technique))
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def _view(plan_view, ctx, history, state):
    from langchain_core.messages import AIMessage, HumanMessage

    msgs = [HumanMessage(t, name=s) if s == "client" else AIMessage(t, name=s) for s, t in history]
    return plan_view(ctx, {**state, "messages": msgs})


def engine_floor(turns: int) -> float:
    """LangGraph alone: the default graph's shape and state with nodes that only call the models.

    Client and counsellor nodes append the scripted models' replies; safety and technique do
    nothing; no checkpointer, no trace, no screens. The cost of four graph steps per turn.
    """
    from langgraph.graph import END, START, StateGraph

    from psyagents.state import SessionState

    counselor = ScriptedChatModel(replies=COUNSELOR, cycle=True)
    client = ScriptedChatModel(replies=CLIENT, cycle=True)

    def speak(model, name, cls):
        def node(state):
            msgs = [SystemMessage(name)] + list(state["messages"])
            update = {"messages": [cls(str(model.invoke(msgs).content), name=name)]}
            if name == "counselor":
                update["turn"] = state.get("turn", 0) + 1
            return update
        return node

    g = StateGraph(SessionState)
    g.add_node("client", speak(client, "client", HumanMessage))
    g.add_node("safety", lambda state: {})
    g.add_node("technique", lambda state: {})
    g.add_node("counselor", speak(counselor, "counselor", AIMessage))
    g.add_edge(START, "client")
    g.add_edge("client", "safety")
    g.add_edge("safety", "technique")
    g.add_edge("technique", "counselor")
    g.add_conditional_edges("counselor", lambda state: END if state["turn"] >= turns else "client")
    graph = g.compile()
    start = time.perf_counter()
    for _ in graph.stream({"messages": [], "turn": 0}, {"recursion_limit": 10 * turns}, stream_mode="updates"):
        pass
    return time.perf_counter() - start


def framework(turns: int, folder: Path) -> float:
    """The same exchange as a psyagents session: default graph, guard, safety screen, trace and checkpoints."""
    c = folder / "c.yaml"
    k = folder / "k.yaml"
    c.write_text(json.dumps({"replies": COUNSELOR, "cycle": True}))
    k.write_text(json.dumps({"replies": CLIENT, "cycle": True}))
    db = folder / f"bench-{time.perf_counter_ns()}.db"
    start = time.perf_counter()
    s = psyagents.run_session("kevin-panic", "cbt", f"scripted:{c}", f"scripted:{k}", max_turns=turns, db=db)
    elapsed = time.perf_counter() - start
    assert s.end_reason == "turn_cap", s.end_reason
    return elapsed


def trace_writes(n: int, folder: Path) -> float:
    store = TraceStore(folder / f"writes-{time.perf_counter_ns()}.db")
    store.start_session("w", config={}, persona={"id": "p"}, versions={})
    start = time.perf_counter()
    for i in range(n):
        store.add_turn("w", Turn(idx=i, speaker="client", text="A short line of dialogue."))
    elapsed = time.perf_counter() - start
    store.close()
    return n / elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        framework(2, folder)  # warm up imports and plugin loading
        same_work_loop(2, folder)
        bare = [bare_loop(TURNS) for _ in range(REPEATS)]
        same = [same_work_loop(TURNS, folder) for _ in range(REPEATS)]
        floor = [engine_floor(TURNS) for _ in range(REPEATS)]
        full = [framework(TURNS, folder) for _ in range(REPEATS)]
        writes = statistics.median(trace_writes(500, folder) for _ in range(3))
    bare_ms = statistics.median(bare) / TURNS * 1000
    full_ms = statistics.median(full) / TURNS * 1000
    same_ms = statistics.median(same) / TURNS * 1000
    floor_ms = statistics.median(floor) / TURNS * 1000
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, {platform.platform()}")
    print(f"date: {time.strftime('%Y-%m-%d')}")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| bare loop, per counsellor turn (baseline) | {bare_ms:.2f} ms |")
    print(f"| psyagents default graph, per counsellor turn | {full_ms:.2f} ms |")
    print(f"| overhead per counsellor turn (difference) | {full_ms - bare_ms:.2f} ms |")
    print(f"| ratio psyagents / bare loop | {full_ms / bare_ms:.1f}x |")
    print(f"| hand-written loop doing the session's work (prompts, guard, screens, policy, trace writes) | {same_ms:.2f} ms |")
    print(f"| psyagents over that loop: the graph engine, checkpoints and plumbing | {full_ms - same_ms:.2f} ms |")
    print(f"| LangGraph alone: the default graph's four steps per turn, nodes that only call the models | {floor_ms:.2f} ms ({floor_ms - bare_ms:.2f} ms over the bare loop) |")
    print(f"| trace store: turns written per second, one writer | {writes:,.0f} |")


if __name__ == "__main__":
    main()
