"""Compile a ``GraphSpec`` (from graphs/*.yaml) into a LangGraph ``StateGraph``."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from langgraph.graph import END, START, StateGraph

from .errors import DataFileError, did_you_mean
from .plugins import collect
from .specs import CONDITION_RE, GraphSpec, RouteSpec
from .state import SessionContext, SessionState


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


def _router(branches: list[RouteSpec], conds: dict, ctx: SessionContext) -> Callable[[SessionState], str]:
    compiled = []
    for b in branches:
        if b.when is None:
            compiled.append((None, b.to))
        else:
            negate, cname, op, value = _parse_condition(b.when)
            compiled.append(((conds[cname][0], negate, op, value), b.to))

    def route(state):  # unannotated: LangGraph would evaluate the hints on every compile
        for test, target in compiled:
            if test is None:
                return target
            fn, negate, op, value = test
            if bool(fn(state, ctx, op, value)) != negate:
                return target
        return compiled[-1][1]

    return route


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


def _plain_state_function(fn: Any) -> bool:
    if not inspect.isfunction(fn) or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return False  # async nodes keep LangGraph's own handling
    params = list(inspect.signature(fn).parameters.values())
    return len(params) == 1 and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD)


def build_session_graph(spec: GraphSpec, ctx: SessionContext, *, checkpointer: Any = None):
    """Compile ``spec`` with nodes built for ``ctx``; returns a LangGraph ``CompiledStateGraph``."""
    validate(spec)
    types, conds = node_types(), route_conditions()
    g = StateGraph(SessionState)
    for name, node in spec.nodes.items():
        factory = types[node.type][0]
        fn = factory(ctx, name, dict(node.params))
        g.add_node(name, StateNode(fn) if _plain_state_function(fn) else fn)
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
