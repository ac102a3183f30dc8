"""TurnSaver: checkpoints after every message, at the end, and at a pause or failure; nothing said is lost."""

from __future__ import annotations

import sqlite3

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

import psyagents
from psyagents.checkpoints import TurnSaver
from psyagents.default_plugins.scripted_models import ScriptedChatModel
from psyagents.graphs import build_session_graph
from psyagents.registry import get_graph_spec, get_persona, get_style
from psyagents.session import FRESH_INPUT, build_context
from psyagents.tracing import TraceStore, connect
from tests.conftest import write_script


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
    graph.invoke(dict(FRESH_INPUT), config)
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
    graph2.invoke(dict(FRESH_INPUT), config)
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
        graph.invoke(dict(FRESH_INPUT), config)
    said = [t.text for t in store.turns("t")]
    assert len(said) == 3  # client, counsellor, client; the second counsellor reply failed
    # a fresh saver on the same file (a new process) resumes from after the third message
    reader = TurnSaver(sqlite3.connect(db, check_same_thread=False))
    latest = reader.get_tuple(config)
    assert len(latest.checkpoint["channel_values"]["messages"]) == 3
    graph2 = build_session_graph(get_graph_spec("default"), graph_ctx(db, store, counselor), checkpointer=reader)
    graph2.invoke(None, config)
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
        graph.invoke(dict(FRESH_INPUT), config)
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
