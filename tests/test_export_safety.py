"""Hostile-input fixes for exports and imports: interrupted ShareGPT imports, line numbers, BOMs, export folders
that hold someone else's files, the export's file set on a crash, non-finite splits, a fake parquet file.

The trace databases are built with TraceStore or from small ShareGPT files (no model runs), so these tests are fast.
A crash part-way through a dialogue is simulated with an SQLite trigger that aborts the insert of one turn.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from pathlib import Path

import pytest

import psyagents.export as export_mod
from psyagents.errors import PsyagentsError
from psyagents.export import export_sft, import_sharegpt
from psyagents.preference import export_kto, export_preference, import_preference
from psyagents.tracing import TraceStore

from tests.test_preference import build, cli_main


def _dialogue(n: int, crash: bool = False) -> dict:
    turns = []
    for k in range(3):
        turns.append({"role": "user", "content": f"client line {k} of dialogue {n}"})
        turns.append({"role": "assistant", "content": "CRASH HERE" if crash and k == 1 else f"counsellor line {k} of dialogue {n}"})
    return {"messages": turns}


def _jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def _sessions(db: Path) -> list[tuple[str, str, int]]:
    """(id, status, number of turns) for every session."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("select s.id, s.status, (select count(*) from turns t where t.session_id = s.id) "
                            "from sessions s order by s.rowid").fetchall()
    finally:
        conn.close()


def _trigger(db: Path, on: bool) -> None:
    conn = sqlite3.connect(db)
    try:
        if on:
            conn.execute("create trigger crash before insert on turns when new.text = 'CRASH HERE' "
                         "begin select raise(abort, 'simulated crash'); end")
        else:
            conn.execute("drop trigger crash")
        conn.commit()
    finally:
        conn.close()


# 1. interrupted import -------------------------------------------------------------
def test_crash_mid_dialogue_leaves_no_half_session_and_rerun_finishes(tmp_path):
    src = _jsonl(tmp_path / "d.jsonl", [_dialogue(0), _dialogue(1), _dialogue(2, crash=True), _dialogue(3)])
    db = tmp_path / "t.db"
    TraceStore(db).close()
    _trigger(db, True)
    with pytest.raises(Exception, match="simulated crash"):
        import_sharegpt(src, db)
    assert [(s, n) for _, s, n in _sessions(db)] == [("completed", 6), ("completed", 6)]  # only whole dialogues
    _trigger(db, False)
    assert import_sharegpt(src, db) == 2  # the crashed dialogue and the one after it
    sessions = _sessions(db)
    assert len(sessions) == 4 and len({s[0] for s in sessions}) == 4
    assert all(status == "completed" and n == 6 for _, status, n in sessions)
    assert import_sharegpt(src, db) == 0
    card = export_sft(db, tmp_path / "o", format="messages", splits=(1, 0, 0))
    assert card["sessions_exported"] == 4


def test_half_written_session_of_an_older_import_is_replaced(tmp_path):
    """The state an import interrupted before this fix left behind: a running session with some of its turns."""
    src = _jsonl(tmp_path / "d.jsonl", [_dialogue(0), _dialogue(1)])
    db = tmp_path / "t.db"
    assert import_sharegpt(src, db) == 2
    sid = _sessions(db)[1][0]
    store = TraceStore(db)
    store.set_status(sid, "running")
    store.conn.execute("delete from turns where session_id = ? and idx >= 2", [sid])
    store.conn.commit()
    store.add_event(sid, "note", text="left over")
    store.close()
    assert _sessions(db)[1] == (sid, "running", 2)
    assert import_sharegpt(src, db) == 1
    assert _sessions(db) == [(_sessions(db)[0][0], "completed", 6), (sid, "completed", 6)]
    store = TraceStore(db)
    assert store.events(sid) == []  # what was recorded about the broken copy went with it
    assert [t.text for t in store.turns(sid)] == [m["content"] for m in _dialogue(1)["messages"]]
    store.close()


# 2. line numbers, suffix case, BOM ---------------------------------------------------
def test_jsonl_errors_name_the_file_and_real_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = [json.dumps(_dialogue(i)) for i in range(4)] + ['{"messages": [{"role": "user", "content": "hi"}, oops]}']
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PsyagentsError) as err:
        import_sharegpt(bad, tmp_path / "t.db")
    assert "bad.jsonl: line 5:" in str(err.value) and "line 1 column" not in str(err.value)
    lines[4] = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}]})
    bad.write_text("\n\n".join(lines) + "\n", encoding="utf-8")  # blank lines between: item 4 is on line 9
    with pytest.raises(PsyagentsError, match=r"bad\.jsonl: item 4 \(line 9\): messages\[1\]"):
        import_sharegpt(bad, tmp_path / "t.db")
    assert not (tmp_path / "t.db").exists()


def test_upper_case_jsonl_bom_and_line_separator_in_text(tmp_path):
    items = [_dialogue(0), _dialogue(1)]
    items[1]["messages"][0]["content"] = "first\u2028second"  # valid in a JSON string, not a line break in JSON lines
    upper = tmp_path / "D.JSONL"
    upper.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode())
    assert import_sharegpt(upper, tmp_path / "a.db") == 2
    plain = tmp_path / "d.json"
    plain.write_bytes(b"\xef\xbb\xbf" + json.dumps(items).encode())
    assert import_sharegpt(plain, tmp_path / "b.db") == 2
    store = TraceStore(tmp_path / "a.db")
    texts = {t.text for s in store.sessions() for t in store.turns(s["id"])}
    store.close()
    assert "first\u2028second" in texts


# 3. export folders -------------------------------------------------------------------
@pytest.fixture(scope="module")
def sft_db(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sft")
    db = tmp / "t.db"
    import_sharegpt(_jsonl(tmp / "d.jsonl", [_dialogue(i) for i in range(6)]), db)
    return db


@pytest.fixture(scope="module")
def pref_db(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("pref") / "traces.db")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("kind", ["sft", "preference", "kto"])
def test_export_refuses_a_folder_with_someone_elses_files(kind, sft_db, pref_db, tmp_path):
    run = {"sft": lambda out, **kw: export_sft(sft_db, out, splits=(1, 0, 0), **kw),
           "preference": lambda out, **kw: export_preference(pref_db, out, splits=(1, 0, 0), **kw),
           "kto": lambda out, **kw: export_kto(pref_db, out, splits=(1, 0, 0), **kw)}[kind]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.md").write_text("# My project\n\nDo not lose this.\n")
    (mine / "notes.txt").write_text("keep\n")
    before = _snapshot(mine)
    with pytest.raises(PsyagentsError) as err:
        run(mine)
    msg = str(err.value)
    assert "\n" not in msg and str(mine) in msg and "README.md" in msg and "--force" in msg
    assert _snapshot(mine) == before
    (mine / "README.md").unlink()
    (mine / "train.jsonl").write_text('{"mine": 1}\n')
    with pytest.raises(PsyagentsError, match="train.jsonl"):
        run(mine)
    assert (mine / "train.jsonl").read_text() == '{"mine": 1}\n'

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep\n")
    run(other)  # files of other names are no obstacle
    assert (other / "notes.txt").read_text() == "keep\n" and (other / "train.jsonl").stat().st_size
    run(other)  # a previous psyagents export is replaced
    run(tmp_path / "new" / "deeper")
    run(mine, force=True)
    assert json.loads((mine / "train.jsonl").read_text().splitlines()[0]) != {"mine": 1}


def test_cli_force_and_empty_output(sft_db, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.md").write_text("# My project\n")
    code, out, err = cli_main(capsys, "export", "sft", "--db", str(sft_db), "-o", str(mine), "--splits", "1,0,0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "README.md" in err and "--force" in err, err
    assert (mine / "README.md").read_text() == "# My project\n"
    code, out, err = cli_main(capsys, "export", "sft", "--db", str(sft_db), "-o", str(mine), "--splits", "1,0,0", "--force")
    assert code == 0 and "Exported 6 of 6" in out, err
    for kind in ("sft", "preference", "reward", "kto"):
        db = sft_db if kind == "sft" else tmp_path / "p.db"
        if kind != "sft" and not db.exists():
            build(db)
        code, out, err = cli_main(capsys, "export", kind, "--db", str(db), "-o", "")
        assert code == 2 and err.startswith("Error: ") and "--out" in err, (kind, err)
        assert "Traceback" not in err
        mine_k = tmp_path / f"mine-{kind}"
        mine_k.mkdir()
        (mine_k / "test.jsonl").write_text("x\n")
        code, out, err = cli_main(capsys, "export", kind, "--db", str(db), "-o", str(mine_k))
        assert code == 2 and "test.jsonl" in err, (kind, err)
        code, out, err = cli_main(capsys, "export", kind, "--db", str(db), "-o", str(mine_k), "--force")
        assert code == 0, (kind, err)


def test_an_export_of_another_kind_removes_the_stale_dataset_info(sft_db, pref_db, tmp_path):
    """dataset_info.json (sft only) would describe a preference export's train.jsonl as SFT rows."""
    out = tmp_path / "o"
    export_sft(sft_db, out, splits=(1, 0, 0))
    assert (out / "dataset_info.json").is_file()
    export_preference(pref_db, out, splits=(1, 0, 0))
    assert not (out / "dataset_info.json").exists() and "chosen" in (out / "train.jsonl").read_text()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dataset_info.json").write_text("{}\n")  # the user's own, in a folder that is not an export
    export_preference(pref_db, mine, splits=(1, 0, 0))
    assert (mine / "dataset_info.json").read_text() == "{}\n"


def test_crash_while_writing_keeps_the_old_set(sft_db, tmp_path, monkeypatch):
    """All temporary files are written before any is renamed: a crash while writing them changes nothing."""
    out = tmp_path / "o"
    export_sft(sft_db, out, format="messages", splits=(1, 0, 0))
    before = _snapshot(out)
    calls = []
    real_fsync = os.fsync

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 3:  # the third file's data
            raise KeyboardInterrupt
        return real_fsync(fd)

    monkeypatch.setattr(export_mod.os, "fsync", failing_fsync)
    with pytest.raises(KeyboardInterrupt):
        export_sft(sft_db, out, format="sharegpt", splits=(0, 0, 1))
    monkeypatch.undo()
    assert _snapshot(out) == before  # every file old, no temporary file left


# 4. splits -------------------------------------------------------------------------
@pytest.mark.parametrize("splits", [(math.nan,) * 3, (math.nan, 0, 1), (math.inf, 0, 0), (1, -math.inf, math.inf)])
def test_non_finite_splits_are_refused(splits, sft_db, tmp_path):
    with pytest.raises(PsyagentsError, match="--splits"):
        export_sft(sft_db, tmp_path / "o", splits=splits)
    with pytest.raises(PsyagentsError, match="--splits"):
        export_preference(sft_db, tmp_path / "o", splits=splits)
    assert not (tmp_path / "o").exists()


def test_cli_nan_splits_one_line(sft_db, tmp_path, capsys):
    for text in ("nan,nan,nan", "nan,0,1", "inf,0,0"):
        code, out, err = cli_main(capsys, "export", "sft", "--db", str(sft_db), "-o", str(tmp_path / "o"), "--splits", text)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and "--splits" in lines[0], (text, err)
    assert not (tmp_path / "o").exists()


# 5. preference import of a file that is not what its name says ---------------------------
def test_fake_parquet_is_a_one_line_error(tmp_path, capsys):
    fake = tmp_path / "bad.parquet"
    fake.write_text("ID,question\n1,hello\n")
    with pytest.raises(PsyagentsError, match=r"bad\.parquet.*parquet"):
        import_preference(fake, tmp_path / "t.db")
    code, out, err = cli_main(capsys, "import", "preference", str(fake), "--db", str(tmp_path / "t.db"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "bad.parquet" in err, err


def test_preference_import_takes_bom_and_upper_case_jsonl(tmp_path):
    row = {"ID": 1, "question": "I can't sleep.", "chosen": "That sounds hard.", "rejected": "Sleep more.",
           "chosen_empathy_rating": 5, "rejected_empathy_rating": 2}
    up = tmp_path / "P.JSONL"
    up.write_bytes(b"\xef\xbb\xbf" + (json.dumps(row) + "\n").encode())
    assert import_preference(up, tmp_path / "a.db")["added"] == 1
    csv_file = tmp_path / "p.csv"
    csv_file.write_bytes(b"\xef\xbb\xbf" + ("ID,question,chosen,rejected\n2,Hi,Hello,Go away\n").encode())
    assert import_preference(csv_file, tmp_path / "b.db")["added"] == 1  # the BOM is not part of the ID column's name
