"""A non-editable install (`pip install .`) still finds the shipped personas, principles and graphs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_non_editable_install_finds_the_data(tmp_path):
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-cache-dir", "-q",
         "--target", str(site), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    if install.returncode != 0 and "hatchling" in install.stderr:
        pytest.skip("hatchling is not installed (make setup installs it)")
    assert install.returncode == 0, install.stderr
    assert (site / "psyagents" / "_data" / "personas").is_dir()
    # Run from an empty folder with the installed copy first on the path: nothing from the checkout is visible.
    code = (
        "import psyagents, psyagents.registry as r; "
        "assert psyagents.__file__.startswith(%r), psyagents.__file__; "
        "print(len(psyagents.personas()), len(r.principles()), sorted(r.graph_specs()), r.data_dir('graphs'))" % str(site)
    )
    env = {**os.environ, "PYTHONPATH": str(site), "PSYAGENTS_LOAD_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    n_personas, n_principles, graphs, folder = out.stdout.split(" ", 3)
    assert int(n_personas) >= 30 and int(n_principles) >= 7
    assert "'default'" in graphs and "_data" in folder
