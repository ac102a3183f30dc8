"""Graph files compile to LangGraph graphs; bad specs are named; langgraph.json entries load and run."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from psyagents.errors import DataFileError
from psyagents.graphs import mermaid, validate
from psyagents.hookspecs import hookimpl
from psyagents.registry import data_dir, get_graph_spec, graph_specs, load_yaml_model
from psyagents.specs import GraphSpec
from tests.conftest import ROOT


def _spec(tmp_path, text: str) -> GraphSpec:
    path = tmp_path / "g.yaml"
    path.write_text(text, encoding="utf-8")
    return load_yaml_model(path, GraphSpec)


def test_every_graph_draws_as_mermaid():
    for spec in graph_specs().values():
        diagram = mermaid(spec)
        for name in spec.nodes:
            assert name in diagram


@pytest.mark.parametrize(
    "text,message",
    [
        ("nodes: {a: {type: client}}\nstart: b\nedges: {a: END}", "start: 'b' is not a node"),
        ("nodes: {a: {type: client}}\nstart: a\nedges: {a: nowhere}", "edges.a: 'nowhere' is not a node or END"),
        ("nodes: {a: {type: client}, b: {type: end}}\nstart: a\nedges: {b: END}", "nodes.a: no edge or route leaves this node"),
        ("nodes: {a: {type: client}}\nstart: a\nroutes: {a: [{if: 'risk >=', to: END}, {to: END}]}", "cannot parse condition"),
        ("nodes: {a: {type: client}}\nstart: a\nroutes: {a: [{if: ended, to: END}]}", "the last branch needs no 'if'"),
        ("nodes: {a: {type: client}, b: {type: counselor}}\nstart: a\nedges: {a: b, b: a}",
         "nodes.a: no path from this node to END"),
        # END is reachable from the start, but a loop the session can enter has no way out
        ("nodes: {a: {type: client}, b: {type: counselor}, c: {type: client}}\nstart: a\n"
         "routes: {a: [{if: ended, to: END}, {to: b}]}\nedges: {b: c, c: b}", "nodes.b: no path from this node to END"),
    ],
)
def test_structural_errors_name_the_field(tmp_path, text, message):
    with pytest.raises(DataFileError, match=f"g.yaml: .*{message}".replace("(", r"\(").replace(")", r"\)")):
        _spec(tmp_path, text)


def test_unknown_node_type_and_condition(tmp_path):
    spec = _spec(tmp_path, "nodes: {a: {type: clinet}}\nstart: a\nedges: {a: END}")
    with pytest.raises(DataFileError, match="nodes.a.type: unknown node type 'clinet' \\(did you mean 'client'\\?\\)"):
        validate(spec)
    spec = _spec(tmp_path, "nodes: {a: {type: client}}\nstart: a\nroutes: {a: [{if: 'rsk >= high', to: END}, {to: END}]}")
    with pytest.raises(DataFileError, match="unknown condition 'rsk' \\(did you mean 'risk'\\?\\)"):
        validate(spec)
    spec = _spec(tmp_path, "nodes: {a: {type: client}}\nstart: a\nroutes: {a: [{if: 'risk >= severe', to: END}, {to: END}]}")
    with pytest.raises(DataFileError, match="unknown risk level 'severe'"):
        validate(spec)


def test_a_plugin_node_type_in_a_custom_graph(tmp_path, db, plugin):
    """A plugin adds a node type; a graph file uses it between counsellor and client."""
    seen = []

    def make_counter(ctx, name, params):
        def node(state):
            seen.append((name, params["label"], state.get("turn")))
            return {}
        return node

    class P:
        @hookimpl
        def register_node_types(self, register):
            register("counter", make_counter, description="counts turns")

    plugin(P(), "counter-plugin")
    default = yaml.safe_load((data_dir("graphs") / "default.yaml").read_text())
    default["nodes"]["count"] = {"type": "counter", "params": {"label": "x"}}
    default["routes"]["counselor"][-1]["to"] = "count"
    default["edges"]["count"] = "client"
    path = tmp_path / "counting.yaml"
    path.write_text(yaml.safe_dump(default), encoding="utf-8")
    import psyagents

    s = psyagents.run_session("kevin-panic", "cbt", "scripted:counselor?cycle=true", "scripted:client?cycle=true",
                              graph=str(path), max_turns=3, db=db)
    assert s.end_reason == "turn_cap"
    assert seen == [("count", "x", 1), ("count", "x", 2)]


def test_langgraph_json_names_every_graph_and_each_loads_by_path():
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert set(config["graphs"]) == set(graph_specs())
    for graph_id, ref in config["graphs"].items():
        path, _, attr = ref.partition(":")
        spec = importlib.util.spec_from_file_location(f"lg_{graph_id.replace('-', '_')}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        factory = getattr(module, attr)
        graph = factory({"configurable": {"counselor": "scripted:counselor", "client": "scripted:client", "max_turns": 2}})
        result = graph.invoke({"messages": [], "turn": 0}, {"recursion_limit": 50})
        assert result["end_reason"] == "turn_cap"
        assert [m.name for m in result["messages"]] == ["client", "counselor", "client", "counselor"]


def test_graph_by_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((data_dir("graphs") / "interactive-agents.yaml").read_text(), encoding="utf-8")
    assert get_graph_spec(str(path)).id == "mine"


def test_nodes_of_the_state_alone_are_wrapped_and_others_keep_what_langgraph_passes(db, plugin, tmp_path):
    """Plain node functions compile as StateNode objects; a node that asks for ``config`` still gets it."""
    from psyagents.graphs import StateNode, build_session_graph
    from psyagents.registry import get_persona, get_style
    from psyagents.session import build_context

    threads = []

    def make_watcher(ctx, name, params):
        def node(state, config):
            threads.append(config["configurable"]["thread_id"])
            return {}
        return node

    class P:
        @hookimpl
        def register_node_types(self, register):
            register("watcher", make_watcher, description="sees the run's config")

    plugin(P(), "watcher-plugin")
    spec = yaml.safe_load((data_dir("graphs") / "default.yaml").read_text())
    spec["nodes"]["watch"] = {"type": "watcher"}
    spec["routes"]["counselor"][-1]["to"] = "watch"
    spec["edges"]["watch"] = "client"
    path = tmp_path / "watching.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    import psyagents

    s = psyagents.run_session("kevin-panic", "cbt", "scripted:counselor?cycle=true", "scripted:client?cycle=true",
                              graph=str(path), max_turns=3, db=db, session_id="w1")
    assert s.end_reason == "turn_cap" and threads == ["w1", "w1"]

    ctx = build_context("x", get_persona("kevin-panic"), get_style("cbt"), "scripted:counselor", "scripted:client",
                        max_turns=1, seed=None, trace=None)
    graph = build_session_graph(psyagents.get_graph_spec(str(path)), ctx)
    assert isinstance(graph.builder.nodes["client"].runnable.func, StateNode)
    assert not isinstance(graph.builder.nodes["watch"].runnable.func, StateNode)


def test_async_node_functions_still_run_on_the_async_api(db, plugin, tmp_path):
    """A plugin node written as ``async def`` is left to LangGraph (not wrapped), so batches can run it."""
    import asyncio

    from psyagents.graphs import StateNode, build_session_graph
    from psyagents.registry import get_persona, get_style
    from psyagents.session import FRESH_INPUT, build_context

    seen = []

    def make_async(ctx, name, params):
        async def node(state):
            seen.append(len(state["messages"]))
            return {}
        return node

    class P:
        @hookimpl
        def register_node_types(self, register):
            register("async-watch", make_async, description="an async node")

    plugin(P(), "async-plugin")
    spec = yaml.safe_load((data_dir("graphs") / "default.yaml").read_text())
    spec["nodes"]["watch"] = {"type": "async-watch"}
    spec["routes"]["counselor"][-1]["to"] = "watch"
    spec["edges"]["watch"] = "client"
    path = tmp_path / "async.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    ctx = build_context("a", get_persona("kevin-panic"), get_style("cbt"), "scripted:counselor?cycle=true",
                        "scripted:client?cycle=true", max_turns=3, seed=None, trace=None)
    graph = build_session_graph(load_yaml_model(path, GraphSpec), ctx)
    assert not isinstance(graph.builder.nodes["watch"].runnable.func, StateNode)
    final = asyncio.run(graph.ainvoke(dict(FRESH_INPUT), {"recursion_limit": 100}))
    assert final["end_reason"] == "turn_cap" and seen == [2, 4]
