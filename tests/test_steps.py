"""Nodes written once, run both ways (psyagents/steps.py): the sync and async drivers, and where batch work runs."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from langchain_core.messages import AIMessage, HumanMessage

import psyagents
from psyagents.default_plugins.scripted_models import ScriptedChatModel
from psyagents.hookspecs import hookimpl
from psyagents.risk import RiskAssessment
from psyagents.safety import SafetyCheck
from psyagents.steps import InThread, ModelCall, TwinNode, arun_steps, call, run_steps


SEEN: list = []  # what Recorder saw: (entry point, thread, seed)


class Recorder(ScriptedChatModel):
    """A scripted model that notes which of its entry points ran, and in which thread."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        SEEN.append(("sync", threading.current_thread().name, kwargs.get("seed")))
        return super()._generate(messages, stop, run_manager, **kwargs)

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        SEEN.append(("async", threading.current_thread().name, kwargs.get("seed")))
        return super()._generate(messages, stop, run_manager, **kwargs)


class Failing(ScriptedChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise ConnectionError("server went away")

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        raise ConnectionError("server went away")


def body(model, fn):
    """A node body: two model calls, one call that may block, and a caught model error."""
    first = yield ModelCall(model, [HumanMessage("hi")], {"seed": 7})
    second = yield ModelCall(model, [HumanMessage("hi"), AIMessage(first.content), HumanMessage("and?")], {})
    where = yield InThread(fn)
    try:
        yield ModelCall(Failing(replies=["x"]), [HumanMessage("hi")], {})
        caught = None
    except ConnectionError as exc:  # the error is raised at the yield, as if the node had made the call
        caught = str(exc)
    quick = yield from call(lambda: "in place", blocking=False)
    return {"replies": [first.content, second.content], "where": where, "caught": caught, "quick": quick}


def test_the_same_body_runs_with_invoke_in_this_thread_and_with_ainvoke_on_the_loop():
    model = Recorder(replies=["one", "two"])
    SEEN.clear()
    here = threading.current_thread().name
    out = run_steps(body(model, lambda: threading.current_thread().name))
    assert out == {"replies": ["one", "two"], "where": here, "caught": "server went away", "quick": "in place"}
    assert [s[:2] for s in SEEN] == [("sync", here), ("sync", here)] and SEEN[0][2] == 7

    SEEN.clear()

    async def main():
        return threading.current_thread().name, await arun_steps(body(model, lambda: threading.current_thread().name))

    loop_thread, out = asyncio.run(main())
    assert out["replies"] == ["one", "two"] and out["caught"] == "server went away" and out["quick"] == "in place"
    assert out["where"] != loop_thread  # a call that may block left the event loop
    assert [s[:2] for s in SEEN] == [("async", loop_thread), ("async", loop_thread)]


def test_an_uncaught_model_error_propagates_from_both_drivers():
    def node(state):
        yield ModelCall(Failing(replies=["x"]), [HumanMessage("hi")], {})
        return {}

    twin = TwinNode(node)
    with pytest.raises(ConnectionError):
        twin({})
    with pytest.raises(ConnectionError):
        asyncio.run(twin.acall({}))


def test_a_plain_update_passes_through_both_drivers():
    twin = TwinNode(lambda state: {"turn": state["turn"] + 1})
    assert twin({"turn": 1}) == {"turn": 2}
    assert asyncio.run(twin.acall({"turn": 2})) == {"turn": 3}


class ThreadNotingCheck(SafetyCheck):
    """A safety check that notes the thread it ran in; ``blocking`` as the test sets it."""

    name = "thread-noting"

    def __init__(self, blocking: bool, seen: list):
        self.blocking = blocking
        self.seen = seen

    def screen(self, text, *, language=None):
        self.seen.append(threading.current_thread().name)
        return RiskAssessment(layer=self.name)


def _batch(db, plugin, blocking: bool) -> tuple[list, list, str]:
    seen: list = []
    routes: list = []
    check = ThreadNotingCheck(blocking, seen)

    class P:
        @hookimpl
        def register_safety_checks(self, register):
            register(check)

        @hookimpl
        def register_route_conditions(self, register):
            def noted(state, ctx, op, value):
                routes.append(threading.current_thread().name)
                return False
            register("noted", noted, description="notes the thread routing runs in")

    plugin(P(), f"noting-{blocking}")
    loop_thread: list = []

    async def main():
        loop_thread.append(threading.current_thread().name)
        return await psyagents.asimulate(["kevin-panic"], "cbt", 1, counselor="scripted:counselor?cycle=true",
                                         client="scripted:client?cycle=true", db=db, max_turns=2, concurrency=2,
                                         graph=_graph_with_noted_route(db.parent))

    result = asyncio.run(main())
    assert result.completed == 1, result
    return seen, routes, loop_thread[0]


def _graph_with_noted_route(folder):
    import yaml

    from psyagents.registry import data_dir

    spec = yaml.safe_load((data_dir("graphs") / "default.yaml").read_text())
    spec["id"] = "noted"
    spec["routes"]["counselor"].insert(0, {"if": "noted", "to": "END"})
    path = folder / "noted.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return str(path)


def test_in_a_batch_quick_work_stays_on_the_event_loop_and_blocking_checks_leave_it(db, plugin):
    """Built-in nodes, quick checks and route conditions run on the loop's thread; a blocking check in another."""
    seen, routes, loop_thread = _batch(db, plugin, blocking=False)
    assert len(seen) == 2 and set(seen) == {loop_thread}
    assert routes and set(routes) == {loop_thread}
    seen, _, loop_thread = _batch(db.parent / "b.db", plugin, blocking=True)
    assert len(seen) == 2 and loop_thread not in seen


def test_a_check_without_the_attribute_counts_as_blocking(db, plugin):
    """Plugins written before ``blocking`` existed keep running off the event loop."""

    class Old:
        name = "old-style"

        def screen(self, text, *, language=None):
            Old.threads.append(threading.current_thread().name)
            return RiskAssessment(layer="old-style")

    Old.threads = []

    class P:
        @hookimpl
        def register_safety_checks(self, register):
            register(Old())

    plugin(P(), "old-check")

    async def main():
        await psyagents.asimulate(["kevin-panic"], "cbt", 1, counselor="scripted:counselor", client="scripted:client",
                                  db=db, max_turns=1)
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert Old.threads and loop_thread not in Old.threads


def test_a_subclass_that_overrides_the_method_does_not_inherit_the_promise():
    """``blocking = False`` on a built-in quick style covers its own ``plan``, not a plugin's override."""
    from psyagents.default_plugins.styles import CBTStyle
    from psyagents.steps import is_blocking

    class SameCBT(CBTStyle):
        name = "same-cbt"

    class AskingCBT(CBTStyle):  # imagine plan() asking a model
        name = "asking-cbt"

        def plan(self, view):
            return super().plan(view)

    class QuickCBT(AskingCBT):
        blocking = False

    assert (is_blocking(CBTStyle(), "plan"), is_blocking(SameCBT(), "plan")) == (False, False)
    assert is_blocking(AskingCBT(), "plan") and not is_blocking(QuickCBT(), "plan")
    asking = AskingCBT()
    asking.blocking = False  # said on the instance: taken at its word
    assert not is_blocking(asking, "plan")
    assert is_blocking(ThreadNotingCheck(True, []), "screen") and not is_blocking(ThreadNotingCheck(False, []), "screen")


def test_in_a_batch_a_plugin_s_override_of_a_quick_style_runs_off_the_loop(db, plugin):
    from psyagents.default_plugins.styles import CBTStyle

    threads: list = []

    class AskingCBT(CBTStyle):
        name = "asking-cbt"

        def plan(self, view):
            threads.append(threading.current_thread().name)
            return super().plan(view)

    class P:
        @hookimpl
        def register_therapy_styles(self, register):
            register(AskingCBT())

    plugin(P(), "asking-cbt")

    async def main():
        await psyagents.asimulate(["kevin-panic"], "asking-cbt", 1, counselor="scripted:counselor",
                                  client="scripted:client", db=db, max_turns=2)
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert threads and loop_thread not in threads


def test_a_body_that_yields_something_else_gets_a_clear_type_error():
    model = ScriptedChatModel(replies=["hi"])

    def body():
        reply = yield model.ainvoke([HumanMessage("x")])  # a coroutine, not a ModelCall
        return reply

    for drive in (run_steps, lambda gen: asyncio.run(arun_steps(gen))):
        gen = body()
        with pytest.raises(TypeError, match=r"node body .*body yielded a coroutine .*yields ModelCall or InThread"):
            drive(gen)
        assert gen.gi_frame is None  # the driver closed the body
    with pytest.raises(TypeError, match="yielded int"):
        run_steps((x for x in [1]))

    def retrying():  # catching the error and yielding again does not hide it
        for _ in range(2):
            try:
                return (yield 42)
            except TypeError:
                continue
        return "swallowed"

    with pytest.raises(TypeError, match="yielded int"):
        run_steps(retrying())


def test_sync_sessions_and_batches_write_the_same_transcript(tmp_path):
    """The twin drivers are the same session: same turns, same screens, same plans."""
    one = psyagents.run_session("ryan-suicidal-crisis", "mi", "scripted:counselor?cycle=true", "scripted:client?cycle=true",
                                max_turns=4, db=tmp_path / "one.db", session_id="s")
    psyagents.simulate(["ryan-suicidal-crisis"], "mi", 1, counselor="scripted:counselor?cycle=true",
                       client="scripted:client?cycle=true", db=tmp_path / "batch.db", max_turns=4)

    def rows(path, sql):
        conn = sqlite3.connect(path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    sql = "select idx, speaker, text, stage, technique, risk_level from turns order by idx"
    assert rows(tmp_path / "one.db", sql) == rows(tmp_path / "batch.db", sql)
    assert len(one.turns) == 8


def test_scripted_models_answer_on_the_loop_and_keep_a_subclass_s_own_generate():
    """ainvoke/astream of a scripted model match invoke/stream; a subclass that overrides _generate keeps it."""
    model = ScriptedChatModel(replies=["Hello there, friend."])
    msgs = [HumanMessage("hi")]

    async def main():
        chunks = [c.content async for c in model.astream(msgs)]
        return (await model.ainvoke(msgs)).content, chunks

    text, chunks = asyncio.run(main())
    assert text == model.invoke(msgs).content == "Hello there, friend."
    assert "".join(chunks) == text and len([c for c in chunks if c]) == 3

    class Slow(ScriptedChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            SEEN.append(("slow", threading.current_thread().name, None))
            return super()._generate(messages, stop, run_manager, **kwargs)

    SEEN.clear()

    async def slow():
        await Slow(replies=["x"]).ainvoke(msgs)
        return threading.current_thread().name

    loop_thread = asyncio.run(slow())
    assert len(SEEN) == 1 and SEEN[0][1] != loop_thread  # LangChain's default: the blocking _generate in a thread


class Interrupting(ScriptedChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise KeyboardInterrupt


def test_ctrl_c_and_cancellation_reach_the_body_at_its_yield():
    """The body's except/finally see the real KeyboardInterrupt or CancelledError, before the driver re-raises it."""
    log: list[str] = []

    def body(model):
        try:
            yield ModelCall(model, [HumanMessage("hi")], {})
        except BaseException as exc:
            log.append(f"saw {type(exc).__name__}")
            raise
        finally:
            log.append("finally")

    with pytest.raises(KeyboardInterrupt):
        run_steps(body(Interrupting(replies=["x"])))
    assert log == ["saw KeyboardInterrupt", "finally"]

    class Hanging(ScriptedChatModel):
        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            await asyncio.sleep(60)

    log.clear()

    async def main():
        task = asyncio.create_task(arun_steps(body(Hanging(replies=["x"]))))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(log)

    assert asyncio.run(main()) == ["saw CancelledError", "finally"]


def test_the_judge_in_the_loop_draws_its_candidates_from_the_event_loop(db, plugin):
    """On the judge-loop graph in a batch, every candidate and the client are awaited on the loop (ainvoke)."""
    calls: list = []

    class Noting(ScriptedChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            calls.append((self.script_name, "invoke"))
            return super()._generate(messages, stop, run_manager, **kwargs)

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            calls.append((self.script_name, "ainvoke"))
            return ScriptedChatModel._generate(self, messages, stop, None, **kwargs)

    class P:
        @hookimpl
        def register_chat_models(self, register):
            from psyagents.default_plugins.scripted_models import BUILTIN_SCRIPTS

            register("noting", lambda name, options: Noting(replies=BUILTIN_SCRIPTS[name], cycle=True, script_name=name))

    plugin(P(), "noting-models")
    result = psyagents.simulate(["kevin-panic"], "cbt", 1, counselor="noting:counselor", client="noting:client", db=db,
                                max_turns=2, graph="judge-loop")
    assert result.completed == 1
    counselor = [how for who, how in calls if who == "counselor"]
    assert len(counselor) >= 4 and set(counselor) == {"ainvoke"}  # two turns, several candidates each
    assert {how for who, how in calls} == {"ainvoke"}
