"""Documentation stays true to the code: every hook is documented, the README opens with the two commands."""

from __future__ import annotations

import re

from psyagents import hookspecs
from tests.conftest import ROOT


def test_every_hook_is_documented():
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `?(register_\w+)", doc, re.MULTILINE))
    hooks = {name for name in dir(hookspecs) if name.startswith("register_")}
    assert hooks - documented == set(), f"undocumented hooks: {sorted(hooks - documented)}"
    assert documented - hooks == set(), f"documented hooks that do not exist: {sorted(documented - hooks)}"


def test_readme_opens_with_make_run_and_make_test():
    lines = [line.strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.strip()]
    commands = [line for line in lines[:12] if line.startswith("make ")]
    assert commands[:2] == ["make run", "make test"]


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_docs_exist():
    for name in ("architecture.md", "plugins.md", "tutorial-therapy-style.md"):
        assert (ROOT / "docs" / name).stat().st_size > 500, name
