"""Graph factories for LangGraph's own tooling (``langgraph.json``: ``langgraph dev``, LangGraph Studio).

Each factory takes a ``RunnableConfig``; its ``configurable`` may set
``persona``, ``style``, ``counselor``, ``client``, ``max_turns``, ``seed`` and
``db`` (a trace database; none by default, since the server keeps its own
checkpoints); for graphs with a ``candidates`` node (``judge-loop``) also ``candidates``
(N), ``candidate_models`` (a list or comma-separated model strings), ``judge``,
``principles`` and ``select``, which override the node's params. The graph is compiled
without a checkpointer: the server adds one.
"""

from __future__ import annotations

import uuid
from typing import Any

from psyagents.graphs import build_session_graph
from psyagents.registry import get_graph_spec, get_persona, get_style
from psyagents.session import build_context, package_versions
from psyagents.specs import GraphSpec
from psyagents.tracing import TraceStore


CANDIDATE_KEYS = {"candidates": "n", "candidate_models": "models", "judge": "judge", "principles": "principles", "select": "select"}


def with_candidate_params(spec: GraphSpec, conf: dict[str, Any]) -> GraphSpec:
    """``spec`` with the params of its ``candidates`` nodes overridden from a run's ``configurable``."""
    override = {param: conf[key] for key, param in CANDIDATE_KEYS.items() if conf.get(key) is not None}
    if isinstance(override.get("models"), str):
        override["models"] = [m.strip() for m in override["models"].split(",") if m.strip()]
    if "n" in override:
        override["n"] = int(override["n"])
    if not override:
        return spec
    nodes = {
        name: node.model_copy(update={"params": {**node.params, **override}}) if node.type == "candidates" else node
        for name, node in spec.nodes.items()
    }
    return spec.model_copy(update={"nodes": nodes})


def make_factory(graph_id: str):
    """A factory building ``graph_id`` for the configuration LangGraph passes in."""

    def factory(config: dict[str, Any] | None = None):
        conf = dict((config or {}).get("configurable", {}))
        counselor = conf.get("counselor", "local:smollm2")
        client = conf.get("client", counselor)
        session_id = conf.get("thread_id") or uuid.uuid4().hex[:12]
        persona = get_persona(conf.get("persona", "maya-exam-anxiety"))
        style = get_style(conf.get("style", "integrative"))
        max_turns = int(conf.get("max_turns", 8))
        ctx = build_context(session_id, persona, style, counselor, client, max_turns=max_turns, seed=conf.get("seed"), trace=None)
        if conf.get("db"):
            ctx.trace = TraceStore(conf["db"])
            ctx.trace.start_session(
                session_id,
                config={"persona": persona.id, "style": style.name, "graph": graph_id, "counselor": counselor,
                        "client": client, "max_turns": max_turns, "seed": conf.get("seed")},
                persona=persona.model_dump(), versions=package_versions(),
            )
        return build_session_graph(with_candidate_params(get_graph_spec(graph_id), conf), ctx)

    factory.__name__ = graph_id.replace("-", "_")
    return factory


default = make_factory("default")
interactive_agents = make_factory("interactive-agents")
judge_loop = make_factory("judge-loop")
