"""TurnSaver: checkpoints after every message, at the end, and at a pause or failure; nothing said is lost."""

from __future__ import annotations

import sqlite3
import time
from typing import Annotated, TypedDict

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.message import add_messages

import psyagents
from psyagents.checkpoints import TurnSaver
from psyagents.default_plugins.scripted_models import ScriptedChatModel
from psyagents.graphs import build_session_graph
from psyagents.registry import get_graph_spec, get_persona, get_style
from psyagents.session import FRESH_INPUT, build_context
from psyagents.tracing import TraceStore, connect
from tests.conftest import write_script


# Sessions stream their graphs with durability="sync" (session._drive); so do these tests: with
# LangGraph's default ("async") a step's writes can reach the saver before its checkpoint does.


def _graph(db, saver_cls, max_turns=3, counselor=None):
    store = TraceStore(db)
    store.start_session("t", config={}, persona={"id": "p"}, versions={})
    ctx = build_context("t", get_persona("kevin-panic"), get_style("cbt"), "scripted:counselor", "scripted:client",
                        max_turns=max_turns, seed=0, trace=store)
    if counselor is not None:
        ctx.counselor = counselor
    conn = connect(db)
    saver = saver_cls(conn)
    return build_session_graph(get_graph_spec("default"), ctx, checkpointer=saver), saver, store


def _messages_at_each_checkpoint(saver, thread="t"):
    return [len(c.checkpoint["channel_values"].get("messages", [])) for c in saver.list({"configurable": {"thread_id": thread}})]


def test_a_checkpoint_follows_every_message_and_the_end(tmp_path):
    graph, saver, store = _graph(tmp_path / "a.db", TurnSaver)
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke(dict(FRESH_INPUT), config, durability="sync")
    saved = _messages_at_each_checkpoint(saver)
    turns = store.turns("t")
    assert len(turns) == 6
    # every dialogue length from 1 to 6 messages has a checkpoint of its own
    assert set(range(1, 7)) <= set(saved)
    assert saver.skipped > 0
    # the last checkpoint is the end: nothing left to run, and it is what the graph reports
    state = graph.get_state(config)
    assert state.next == ()
    assert state.values["end_reason"] == "turn_cap"
    # the in-between steps (screen, plan) were not written: fewer checkpoints than plain SqliteSaver
    graph2, plain, _ = _graph(tmp_path / "b.db", SqliteSaver)
    graph2.invoke(dict(FRESH_INPUT), config, durability="sync")
    assert len(saved) < len(_messages_at_each_checkpoint(plain))
    assert _messages_at_each_checkpoint(plain)[0] == saved[0] == 6


class Boom(ScriptedChatModel):
    """A counsellor that fails (or is interrupted) on its second call."""

    exc: type[BaseException] = RuntimeError
    calls: int = 0

    def _next_reply(self, messages):
        self.calls += 1
        if self.calls == 2:
            raise self.exc("boom")
        return super()._next_reply(messages)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_a_crash_mid_turn_resumes_after_the_last_message(tmp_path, exc):
    """Ctrl-C (KeyboardInterrupt) or an error in the counsellor's step: the client's message before it is kept."""
    db = tmp_path / "c.db"
    counselor = Boom(replies=["How are you?", "Tell me more.", "What helps?"], cycle=True, exc=exc)
    graph, saver, store = _graph(db, TurnSaver, counselor=counselor)
    config = {"configurable": {"thread_id": "t"}}
    with pytest.raises(exc):
        graph.invoke(dict(FRESH_INPUT), config, durability="sync")
    said = [t.text for t in store.turns("t")]
    assert len(said) == 3  # client, counsellor, client; the second counsellor reply failed
    # a fresh saver on the same file (a new process) resumes from after the third message
    reader = TurnSaver(sqlite3.connect(db, check_same_thread=False))
    latest = reader.get_tuple(config)
    assert len(latest.checkpoint["channel_values"]["messages"]) == 3
    graph2 = build_session_graph(get_graph_spec("default"), graph_ctx(db, store, counselor), checkpointer=reader)
    graph2.invoke(None, config, durability="sync")
    after = [t.text for t in store.turns("t")]
    assert after[:3] == said  # nothing said was regenerated
    assert len(after) == 6


def graph_ctx(db, store, counselor):
    ctx = build_context("t", get_persona("kevin-panic"), get_style("cbt"), "scripted:counselor", "scripted:client",
                        max_turns=3, seed=0, trace=store)
    ctx.counselor = counselor
    return ctx


def test_a_paused_session_keeps_its_step_and_resumes(tmp_path):
    """The supervisor's interrupt() is saved with the step it belongs to, so a later process can resume it."""
    db = tmp_path / "s.db"
    client = write_script(tmp_path / "client.yaml", ["I have the pills here and I'm going to take them all tonight.", "Okay.", "Bye."])
    s = psyagents.run_session("ryan-suicidal-crisis", "cbt", "scripted:counselor", client, max_turns=3, db=db, supervise=True, session_id="p1")
    assert s.status == "paused"
    latest = TurnSaver(sqlite3.connect(db, check_same_thread=False)).get_tuple({"configurable": {"thread_id": "p1"}})
    assert "__interrupt__" in [w[1] for w in latest.pending_writes]
    s = psyagents.resume_session("p1", db, decision="approve")
    assert s.status == "completed" and [t.speaker for t in s.turns][:4] == ["client", "counselor", "client", "counselor"]


def test_the_history_is_a_chain_of_written_checkpoints(tmp_path):
    """Every written checkpoint's parent exists, also after a resume in a new process (a new saver)."""
    db = tmp_path / "h.db"
    counselor = Boom(replies=["How are you?", "Tell me more.", "What helps?"], cycle=True, exc=KeyboardInterrupt)
    graph, saver, store = _graph(db, TurnSaver, counselor=counselor)
    config = {"configurable": {"thread_id": "t"}}
    with pytest.raises(KeyboardInterrupt):
        graph.invoke(dict(FRESH_INPUT), config, durability="sync")
    reader = TurnSaver(sqlite3.connect(db, check_same_thread=False))
    build_session_graph(get_graph_spec("default"), graph_ctx(db, store, counselor), checkpointer=reader).invoke(None, config)
    history = list(reader.list(config))
    ids = {c.config["configurable"]["checkpoint_id"] for c in history}
    parents = [c.parent_config["configurable"]["checkpoint_id"] for c in history if c.parent_config]
    assert len(parents) == len(history) - 1  # only the first has no parent
    assert set(parents) <= ids
    graph_for_state = build_session_graph(get_graph_spec("default"), graph_ctx(db, store, counselor), checkpointer=reader)
    for c in history:
        if c.parent_config:
            assert graph_for_state.get_state(c.parent_config).values.get("messages") is not None


def test_a_steps_writes_stay_in_memory_unless_the_step_pauses_or_fails(tmp_path):
    """Finished sessions leave no per-step writes behind; a failed step is saved with its error.

    (Checked on a batch, where the saver's calls come in step order on the event loop; the sync
    API makes them from a thread pool, where a step's writes can arrive after the next checkpoint
    and are then written, as they always were.)
    """
    db = tmp_path / "w.db"
    result = psyagents.simulate(["kevin-panic", "maya-exam-anxiety"], "cbt", 1, counselor="scripted:counselor?cycle=true",
                                client="scripted:client?cycle=true", db=db, max_turns=3)
    assert result.completed == 2
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("select count(*) from checkpoints").fetchone()[0] > 0
        assert conn.execute("select count(*) from writes").fetchone()[0] == 0
    finally:
        conn.close()

    db2 = tmp_path / "w2.db"
    counselor = Boom(replies=["How are you?", "Tell me more."], cycle=True, exc=RuntimeError)
    graph, saver, store = _graph(db2, TurnSaver, counselor=counselor)
    with pytest.raises(RuntimeError):
        graph.invoke(dict(FRESH_INPUT), {"configurable": {"thread_id": "t"}}, durability="sync")
    latest = TurnSaver(sqlite3.connect(db2, check_same_thread=False)).get_tuple({"configurable": {"thread_id": "t"}})
    assert "__error__" in [w[1] for w in latest.pending_writes]


class ParallelState(TypedDict, total=False):
    messages: Annotated[list, add_messages]
    ok: int
    bad: int


def test_in_a_parallel_step_the_tasks_that_finished_are_saved_when_another_fails(tmp_path):
    """Writes kept in memory are written with the failure: after a restart only the failed task runs again."""
    from langchain_core.messages import HumanMessage
    from langgraph.graph import END, START, StateGraph

    runs = {"ok": 0, "bad": 0}
    fail = [True]

    def first(state):
        return {"messages": [HumanMessage("hello", name="client")]}

    def ok(state):
        runs["ok"] += 1
        return {"ok": runs["ok"]}

    def bad(state):
        runs["bad"] += 1
        if fail[0]:
            # Fail after "ok" has finished: LangGraph drops the writes of a task that finishes
            # after another task's failure has shut the step down.
            time.sleep(0.3)
            raise RuntimeError("boom")
        return {"bad": runs["bad"]}

    g = StateGraph(ParallelState)
    g.add_node("first", first)
    g.add_node("ok", ok)
    g.add_node("bad", bad)
    g.add_edge(START, "first")
    g.add_edge("first", "ok")
    g.add_edge("first", "bad")
    g.add_edge("ok", END)
    g.add_edge("bad", END)
    db = tmp_path / "p.db"
    config = {"configurable": {"thread_id": "p"}}
    graph = g.compile(checkpointer=TurnSaver(connect(db)))
    with pytest.raises(RuntimeError):
        graph.invoke({"messages": []}, config, durability="sync")
    assert runs == {"ok": 1, "bad": 1}
    fail[0] = False
    again = g.compile(checkpointer=TurnSaver(connect(db)))  # a new process's saver
    final = again.invoke(None, config, durability="sync")
    assert runs == {"ok": 1, "bad": 2}  # the task that had finished was not run again
    assert final["ok"] == 1 and final["bad"] == 2
