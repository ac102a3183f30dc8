"""A session killed mid-way (kill -9 style, or Ctrl-C) loses no finished turn and resumes where it stopped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psyagents
from psyagents.tracing import TraceStore

# A child process that registers a client model which dies (os._exit, no cleanup at all)
# on its N-th call, then runs a session. CRASH_AT unset = never dies.
CHILD = textwrap.dedent(
    """
    import os, sys
    os.environ["PSYAGENTS_LOAD_PLUGINS"] = ""
    import psyagents
    from psyagents.default_plugins.scripted_models import scripted_chat_model, ScriptedChatModel
    from psyagents.hookspecs import hookimpl
    from psyagents.plugins import register_plugin

    class Crashy(ScriptedChatModel):
        def _next_reply(self, messages):
            calls = int(os.environ.get("CALLS", "0")) + 1
            os.environ["CALLS"] = str(calls)
            if os.environ.get("CRASH_AT") and calls == int(os.environ["CRASH_AT"]):
                os._exit(9)
            return super()._next_reply(messages)

    class P:
        @hookimpl
        def register_chat_models(self, register):
            register("crashy", lambda name, o: Crashy(replies=scripted_chat_model("client", {}).replies, script_name="crashy"))

    register_plugin(P(), name="crashy")
    mode, db = sys.argv[1], sys.argv[2]
    if mode == "run":
        s = psyagents.run_session("maya-exam-anxiety", "integrative", "scripted:counselor", "crashy:client",
                                  max_turns=6, db=db, session_id="s1")
    else:
        s = psyagents.resume_session("s1", db)
    print(s.end_reason)
    """
)


def _child(mode: str, db, crash_at: str | None):
    env = {"PATH": "", "PSYAGENTS_LOAD_PLUGINS": ""}
    if crash_at:
        env["CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-c", CHILD, mode, str(db)], capture_output=True, text=True, env=env, timeout=120)


def test_crash_then_resume_matches_an_uninterrupted_run(tmp_path):
    reference = tmp_path / "ref.db"
    assert _child("run", reference, None).returncode == 0
    expected = TraceStore(reference).turns("s1")

    db = tmp_path / "crash.db"
    crashed = _child("run", db, "3")  # dies during the client's third generated line
    assert crashed.returncode == 9
    store = TraceStore(db)
    before = store.turns("s1")
    assert store.session("s1")["status"] == "running"
    assert len(before) == 6  # opening, 2 generated client lines and 3 counsellor lines, all kept
    assert [t.text for t in before] == [t.text for t in expected[:6]]

    resumed = _child("resume", db, None)
    assert resumed.returncode == 0, resumed.stderr
    after = TraceStore(db).turns("s1")
    assert [(t.idx, t.speaker, t.text) for t in after] == [(t.idx, t.speaker, t.text) for t in expected]
    assert TraceStore(db).session("s1")["status"] == "completed"
    assert any(e["kind"] == "resume" for e in TraceStore(db).events("s1"))


def test_keyboard_interrupt_marks_the_session_resumable(db, plugin):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    from psyagents.hookspecs import hookimpl

    class Interrupting(GenericFakeChatModel):
        def _generate(self, *a, **k):
            raise KeyboardInterrupt

    class P:
        @hookimpl
        def register_chat_models(self, register):
            register("stop", lambda name, o: Interrupting(messages=iter([])))

    plugin(P(), "interrupting")
    try:
        psyagents.run_session("maya-exam-anxiety", "integrative", "stop:now", "scripted:client", db=db, session_id="k1")
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("KeyboardInterrupt was swallowed")
    store = TraceStore(db)
    assert store.session("k1")["status"] == "interrupted"
    assert [t.speaker for t in store.turns("k1")] == ["client"]  # the opening is kept


def test_resume_refuses_a_finished_session(db):
    s = psyagents.run_session("maya-exam-anxiety", "integrative", "scripted:counselor", "scripted:client", max_turns=2, db=db)
    try:
        psyagents.resume_session(s.id, db)
    except psyagents.PsyagentsError as exc:
        assert "already ended (turn_cap)" in str(exc)
    else:
        raise AssertionError("resuming a finished session should fail")
