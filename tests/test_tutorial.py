"""docs/tutorial-therapy-style.md: its code is the shipped psyagents-sfbt plugin, and it runs."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys

import pytest

import psyagents
from tests.conftest import ROOT

TUTORIAL = ROOT / "docs" / "tutorial-therapy-style.md"
PLUGIN_DIR = ROOT / "plugins" / "psyagents-sfbt"


def block(lang: str, title: str) -> str:
    """The one fenced block in the tutorial marked ```LANG title="TITLE"``` (without its final newline)."""
    found = re.findall(rf'^```{lang} title="{re.escape(title)}"\n(.*?)\n```$', TUTORIAL.read_text(encoding="utf-8"), re.M | re.S)
    assert len(found) == 1, f"expected one {lang} block titled {title!r} in {TUTORIAL.name}, found {len(found)}"
    return found[0]


def _installed() -> bool:
    try:
        importlib.metadata.distribution("psyagents-sfbt")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize(("lang", "name"), [("python", "psyagents_sfbt.py"), ("toml", "pyproject.toml")])
def test_tutorial_code_is_the_shipped_plugin(lang, name):
    shipped = (PLUGIN_DIR / name).read_text(encoding="utf-8").removesuffix("\n")
    assert block(lang, name) == shipped, f"the tutorial's {name} differs from plugins/psyagents-sfbt/{name}"


@pytest.fixture
def tutorial_module(tmp_path, monkeypatch, plugin):
    """The tutorial's psyagents_sfbt.py written to a temporary folder, imported and registered as a plugin."""
    path = tmp_path / "psyagents_sfbt.py"
    path.write_text(block("python", "psyagents_sfbt.py") + "\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("psyagents_sfbt", path)
    module = importlib.util.module_from_spec(spec)
    # The tutorial's other blocks say `from psyagents_sfbt import ...`: they must get this copy.
    monkeypatch.setitem(sys.modules, "psyagents_sfbt", module)
    spec.loader.exec_module(module)
    plugin(module, "tutorial-sfbt")  # unregistered in the fixture's finally
    return module


def shown_output(after: str) -> str:
    """The ```text block that follows the block titled ``after`` in the tutorial."""
    text = TUTORIAL.read_text(encoding="utf-8")
    rest = text[text.index(f'title="{after}"') :]
    return re.search(r"^```text\n(.*?)\n```$", rest, re.M | re.S).group(1)


def test_tutorial_session_runs(tutorial_module, capsys):
    namespace = {"__name__": "run_sfbt"}
    exec(compile(block("python", "run_sfbt.py"), "run_sfbt.py", "exec"), namespace)
    s = namespace["s"]
    assert s.status == "completed" and s.end_reason == "turn_cap" and s.style == "sfbt"
    style = psyagents.get_style("sfbt")
    assert isinstance(style, tutorial_module.SolutionFocusedStyle)
    counselor = [t for t in s.turns if t.speaker == "counselor"]
    assert len(counselor) == 4
    assert all(t.stage in style.stages and t.technique in style.techniques for t in counselor)
    # Replaying the policy over the recorded dialogue gives the recorded stage and technique of every turn.
    previous = []
    for n, t in enumerate(counselor, start=1):
        history = tuple((u.speaker, u.text) for u in s.turns if u.idx < t.idx)
        plan = style.plan(psyagents.PlanView(turn=n, max_turns=4, history=history, previous=tuple(previous)))
        assert (t.stage, t.technique) == (plan.stage, plan.technique), f"counsellor turn {n}"
        previous.append(plan)
    assert (counselor[0].stage, counselor[0].technique) == ("goals", "goal-formulation")
    assert (counselor[-1].stage, counselor[-1].technique) == ("feedback", "end-of-session-feedback")
    out = capsys.readouterr().out.rstrip("\n")
    shown = re.sub(r"^session \w+:", f"session {s.id}:", shown_output("run_sfbt.py"))
    assert out == shown, "the output shown after run_sfbt.py in the tutorial is out of date"


def test_tutorial_policy_tests_pass(tutorial_module):
    namespace = {"__name__": "test_policy"}
    exec(compile(block("python", "test_policy.py"), "test_policy.py", "exec"), namespace)
    tests = {name: fn for name, fn in namespace.items() if name.startswith("test_") and callable(fn)}
    assert len(tests) >= 5
    for fn in tests.values():
        fn()


def _styles_in_subprocess(load_plugins: str, tmp_path) -> list[str]:
    code = f"import os; os.environ['PSYAGENTS_LOAD_PLUGINS'] = {load_plugins!r}; import psyagents; print(sorted(psyagents.styles()))"
    env = {k: v for k, v in os.environ.items() if k != "PSYAGENTS_LOAD_PLUGINS"}
    # Run outside the repository so psyagents_sfbt can only come from the installed distribution.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


installed_only = pytest.mark.skipif(not _installed(), reason="psyagents-sfbt is not installed (pip install -e plugins/psyagents-sfbt)")


@installed_only
def test_installed_plugin_is_found_through_its_entry_point(tmp_path):
    found = _styles_in_subprocess("psyagents-sfbt", tmp_path)
    assert "sfbt" in found and "integrative" in found


@installed_only
def test_installed_plugin_does_not_load_when_plugins_are_off(tmp_path):
    found = _styles_in_subprocess("", tmp_path)
    assert "sfbt" not in found and "integrative" in found
