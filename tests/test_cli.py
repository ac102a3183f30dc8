"""The real ``psyagents`` entry point, in subprocesses: listings, runs, traces and one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


def _ok(*args):
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _error(*args, match: str):
    r = run_cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert match in lines[0], lines[0]


def test_run_then_list_and_show_traces(db):
    out = _ok("run", "--persona", "maya-exam-anxiety", "--style", "cbt", "--counselor", "scripted:counselor",
              "--client", "scripted:client", "--max-turns", "3", "--db", str(db), "--seed", "7")
    assert "Counselor:" in out and "Client:" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Trace saved: session ") and str(db) in last
    sid = last.split()[3]
    listed = json.loads(_ok("traces", "list", "--db", str(db), "--json"))
    assert [r["id"] for r in listed] == [sid] and listed[0]["end_reason"] == "turn_cap" and listed[0]["n_turns"] == 6
    shown = json.loads(_ok("traces", "show", sid, "--db", str(db), "--json"))
    assert shown["session"]["config"]["seed"] == 7
    assert [t["speaker"] for t in shown["turns"]] == ["client", "counselor"] * 3
    assert "agenda-setting" in _ok("traces", "show", sid, "--db", str(db))
    # Piped (as here), the table is not cut to 80 columns: the id, persona and status can be copied whole.
    table = _ok("traces", "list", "--db", str(db))
    row = next(line for line in table.splitlines() if sid in line)
    assert "maya-exam-anxiety" in row and "completed" in row and "…" not in table


@pytest.mark.parametrize(
    "args,key",
    [
        (("personas", "list", "--json"), "id"),
        (("styles", "list", "--json"), "name"),
        (("graphs", "list", "--json"), "id"),
        (("plugins", "--json"), "hooks"),
    ],
)
def test_every_list_takes_json(args, key):
    data = json.loads(_ok(*args))
    assert data and all(key in item for item in data)


def test_listings_have_the_builtins():
    assert {p["id"] for p in json.loads(_ok("personas", "list", "--json"))} >= {"maya-exam-anxiety", "xu-graduate-depression"}
    assert {s["name"] for s in json.loads(_ok("styles", "list", "--json"))} >= {"integrative", "cbt", "mi", "person-centered"}
    plugins = {p["name"]: p for p in json.loads(_ok("plugins", "--json"))}
    assert "register_therapy_styles" in plugins["psyagents.default_plugins.styles"]["hooks"]


def test_show_commands():
    assert "Maya Thompson" in _ok("personas", "show", "maya-exam-anxiety")
    mermaid = _ok("graphs", "show", "default")
    assert mermaid.startswith("---") or "graph TD" in mermaid
    for node in ("client", "safety", "technique", "counselor", "crisis", "end"):
        assert node in mermaid


def test_unknown_persona_suggests(db):
    _error("run", "--persona", "maya-exam", "--counselor", "scripted:counselor", "--client", "scripted:client",
           "--db", str(db), match="unknown persona 'maya-exam' (did you mean 'maya-exam-anxiety'?)")
    _error("personas", "show", "tomas", match="did you mean 'tomas-grief-widower'")


def test_malformed_persona_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    _error("personas", "show", str(bad), match="bad.yaml: malformed YAML at line")


def test_bad_model_string(db):
    _error("run", "--counselor", "gpt4", "--db", str(db), match="bad model string 'gpt4'")
    _error("run", "--counselor", "opnai:gpt-4o", "--db", str(db), match="unknown model provider 'opnai' (did you mean 'openai'?)")


def test_missing_database(tmp_path):
    _error("traces", "list", "--db", str(tmp_path / "none.db"), match="none.db' does not exist")
    _error("run", "--resume", "abc", "--db", str(tmp_path / "none.db"), match="does not exist")


def test_unknown_session(db):
    _ok("run", "--counselor", "scripted:counselor", "--client", "scripted:client", "--max-turns", "1", "--db", str(db))
    _error("traces", "show", "nosuch", "--db", str(db), match="unknown session 'nosuch'")


def test_bad_option_is_one_line():
    _error("run", "--max-turns", "zero", match="'zero' is not a valid integer")


def test_resume_from_the_command_line(db):
    """Interrupt a session (Ctrl-C arrives as KeyboardInterrupt) after three turns, then resume it with the CLI."""
    import psyagents

    seen = []

    def interrupt_after_three_turns(kind, data):
        if kind == "turn":
            seen.append(data["text"])
            if len(seen) == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        psyagents.run_session("maya-exam-anxiety", "cbt", "scripted:counselor", "scripted:client", max_turns=4, db=db,
                              session_id="cut", on_event=interrupt_after_three_turns)
    assert json.loads(_ok("traces", "show", "cut", "--db", str(db), "--json"))["session"]["status"] == "interrupted"
    out = _ok("run", "--resume", "cut", "--db", str(db))
    assert "Resuming session cut" in out and out.strip().splitlines()[-1].startswith("Trace saved: session cut (8 turns, turn_cap)")
    shown = json.loads(_ok("traces", "show", "cut", "--db", str(db), "--json"))
    assert [t["text"] for t in shown["turns"][:3]] == seen
    assert [t["idx"] for t in shown["turns"]] == list(range(8))
    _error("run", "--resume", "cut", "--db", str(db), match="already ended (turn_cap)")
