"""Plugin loading: built-ins, entry points, PSYAGENTS_LOAD_PLUGINS, overriding built-ins, collectors."""

from __future__ import annotations

import subprocess
import sys

import pytest

import psyagents
from psyagents import hookspecs
from psyagents.hookspecs import hookimpl
from psyagents.plugins import DEFAULT_PLUGINS, get_plugins, pm
from psyagents.styles import Plan, TherapyStyle


def test_builtins_are_registered_as_plugins():
    names = {p["name"] for p in get_plugins()}
    assert set(DEFAULT_PLUGINS) <= names


def test_all_hook_specs_exist():
    specs = {name for name in dir(hookspecs) if name.startswith("register_")}
    assert specs >= {
        "register_chat_models", "register_therapy_styles", "register_personas", "register_principles",
        "register_judges", "register_safety_checks", "register_node_types", "register_trainers",
        "register_exporters", "register_commands", "register_graphs", "register_route_conditions",
    }
    for name in specs:
        assert hasattr(pm.hook, name)


class EchoStyle(TherapyStyle):
    name = "cbt"  # same name as the built-in: a plugin wins over a built-in
    title = "Override"
    techniques = {"echo": "Repeat the client's words."}
    stages = ("only",)

    def plan(self, view):
        return Plan(stage="only", technique="echo", instruction="Repeat.")


def test_a_plugin_overrides_a_builtin_by_name(plugin, db):
    class P:
        @hookimpl
        def register_therapy_styles(self, register):
            register(EchoStyle())

    assert psyagents.get_style("cbt").title != "Override"
    plugin(P(), "override")
    assert psyagents.get_style("cbt").title == "Override"
    s = psyagents.run_session("maya-exam-anxiety", "cbt", "scripted:counselor", "scripted:client", max_turns=1, db=db)
    assert s.turns[1].technique == "echo"


def test_collectors_for_judges_trainers_exporters(plugin):
    from psyagents.plugins import collect

    class P:
        @hookimpl
        def register_judges(self, register):
            register("length", lambda: "judge", description="d")

        @hookimpl
        def register_trainers(self, register):
            register("sft", lambda: "trainer")

        @hookimpl
        def register_exporters(self, register):
            register("sharegpt", lambda: "exporter")

    plugin(P(), "extras")
    assert collect("register_judges")["length"][1] == {"description": "d"}
    assert collect("register_trainers")["sft"][0]() == "trainer"
    assert collect("register_exporters")["sharegpt"][0]() == "exporter"


def test_plugin_commands_join_the_cli(plugin):
    import click
    from click.testing import CliRunner

    from psyagents.cli import cli

    class P:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello")
            def hello():
                click.echo("hello from a plugin")

    plugin(P(), "cmd")
    pm.hook.register_commands(cli=cli)
    try:
        assert CliRunner().invoke(cli, ["hello"]).output == "hello from a plugin\n"
    finally:
        cli.commands.pop("hello", None)


@pytest.mark.parametrize("env,expect_sfbt", [("", False), ("psyagents-sfbt", True), ("sfbt", True)])
def test_load_plugins_env_restricts_entry_points(env, expect_sfbt):
    import importlib.metadata

    try:
        importlib.metadata.distribution("psyagents-sfbt")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("psyagents-sfbt is not installed (make setup installs it)")
    code = "import psyagents; print(sorted(psyagents.styles()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PSYAGENTS_LOAD_PLUGINS": env}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert ("'sfbt'" in out.stdout) is expect_sfbt


def test_without_the_env_variable_installed_plugins_load():
    import importlib.metadata
    import os

    try:
        importlib.metadata.distribution("psyagents-sfbt")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("psyagents-sfbt is not installed")
    env = {k: v for k, v in os.environ.items() if k != "PSYAGENTS_LOAD_PLUGINS"}
    code = "from psyagents.plugins import get_plugins; print([p.get('distribution') for p in get_plugins()])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "psyagents-sfbt" in out.stdout, out.stderr
