"""Bad input refused in one line: foreign databases, imported sessions, graphs that cannot be built,
directories and deeply nested files where YAML is expected, non-string names, early Ctrl-C.

Each failure is one line (a PsyagentsError, or ``Error: ...`` and exit 2 on the command line)
and leaves what was on disk as it was.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

import psyagents
from psyagents.cli import main
from psyagents.errors import DataFileError, NotFoundError, PsyagentsError, did_you_mean, unknown
from psyagents.registry import data_dir, get_graph_spec, get_persona, get_principle, get_style
from psyagents.tracing import TraceStore, open_existing
from tests.conftest import ROOT

SCRIPTED = {"counselor": "scripted:counselor", "client": "scripted:client"}


def _cli(capsys, *args: str) -> tuple[int, str]:
    """Run the ``psyagents`` entry point in this process; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return info.value.code, capsys.readouterr().err


def _one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    for w in words:
        assert w in lines[0], err


def _snapshot(path) -> tuple[bytes, int, list[str]]:
    """A file's bytes, mtime and sibling files (no -wal/-shm/-journal left behind)."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


def _journal_mode(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


# 1. foreign databases and empty files ------------------------------------------------------
@pytest.fixture
def foreign(tmp_path):
    """Another program's SQLite file, with its own ``sessions`` table, in rollback-journal mode."""
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE sessions (who TEXT, at TEXT)")
    conn.execute("INSERT INTO sessions VALUES ('ann', 'monday')")
    conn.commit()
    conn.close()
    return path


def test_a_reading_command_leaves_another_programs_database_alone(foreign, capsys):
    before = _snapshot(foreign)
    code, err = _cli(capsys, "traces", "list", "--db", str(foreign))
    _one_line_error(code, err, str(foreign), "not a psyagents trace database (no _migrations table)")
    assert _snapshot(foreign) == before
    assert _journal_mode(foreign) == "delete"
    with pytest.raises(PsyagentsError, match="not a psyagents trace database"):
        open_existing(foreign)
    assert _snapshot(foreign) == before


def test_a_writing_command_refuses_another_programs_database(foreign, capsys):
    before = _snapshot(foreign)
    with pytest.raises(PsyagentsError, match="not a psyagents trace database"):
        TraceStore(foreign)
    code, err = _cli(capsys, "run", "--counselor", SCRIPTED["counselor"], "--client", SCRIPTED["client"],
                     "--max-turns", "1", "--quiet", "--db", str(foreign))
    _one_line_error(code, err, "not a psyagents trace database")
    assert _snapshot(foreign) == before and _journal_mode(foreign) == "delete"
    conn = sqlite3.connect(foreign)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["sessions"]
    conn.close()


def test_an_empty_file_is_not_turned_into_a_trace_database(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    before = _snapshot(path)
    code, err = _cli(capsys, "traces", "list", "--db", str(path))
    _one_line_error(code, err, "empty file, not a trace database")
    assert _snapshot(path) == before and path.stat().st_size == 0


def test_a_db_path_ending_in_a_slash_is_not_made_a_file(tmp_path, capsys):
    code, err = _cli(capsys, "run", "--persona", "maya-exam-anxiety", "--style", "cbt", "--counselor", "scripted:counselor",
                     "--client", "scripted:client", "--max-turns", "1", "--db", f"{tmp_path}/sub/")
    _one_line_error(code, err, f"database '{tmp_path}/sub/' names a folder; give a file, e.g. '{tmp_path}/sub/traces.db'")
    assert list(tmp_path.iterdir()) == []


def test_writing_still_creates_new_and_empty_files(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for path in (tmp_path / "new.db", empty):
        store = TraceStore(path)
        store.start_session("s", config={}, persona={"id": "p"}, versions={})
        store.close()
        store = open_existing(path)
        assert [r["id"] for r in store.sessions()] == ["s"]
        store.close()
        assert _journal_mode(path) == "wal"


# 2. resuming an imported session ------------------------------------------------------------
def _imported(tmp_path):
    from psyagents.export import import_sharegpt

    src = tmp_path / "d.json"
    src.write_text(json.dumps([{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]))
    db = tmp_path / "t.db"
    assert import_sharegpt(src, db) == 1
    store = TraceStore(db)
    sid = store.sessions()[0]["id"]
    store.close()
    return db, sid


@pytest.mark.parametrize("status", ["interrupted", "completed"])
def test_an_imported_session_cannot_be_resumed(tmp_path, capsys, status):
    db, sid = _imported(tmp_path)
    conn = sqlite3.connect(db)  # an import stopped half-way leaves its session 'running'; say it was interrupted
    conn.execute("UPDATE sessions SET status = ?", [status])
    conn.commit()
    conn.close()
    with pytest.raises(PsyagentsError, match=f"session '{sid}' was imported .* cannot be resumed"):
        psyagents.resume_session(sid, db)
    for quiet in ([], ["--quiet"]):
        code, err = _cli(capsys, "run", "--resume", sid, "--db", str(db), *quiet)
        _one_line_error(code, err, sid, "imported")
    store = TraceStore(db, create=False)
    assert store.events(sid) == [] and store.session(sid)["status"] == status
    store.close()


def test_a_damaged_stored_persona_names_the_session_and_field(tmp_path):
    db = tmp_path / "t.db"
    s = psyagents.run_session("maya-exam-anxiety", db=db, max_turns=1, **SCRIPTED)
    conn = sqlite3.connect(db)
    row = json.loads(conn.execute("SELECT persona FROM sessions").fetchone()[0])
    del row["name"]
    conn.execute("UPDATE sessions SET persona = ?, status = 'interrupted'", [json.dumps(row)])
    conn.commit()
    conn.close()
    with pytest.raises(PsyagentsError, match=f"session '{s.id}': stored persona: field 'name'") as info:
        psyagents.resume_session(s.id, db)
    assert "\n" not in str(info.value)


# 3. a graph that cannot be built leaves no session ---------------------------------------------
def _graph_with(tmp_path, node: dict):
    spec = yaml.safe_load((data_dir("graphs") / "default.yaml").read_text())
    spec["nodes"]["extra"] = node
    spec["routes"]["counselor"][-1]["to"] = "extra"
    spec["edges"]["extra"] = "client"
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_an_unknown_node_type_writes_nothing(tmp_path):
    db = tmp_path / "t.db"
    graph = _graph_with(tmp_path, {"type": "no-such-node"})
    for _ in range(2):
        with pytest.raises(DataFileError, match="unknown node type 'no-such-node'"):
            psyagents.run_session("maya-exam-anxiety", db=db, graph=graph, max_turns=1, **SCRIPTED)
    assert not db.exists()


def test_a_node_that_fails_to_build_leaves_no_session(tmp_path, plugin):
    class P:
        @psyagents.hookimpl
        def register_node_types(self, register):
            def broken(ctx, name, params):
                raise PsyagentsError(f"node '{name}': bad params {params}")

            register("broken", broken, description="cannot be built")

    plugin(P(), "broken-node")
    db = tmp_path / "t.db"
    TraceStore(db).close()
    graph = _graph_with(tmp_path, {"type": "broken", "params": {"x": 1}})
    for _ in range(2):
        with pytest.raises(PsyagentsError, match="bad params"):
            psyagents.run_session("maya-exam-anxiety", db=db, graph=graph, max_turns=1, **SCRIPTED)
    store = TraceStore(db)
    assert store.sessions() == []
    store.close()


def test_ctrl_c_at_the_start_marks_the_session_interrupted(tmp_path):
    db = tmp_path / "t.db"

    def on_event(kind, data):
        if kind == "start":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        psyagents.run_session("maya-exam-anxiety", db=db, max_turns=1, session_id="early", on_event=on_event, **SCRIPTED)
    store = TraceStore(db)
    assert [(r["id"], r["status"]) for r in store.sessions()] == [("early", "interrupted")]
    store.close()
    s = psyagents.resume_session("early", db)
    assert s.status == "completed" and s.turns


# 4. a directory (or an unreadable file) where a YAML file is expected -------------------------
def test_a_directory_is_not_a_yaml_file(tmp_path, capsys):
    where = f"{tmp_path}: is a directory, expected a YAML file"
    for load in (get_persona, get_graph_spec, get_principle):
        with pytest.raises(DataFileError) as info:
            load(str(tmp_path))
        assert str(info.value) == where
    with pytest.raises(PsyagentsError, match="is a directory"):
        psyagents.resolve_principles(f"empathy,{tmp_path}")
    with pytest.raises(DataFileError, match="is a directory, expected a YAML file"):
        psyagents.get_chat_model(f"scripted:{tmp_path}")
    db = tmp_path / "t.db"
    for args in (["personas", "show", str(tmp_path)], ["graphs", "show", str(tmp_path)],
                 ["run", "--persona", str(tmp_path), "--db", str(db), "--quiet", "--counselor", "scripted:counselor"],
                 ["run", "--graph", str(tmp_path), "--db", str(db), "--quiet"],
                 ["run", "--counselor", f"scripted:{tmp_path}", "--client", "scripted:client", "--db", str(db), "--quiet"]):
        code, err = _cli(capsys, *args)
        _one_line_error(code, err, "is a directory, expected a YAML file")
    assert not db.exists()


def test_an_unreadable_file_names_itself(tmp_path, monkeypatch):
    """Permission denied, simulated: the tests run as root, for whom chmod 000 does not stop reading."""
    import pathlib

    persona = tmp_path / "locked.yaml"
    persona.write_text("name: x\n")
    real = pathlib.Path.read_text

    def read_text(self, *args, **kwargs):
        if self.name == "locked.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", read_text)
    with pytest.raises(DataFileError, match=r"locked.yaml: cannot read: Permission denied"):
        get_persona(str(persona))
    with pytest.raises(DataFileError, match=r"locked.yaml: cannot read: Permission denied"):
        psyagents.get_chat_model(f"scripted:{persona}")


# 5. names that are not strings (Python API) ---------------------------------------------------
def test_a_name_that_is_not_a_string(tmp_path):
    assert did_you_mean(None, ["a", "b"]) == ""
    assert did_you_mean(3, ["a"]) == ""
    err = unknown("judge", None, ["a", "b"])
    assert isinstance(err, NotFoundError) and "not None" in str(err)
    for bad in (None, 3):
        with pytest.raises(PsyagentsError, match=f"style must be .*not {bad!r}"):
            get_style(bad)
    with pytest.raises(PsyagentsError, match="style must be .*not None"):
        psyagents.run_session("maya-exam-anxiety", style=None, db=tmp_path / "t.db", **SCRIPTED)
    with pytest.raises(PsyagentsError, match="persona must be .*not None"):
        get_persona(None)
    assert not (tmp_path / "t.db").exists()


# 6. Ctrl-C while the plugins load -----------------------------------------------------------
def test_ctrl_c_while_plugins_load_exits_130_without_a_traceback(tmp_path):
    code = textwrap.dedent("""
        import sys, time
        import psyagents.cli as cli
        def slow():
            print("loading", flush=True)
            time.sleep(30)
        cli.load_plugins = slow
        cli.main(["plugins"])
    """)
    env = {**os.environ, "PSYAGENTS_LOAD_PLUGINS": ""}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "loading"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip() == "Aborted."


# 7. deeply nested YAML --------------------------------------------------------------------------
def test_deeply_nested_yaml_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(DataFileError, match="deep.yaml: nested too deeply"):
        get_persona(str(deep))
    code, err = _cli(capsys, "personas", "show", str(deep))
    _one_line_error(code, err, "deep.yaml")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("".join("  " * i + "a:\n" for i in range(3000)) + "  " * 3000 + "b: 1\n")
    with pytest.raises(DataFileError, match="mapping.yaml: nested too deeply"):
        get_graph_spec(str(mapping))
    with pytest.raises(DataFileError, match="deep.yaml: cannot parse: nested too deeply"):
        psyagents.get_chat_model(f"scripted:{deep}")
