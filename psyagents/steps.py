"""Nodes written once, run both ways: as plain functions, or on a batch's event loop.

A session node that calls a chat model would block its thread for the whole call. Run with
``run_session`` that is what it should do; run by ``psyagents.simulate``, with dozens of
sessions on one event loop, each node would need a thread of its own, and handing every
node step to a thread and back costs more CPU than the rest of a fast turn. So the built-in
nodes do not call models themselves: their bodies are generators that *yield* what they
need done and get the answer back.

- ``ModelCall(model, messages, kwargs)``: call a chat model; the answer is its message.
- ``InThread(fn)``: call ``fn()``, which may block (a safety check that asks a model, a
  plugin's style); the answer is what it returns.

``run_steps`` does the work directly (``invoke``, ``fn()``); ``arun_steps`` awaits it without
leaving the event loop (``ainvoke``; ``fn`` goes to a thread). Work that is quick and never
waits (the built-in screens, style policies and trace writes) stays in the generator.
``TwinNode`` makes such a node a LangGraph node of either kind (see
``graphs.build_session_graph``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ModelCall:
    """A request to call ``model`` on ``messages`` with ``kwargs`` (``seed``, ``stop``...)."""

    model: BaseChatModel
    messages: list[BaseMessage]
    kwargs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InThread:
    """A request to call ``fn()``, which may block: in a batch it runs in a worker thread."""

    fn: Callable[[], Any]


Steps = Generator["ModelCall | InThread", Any, T]


def _resume(gen: Steps[T], value: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Give the body its answer (or raise ``error`` at its ``yield``): ``(True, result)`` once it returns, else ``(False, request)``."""
    try:
        request = gen.send(value) if error is None else gen.throw(error)
    except StopIteration as stop:
        return True, stop.value
    if not isinstance(request, (ModelCall, InThread)):
        what = type(request).__name__
        if inspect.iscoroutine(request):
            request.close()  # never to be awaited: no "was never awaited" warning on top of the error
            what = "a coroutine (await it in an async node, or yield ModelCall(...) instead)"
        gen.close()  # a programming error, not something for the body to catch and retry: its finally runs
        raise TypeError(f"node body {gen.__qualname__} yielded {what}; a node body yields ModelCall or InThread")
    return False, request


def is_blocking(obj: Any, method: str) -> bool:
    """Whether ``obj.method()`` may block, so a batch must run it in a thread (see ``SafetyCheck.blocking``).

    ``blocking = False`` counts only where it was said about this method: on the instance, or on
    the class that defines ``method`` or a subclass of it. A plugin that subclasses a built-in
    quick style or check and overrides ``plan``/``screen``/``check`` (perhaps to ask a model)
    inherits the attribute but not the promise, so its method goes to a thread unless it sets
    ``blocking = False`` itself.
    """
    if "blocking" in getattr(obj, "__dict__", {}):
        return bool(obj.__dict__["blocking"])
    return _class_blocking(type(obj), method)


@functools.lru_cache(maxsize=256)
def _class_blocking(cls: type, method: str) -> bool:
    mro = cls.__mro__
    said = next((i for i, c in enumerate(mro) if "blocking" in c.__dict__), None)
    defined = next((i for i, c in enumerate(mro) if method in c.__dict__), None)
    if said is None:
        return True
    value = bool(mro[said].__dict__["blocking"])
    if value or defined is None:
        return value
    return said > defined  # said on a base class of the one that (re)defines the method: no promise


def run_steps(result: Steps[T] | T) -> T:
    """Drive a node body's generator, making each call in this thread; a plain value is returned as it is.

    Whatever a call raises (Ctrl-C included) is raised in the body at its ``yield``, so the
    body's own ``except`` and ``finally`` run as if it had made the call itself.
    """
    if not inspect.isgenerator(result):
        return result
    value, error = None, None
    try:
        while True:
            done, request = _resume(result, value, error)
            if done:
                return request
            value, error = None, None
            try:
                value = request.model.invoke(request.messages, **request.kwargs) if isinstance(request, ModelCall) else request.fn()
            except GeneratorExit:
                raise
            except BaseException as exc:  # raised where the node asked for it
                error = exc
    finally:
        result.close()


async def arun_steps(result: Steps[T] | T) -> T:
    """``run_steps`` on the event loop: models through ``ainvoke``, blocking calls in a thread.

    A cancelled batch task raises ``CancelledError`` in the body at its ``yield``.
    """
    if not inspect.isgenerator(result):
        return result
    value, error = None, None
    try:
        while True:
            done, request = _resume(result, value, error)
            if done:
                return request
            value, error = None, None
            try:
                if isinstance(request, ModelCall):
                    value = await request.model.ainvoke(request.messages, **request.kwargs)
                else:
                    value = await asyncio.to_thread(request.fn)
            except GeneratorExit:
                raise
            except BaseException as exc:
                error = exc
    finally:
        result.close()


def call(fn: Callable[[], T], *, blocking: bool) -> Steps[T]:
    """``x = yield from call(fn, blocking=...)``: ``fn()`` in place, or as an ``InThread`` request."""
    if not blocking:
        return fn()
    return (yield InThread(fn))


class StateNode:
    """A node function of the state alone, as LangGraph sees it: a callable object.

    Compiling a graph of plain functions makes LangGraph evaluate each one's type hints (to
    infer an input schema) and disassemble its closure (to find subgraphs it might call):
    about 60 ms of CPU per session graph, more than ten turns of a session on a fast model,
    and a batch compiles one graph per session. A callable object skips both. Nodes that
    take more than the state (``config``, ``runtime``...) and Runnables, compiled subgraphs
    included, are added as they are.
    """

    __slots__ = ("fn", "__name__")

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, state):  # no annotations: nothing for LangGraph to evaluate
        return self.fn(state)


class TwinNode(StateNode):
    """A ``StateNode`` whose body returns its update or a generator of requests (see the module docstring).

    Called, it is a plain node; ``acall`` is the same node for the event loop.
    """

    __slots__ = ()

    def __call__(self, state):
        return run_steps(self.fn(state))

    async def acall(self, state):
        return await arun_steps(self.fn(state))


class LoopNode:
    """A ``TwinNode`` as LangGraph's async API should run it: on the event loop, no thread."""

    __slots__ = ("node", "__name__")

    def __init__(self, node: TwinNode):
        self.node = node
        self.__name__ = node.__name__

    async def __call__(self, state):
        return await self.node.acall(state)
