"""Compile a ``GraphSpec`` (from graphs/*.yaml) into a LangGraph ``StateGraph``."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from langchain_core.runnables import Runnable
from langgraph.graph import END, START, StateGraph

from .errors import DataFileError, did_you_mean
from .plugins import collect
from .specs import CONDITION_RE, GraphSpec, RouteSpec
from .state import SessionContext, SessionState
from .steps import LoopNode, StateNode, TwinNode


def node_types() -> dict[str, tuple[Callable, dict]]:
    return collect("register_node_types")


def route_conditions() -> dict[str, tuple[Callable, dict]]:
    return collect("register_route_conditions")


def _parse_condition(expr: str) -> tuple[bool, str, str | None, str | None]:
    m = CONDITION_RE.match(expr)
    assert m, expr  # GraphSpec already validated the syntax
    return bool(m.group(1)), m.group(2), m.group(3), m.group(4)


def validate(spec: GraphSpec) -> None:
    """Check that every node type and condition a graph names is registered."""
    types, conds = node_types(), route_conditions()
    where = f"graph '{spec.id}'"
    for name, node in spec.nodes.items():
        if node.type not in types:
            raise DataFileError(f"{where}: nodes.{name}.type: unknown node type '{node.type}'{did_you_mean(node.type, types)}")
    for src, branches in spec.routes.items():
        for i, branch in enumerate(branches):
            if branch.when is None:
                continue
            _, cname, _, value = _parse_condition(branch.when)
            if cname not in conds:
                raise DataFileError(f"{where}: routes.{src}[{i}].if: unknown condition '{cname}'{did_you_mean(cname, conds)}")
            check = conds[cname][1].get("validate")
            if check is not None and value is not None:
                try:
                    check(value)
                except ValueError as exc:
                    raise DataFileError(f"{where}: routes.{src}[{i}].if: {exc}") from None


class Route(Runnable):
    """A graph's router as LangGraph calls it: in place, on the sync and the async API.

    Given a plain function, LangGraph traces every routing as a run of its own and, on the
    async API, hands it to a thread and back: more CPU than the rest of a step. Route
    conditions are quick predicates over the state (no model calls), so they run in place.
    """

    name = "route"

    def __init__(self, route: Callable[[SessionState], str]):
        self.route = route

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> str:
        return self.route(input)

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> str:
        return self.route(input)


def _router(branches: list[RouteSpec], conds: dict, ctx: SessionContext) -> Route:
    compiled = []
    for b in branches:
        if b.when is None:
            compiled.append((None, b.to))
        else:
            negate, cname, op, value = _parse_condition(b.when)
            compiled.append(((conds[cname][0], negate, op, value), b.to))

    def route(state):
        for test, target in compiled:
            if test is None:
                return target
            fn, negate, op, value = test
            if bool(fn(state, ctx, op, value)) != negate:
                return target
        return compiled[-1][1]

    return Route(route)


def _plain_state_function(fn: Any) -> bool:
    if not inspect.isfunction(fn) or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return False  # async nodes keep LangGraph's own handling
    params = list(inspect.signature(fn).parameters.values())
    return len(params) == 1 and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD)


def build_session_graph(spec: GraphSpec, ctx: SessionContext, *, checkpointer: Any = None, on_loop: bool = False):
    """Compile ``spec`` with nodes built for ``ctx``; returns a LangGraph ``CompiledStateGraph``.

    With ``on_loop=True`` (a batch on the async API) ``TwinNode``s run on the event loop,
    their model calls awaited; other sync nodes run in the loop's executor, as LangGraph runs them.
    """
    validate(spec)
    types, conds = node_types(), route_conditions()
    g = StateGraph(SessionState)
    for name, node in spec.nodes.items():
        factory = types[node.type][0]
        fn = factory(ctx, name, dict(node.params))
        if isinstance(fn, TwinNode):
            fn = LoopNode(fn) if on_loop else fn
        elif _plain_state_function(fn):
            fn = StateNode(fn)
        g.add_node(name, fn)
    target = lambda n: END if n == "END" else n  # noqa: E731
    g.add_edge(START, spec.start)
    for src, dst in spec.edges.items():
        g.add_edge(src, target(dst))
    for src, branches in spec.routes.items():
        path_map = {b.to: target(b.to) for b in branches}
        g.add_conditional_edges(src, _router(branches, conds, ctx), path_map)
    return g.compile(checkpointer=checkpointer, name=spec.id)


def mermaid(spec: GraphSpec) -> str:
    """The graph as a Mermaid flowchart (built with scripted models; nothing runs)."""
    from .registry import get_style, personas
    from .session import build_context

    persona = next(iter(personas().values()))
    ctx = build_context("mermaid", persona, get_style("integrative"), "scripted:counselor", "scripted:client",
                        max_turns=1, seed=None, trace=None)
    return build_session_graph(spec, ctx).get_graph().draw_mermaid()
