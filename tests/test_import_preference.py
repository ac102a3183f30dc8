"""``import preference`` (PsychoCounsel-Preference columns) into the trace store, and back out losslessly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from psyagents.errors import PsyagentsError
from psyagents.export import SPLITS, export_sft
from psyagents.preference import PSYCHOCOUNSEL, export_preference, import_preference
from psyagents.tracing import TraceStore

from tests.conftest import run_cli

SIDES = ("chosen", "rejected")


def _row(i, question, chosen, rejected, chosen_scores, rejected_scores, models=("gpt-4o", "llama-3-8b")) -> dict:
    row = {"ID": i, "question": question, "chosen": chosen, "rejected": rejected,
           "chosen_model": models[0], "rejected_model": models[1]}
    for side, scores in zip(SIDES, (chosen_scores, rejected_scores)):
        for p, s in zip(PSYCHOCOUNSEL, scores):
            row[f"{side}_{p}_rating"] = s
    return row


ROWS = [
    _row(101, "I failed my driving test twice and feel stupid.", "Failing twice hurts, and it makes sense you feel low. What happened?",
         "Everyone fails sometimes. Try again.", [5, 5, 4, 5, 4, 4, 4], [2, 3, 4, 5, 1, 3, 2]),
    _row(102, "我和父母总是吵架，不知道怎么办。", "和父母反复争吵一定让你很疲惫。通常是因为什么事情吵起来的呢？",
         "父母都是为你好，你应该听他们的。", [5, 4, 5, 5, 5, 4, 4], [1, 2, 4, 4, 1, 1, 2], models=("qwen2-72b", "glm-4")),
    # a pair whose totals differ by less than the default gap: the dataset's own label keeps it
    _row(103, "Work is fine, I guess. I'm just tired.", "Tired in what way - sleepy, or worn out by something?",
         "It sounds like you are tired. Rest more.", [4, 4, 4, 5, 4, 4, 4], [4, 4, 4, 5, 4, 4, 4], models=("m-a", None)),
]


def _back(rows: list[dict]) -> list[dict]:
    """Exported TRL rows in PsychoCounsel-Preference's columns again."""
    out = []
    for r in rows:
        back = {"ID": r["id"], "question": r["prompt"][-1]["content"], "chosen": r["chosen"][0]["content"],
                "rejected": r["rejected"][0]["content"], "chosen_model": r["chosen_model"], "rejected_model": r["rejected_model"]}
        for side in SIDES:
            for p in PSYCHOCOUNSEL:
                back[f"{side}_{p}_rating"] = r[f"{side}_{p}_rating"]
        assert len(r["prompt"]) == 1  # no system prompt is invented for imported data
        out.append(back)
    return out


def _exported(out: Path) -> list[dict]:
    return [json.loads(x) for s in SPLITS for x in (out / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_import_then_export_is_lossless(tmp_path):
    src = tmp_path / "pc.json"
    src.write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
    db = tmp_path / "t.db"
    result = import_preference(src, db)
    assert result["added"] == 3 and result["skipped"] == 0
    card = export_preference(db, tmp_path / "out", splits=(1, 0, 0))
    exported = _exported(tmp_path / "out")
    assert _back(exported) == ROWS
    assert card["filters"]["judge"] == "import:psychocounsel" and card["pair_sources"] == {"scores+comparison": 2, "comparison": 1}
    # re-importing adds nothing; a second export is identical
    assert import_preference(src, db) == {"added": 0, "skipped": 3, "run_id": result["run_id"], "ignored_columns": []}
    export_preference(db, tmp_path / "again", splits=(1, 0, 0))
    assert _exported(tmp_path / "again") == exported
    from datasets import load_dataset

    ds = load_dataset("json", data_files=str(tmp_path / "out" / "train.jsonl"), split="train")
    assert ds.num_rows == 3 and ds[1]["chosen_model"] == "qwen2-72b"


def test_store_layout_of_an_imported_row(tmp_path):
    src = tmp_path / "pc.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    db = tmp_path / "t.db"
    import_preference(src, db, source="pcp")
    store = TraceStore(db)
    try:
        s = store.session("pcp:101")
        assert s["status"] == "completed" and s["config"]["id"] == 101 and s["key"] == "pcp:101" and s["run_id"].startswith("import-pcp-")
        assert [(t.speaker, t.text) for t in store.turns("pcp:101")] == [("client", ROWS[0]["question"]), ("counselor", ROWS[0]["chosen"])]
        cands = store.candidates("pcp:101", 1)
        assert [(c["text"], c["model"], c["chosen"]) for c in cands] == [(ROWS[0]["chosen"], "gpt-4o", 1), (ROWS[0]["rejected"], "llama-3-8b", 0)]
        verdicts = store.verdicts("pcp:101", judge="import:pcp")
        assert len(verdicts) == 14 and {v["candidate_id"] for v in verdicts} == {c["id"] for c in cands}
        assert {(v["scale_min"], v["scale_max"]) for v in verdicts} == {(1, 5)}
        (comp,) = store.comparisons("pcp:101")
        assert comp["winner_id"] == cands[0]["id"] and comp["candidate_ids"] == [c["id"] for c in cands]
        assert store.run(s["run_id"])["summary"] == {"added": 3, "skipped": 0}
    finally:
        store.close()
    # the chosen replies are the counsellor's turns, so an SFT export of the import is question -> chosen
    export_sft(db, tmp_path / "sft", format="messages", splits=(1, 0, 0))
    sft = [json.loads(x) for x in (tmp_path / "sft" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sft[0] == {"messages": [{"role": "user", "content": ROWS[0]["question"]}, {"role": "assistant", "content": ROWS[0]["chosen"]}]}


def test_csv_and_parquet_import_the_same(tmp_path):
    csv_path = tmp_path / "pc.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(ROWS[0]))
        w.writeheader()
        w.writerows({k: "" if v is None else v for k, v in r.items()} for r in ROWS)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq_path = tmp_path / "pc.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), pq_path)
    for path in (csv_path, pq_path):
        db = tmp_path / f"{path.suffix[1:]}.db"
        assert import_preference(path, db)["added"] == 3
        export_preference(db, tmp_path / path.suffix[1:], splits=(1, 0, 0))
        back = _back(_exported(tmp_path / path.suffix[1:]))
        if path is csv_path:  # CSV has no types: ids come back as text
            back = [{**r, "ID": int(r["ID"])} for r in back]
        assert back == ROWS, path


def test_rejudged_import_exports_the_new_judge(tmp_path):
    src = tmp_path / "pc.json"
    src.write_text(json.dumps(ROWS[:1]), encoding="utf-8")
    db = tmp_path / "t.db"
    import_preference(src, db)
    store = TraceStore(db)
    chosen, rejected = store.candidates("psychocounsel:101", 1)
    for cid, score in ((chosen["id"], 2), (rejected["id"], 5)):  # a new judge disagrees with the dataset
        store.add_verdicts("psychocounsel:101", [{"judge": "rubric:mine", "principle": "empathy", "score": score,
                                                  "scale_min": 1, "scale_max": 5, "status": "ok"}], turn_idx=1, candidate_id=cid)
    store.close()
    with pytest.raises(PsyagentsError, match="several judges"):
        export_preference(db, tmp_path / "o")
    with pytest.raises(PsyagentsError, match="scores and comparisons disagree"):
        export_preference(db, tmp_path / "o", judge="rubric:mine")  # the dataset's label contradicts the new scores
    export_preference(db, tmp_path / "o", judge="rubric:mine", comparisons=False, splits=(1, 0, 0))
    (r,) = _exported(tmp_path / "o")
    assert r["chosen"][0]["content"] == ROWS[0]["rejected"] and r["id"] == "101:1>0" and r["chosen_empathy_rating"] == 5


@pytest.mark.parametrize("change, needles", [
    (lambda r: r.update(chosen_empathy_rating=7), ["row 1", "column 'chosen_empathy_rating'", "from 1 to 5", "7"]),
    (lambda r: r.update(rejected_safety_rating="high"), ["row 1", "column 'rejected_safety_rating'", "'high'"]),
    (lambda r: r.pop("question"), ["row 1", "column 'question' missing"]),
    (lambda r: r.update(chosen="  "), ["row 1", "column 'chosen'", "non-empty"]),
    (lambda r: r.update(ID=101), ["row 1", "column 'ID'", "repeats row 0"]),
    (lambda r: r.update(chosen_model=3), ["row 1", "column 'chosen_model'"]),
])
def test_bad_rows_name_file_row_and_column_and_write_nothing(tmp_path, change, needles):
    rows = json.loads(json.dumps(ROWS))
    change(rows[1])
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(PsyagentsError) as err:
        import_preference(src, tmp_path / "t.db")
    for needle in ["bad.json", *needles]:
        assert needle in str(err.value)
    assert not (tmp_path / "t.db").exists()


def test_interrupted_import_keeps_whole_rows_and_finishes_on_rerun(tmp_path, monkeypatch):
    import sqlite_utils.db

    src = tmp_path / "pc.json"
    src.write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
    db = tmp_path / "t.db"
    real = sqlite_utils.db.Table.insert
    seen = []

    def crash_on_second_comparison(self, record, *a, **kw):
        if self.name == "comparisons":
            seen.append(record)
            if len(seen) == 2:
                raise KeyboardInterrupt
        return real(self, record, *a, **kw)

    monkeypatch.setattr(sqlite_utils.db.Table, "insert", crash_on_second_comparison)
    with pytest.raises(KeyboardInterrupt):
        import_preference(src, db)
    monkeypatch.undo()
    store = TraceStore(db)
    try:
        counts = {t: store.db[t].count for t in ("sessions", "turns", "candidates", "verdicts", "comparisons")}
        assert counts == {"sessions": 1, "turns": 2, "candidates": 2, "verdicts": 14, "comparisons": 1}  # row 0 whole, row 1 absent
        assert store.runs("import")[0]["status"] == "interrupted"
    finally:
        store.close()
    assert import_preference(src, db)["added"] == 2
    export_preference(db, tmp_path / "out", splits=(1, 0, 0))
    assert _back(_exported(tmp_path / "out")) == ROWS


def test_cli_import_preference(tmp_path, capsys):
    from tests.test_preference import cli_main

    src = tmp_path / "pc.json"
    src.write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
    r = run_cli("import", "preference", str(src), "--db", str(tmp_path / "t.db"))
    assert r.returncode == 0 and "Imported 3 preference rows" in r.stdout and r.stderr == "", r.stderr
    code, out, err = cli_main(capsys, "export", "preference", "--db", str(tmp_path / "t.db"), "-o", str(tmp_path / "o"), "--splits", "1,0,0")
    assert code == 0 and "Exported 3 pairs" in out, err
    src.write_text("[{", encoding="utf-8")
    code, out, err = cli_main(capsys, "import", "preference", str(src), "--db", str(tmp_path / "u.db"))
    assert code == 2 and err.startswith("Error: ") and "pc.json" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli_main(capsys, "import", "preference", str(tmp_path / "none.json"), "--db", str(tmp_path / "u.db"))
    assert code == 2 and "does not exist" in err
    # Columns that are not the dataset's are said to be left out, not dropped silently.
    src.write_text(json.dumps([{**r, "annotator": "x", "notes": ""} for r in ROWS], ensure_ascii=False), encoding="utf-8")
    r = run_cli("import", "preference", str(src), "--db", str(tmp_path / "v.db"))
    assert r.returncode == 0 and r.stderr.strip() == "Not imported (not PsychoCounsel-Preference columns): annotator, notes", r.stderr


def test_imported_and_simulated_pairs_export_together(tmp_path):
    from tests.test_preference import build

    db = build(tmp_path / "t.db")
    src = tmp_path / "pc.json"
    src.write_text(json.dumps(ROWS[:2], ensure_ascii=False), encoding="utf-8")
    import_preference(src, db)
    with pytest.raises(PsyagentsError, match="several judges"):
        export_preference(db, tmp_path / "o")
    # the simulated candidates' judge and the import's are different judges: pick one, or export the two apart
    card = export_preference(db, tmp_path / "o", judge="import:psychocounsel", splits=(1, 0, 0))
    exported = _exported(tmp_path / "o")
    assert {r["id"] for r in exported} >= {"101", "102"} and all(isinstance(r["id"], str) for r in exported)
    assert card["pair_sources"]["scores+comparison"] == 2
    from datasets import load_dataset

    assert load_dataset("json", data_files=str(tmp_path / "o" / "train.jsonl"), split="train").num_rows == len(exported)
