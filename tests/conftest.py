"""Shared fixtures. Installed third-party plugins never load in tests (PSYAGENTS_LOAD_PLUGINS="")."""

from __future__ import annotations

import os

os.environ["PSYAGENTS_LOAD_PLUGINS"] = ""

import sys
from pathlib import Path

import pytest

from psyagents.plugins import register_plugin, unregister_plugin

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "traces.db"


@pytest.fixture
def plugin():
    """Register plugin objects for one test: ``plugin(obj, name)``; all are removed afterwards."""
    names: list[str] = []

    def add(obj, name: str) -> None:
        names.append(register_plugin(obj, name=name))

    try:
        yield add
    finally:
        for name in names:
            unregister_plugin(name)


def write_script(path: Path, replies: list[str]) -> str:
    """A ``scripted:FILE`` model string for these replies."""
    import yaml

    path.write_text(yaml.safe_dump({"replies": replies}, allow_unicode=True), encoding="utf-8")
    return f"scripted:{path}"


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    """Run the real ``psyagents`` entry point in a subprocess."""
    import subprocess

    full_env = {**os.environ, "PSYAGENTS_LOAD_PLUGINS": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "psyagents", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300
    )
