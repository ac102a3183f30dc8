"""SFT export and ShareGPT import: formats, filters, splits, dedupe, scrubbing, round trip, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import psyagents
from psyagents.export import SPLITS, _split_of, export_sft, import_sharegpt, scrub_text

from tests.conftest import run_cli, write_script

SIMPSYDIAL = Path(__file__).resolve().parents[2] / "shared/data/simpsydial-first11.json"
PII_LINE = "My name is Maya Thompson, write to maya.t@example.com or call 555-123-4567; I live at 12 Elm Street."


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    db = tmp / "traces.db"
    sc, cl = "scripted:counselor", "scripted:client"
    psyagents.run_session("maya-exam-anxiety", "cbt", sc, cl, max_turns=3, db=db)
    psyagents.run_session("maya-exam-anxiety", "cbt", sc, cl, max_turns=3, db=db)  # the same dialogue again
    psyagents.run_session("kevin-panic", "integrative", sc, cl, max_turns=3, db=db)
    risky = write_script(tmp / "risky.yaml", ["Honestly, I want to die some days.", "No plan, I just feel empty.", "Okay."])
    psyagents.run_session("grace-postpartum", "integrative", sc, risky, max_turns=3, db=db)
    pii = write_script(tmp / "pii.yaml", [PII_LINE, "Maya is what my friends call me."])
    psyagents.run_session("maya-exam-anxiety", "person-centered", sc, pii, max_turns=2, db=db)
    return db


def _rows(out: Path, split: str | None = None) -> list[dict]:
    splits = [split] if split else SPLITS
    return [json.loads(line) for s in splits for line in (out / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]


def _load(out: Path):
    from datasets import load_dataset

    files = {s: str(out / f"{s}.jsonl") for s in SPLITS if (out / f"{s}.jsonl").stat().st_size}
    return load_dataset("json", data_files=files)


def test_messages_format_loads_and_alternates(traces, tmp_path):
    card = export_sft(traces, tmp_path, format="messages")
    assert card["sessions_total"] == 5 and card["sessions_exported"] == 4 and card["skipped"] == {"duplicate": 1}
    ds = _load(tmp_path)
    assert sum(len(d) for d in ds.values()) == 4
    for row in _rows(tmp_path):
        roles = [m["role"] for m in row["messages"]]
        assert roles[0] == "system" and "counsellor" in row["messages"][0]["content"]
        assert roles[1:] == ["user", "assistant"] * ((len(roles) - 1) // 2)
        assert roles[-1] == "assistant"
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["psyagents_sft_train"]["columns"] == {"messages": "messages"}


def test_sharegpt_format_matches_llama_factory(traces, tmp_path):
    card = export_sft(traces, tmp_path, format="sharegpt")
    ds = _load(tmp_path)
    assert sum(len(d) for d in ds.values()) == card["sessions_exported"] == 4
    for row in _rows(tmp_path):
        assert set(row) == {"conversations", "system"} and "style" in row["system"]
        froms = [m["from"] for m in row["conversations"]]
        assert froms == ["human", "gpt"] * (len(froms) // 2) and froms[-1] == "gpt"
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    nonempty = [s for s in SPLITS if card["counts"][s]]
    assert set(info) == {f"psyagents_sft_{s}" for s in nonempty} and "psyagents_sft_train" in info
    for split in nonempty:
        entry = info[f"psyagents_sft_{split}"]
        assert entry["file_name"] == f"{split}.jsonl" and entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "conversations", "system": "system"}
        assert entry["tags"] == {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                                 "assistant_tag": "gpt", "system_tag": "system"}
    readme = (tmp_path / "README.md").read_text()
    assert "| train |" in readme and "| total | 4 |" in readme and "duplicate dialogue: 1" in readme
    assert "scripted:counselor" in readme and "cbt" in readme


def test_filters_change_counts(traces, tmp_path):
    n = lambda **kw: export_sft(traces, tmp_path / json.dumps(kw, sort_keys=True).replace('"', ""), **kw)["sessions_exported"]
    assert n() == 4
    assert n(dedupe=False) == 5
    assert n(min_turns=3) == 3  # the two-turn session goes
    assert n(styles=["cbt"]) == 1 and n(styles=["cbt"], dedupe=False) == 2
    assert n(personas=["kevin-panic", "grace-postpartum"]) == 2
    assert n(end_reasons=["turn_cap"]) == 4
    assert n(safety="exclude") == 3  # grace's "I want to die some days." screens moderate
    with pytest.raises(psyagents.PsyagentsError, match="--end-reason removed 5"):
        export_sft(traces, tmp_path / "none", end_reasons=["client_closing"])


def test_splits_are_deterministic_and_by_session(traces, tmp_path):
    a = export_sft(traces, tmp_path / "a", dedupe=False, splits=(0.5, 0.25, 0.25), seed=7)
    b = export_sft(traces, tmp_path / "b", dedupe=False, splits=(0.5, 0.25, 0.25), seed=7)
    assert a["counts"] == b["counts"] and sum(a["counts"].values()) == 5
    for split in SPLITS:
        assert (tmp_path / "a" / f"{split}.jsonl").read_text() == (tmp_path / "b" / f"{split}.jsonl").read_text()
    ids = [f"s{i}" for i in range(2000)]
    assign = {i: _split_of(i, 0, (0.9, 0.05, 0.05)) for i in ids}
    assert assign == {i: _split_of(i, 0, (0.9, 0.05, 0.05)) for i in reversed(ids)}  # order plays no part
    share = sum(v == "train" for v in assign.values()) / len(ids)
    assert 0.87 < share < 0.93
    assert assign != {i: _split_of(i, 1, (0.9, 0.05, 0.05)) for i in ids}  # the seed does


def test_duplicate_dialogue_is_dropped(traces, tmp_path):
    export_sft(traces, tmp_path / "d", format="messages")
    export_sft(traces, tmp_path / "n", format="messages", dedupe=False)
    dumps = [json.dumps(r) for r in _rows(tmp_path / "n")]
    assert len(dumps) == 5 and len(set(dumps)) == 4
    assert sorted(set(dumps)) == sorted(json.dumps(r) for r in _rows(tmp_path / "d"))


def test_scrubbing(traces, tmp_path):
    export_sft(traces, tmp_path / "raw", format="messages", personas=["maya-exam-anxiety"], styles=["person-centered"])
    export_sft(traces, tmp_path / "clean", format="messages", personas=["maya-exam-anxiety"], styles=["person-centered"], scrub=True)
    raw = json.dumps(_rows(tmp_path / "raw"), ensure_ascii=False)
    clean = json.dumps(_rows(tmp_path / "clean"), ensure_ascii=False)
    assert "maya.t@example.com" in raw and "555-123-4567" in raw and "Maya Thompson" in raw
    for secret in ("maya.t@example.com", "555-123-4567", "Maya", "Thompson", "12 Elm Street"):
        assert secret not in clean
    assert "My name is [NAME], write to [EMAIL] or call [PHONE]; I live at [ADDRESS]." in clean
    assert scrub_text("Ring +44 20 7946 0958 or 我叫小明", {"name": "小明"}) == "Ring [PHONE] or 我叫[NAME]"
    assert scrub_text("I slept 8 hours in 2024.", {"name": "Maya Thompson"}) == "I slept 8 hours in 2024."


@pytest.mark.skipif(not SIMPSYDIAL.exists(), reason="shared SimPsyDial sample absent")
def test_simpsydial_round_trip(tmp_path):
    db = tmp_path / "imp.db"
    original = json.loads(SIMPSYDIAL.read_text(encoding="utf-8"))
    assert import_sharegpt(SIMPSYDIAL, db) == len(original)
    assert import_sharegpt(SIMPSYDIAL, db) == 0  # importing twice adds nothing
    export_sft(db, tmp_path / "out", format="messages", splits=(1, 0, 0), dedupe=False)
    assert _rows(tmp_path / "out", "train") == original
    card = export_sft(db, tmp_path / "sg", format="sharegpt")
    assert card["runs"]["graph"] == ["imported"] and sum(card["counts"].values()) == len(original)


def test_import_conversations_format(tmp_path):
    src = tmp_path / "conv.json"
    src.write_text(json.dumps([{"system": "Be kind.", "conversations": [
        {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello, how are you?"}]}]))
    assert import_sharegpt(src, tmp_path / "t.db") == 1
    export_sft(tmp_path / "t.db", tmp_path / "o", format="sharegpt", splits=(1, 0, 0))
    assert _rows(tmp_path / "o", "train") == [{"system": "Be kind.", "conversations": [
        {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello, how are you?"}]}]


def test_cli_export_and_import(traces, tmp_path):
    r = run_cli("export", "sft", "--db", str(traces), "-o", str(tmp_path / "o"), "--format", "messages", "--min-turns", "3")
    assert r.returncode == 0, r.stderr
    assert "Exported 3 of 5 sessions" in r.stdout and "train.jsonl" in r.stdout
    if SIMPSYDIAL.exists():
        r = run_cli("import", "sharegpt", str(SIMPSYDIAL), "--db", str(tmp_path / "i.db"))
        assert r.returncode == 0 and "Imported 11 dialogues" in r.stdout


def _one_line_error(capsys, args, *needles):
    """Run the real entry point in-process (a subprocess per case costs seconds) and expect one ``Error:`` line, exit 2."""
    from tests.test_preference import cli_main

    code, out, err = cli_main(capsys, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    for needle in needles:
        assert needle in lines[0]


def test_cli_errors_are_one_line(traces, tmp_path, capsys):
    _one_line_error(capsys, ("export", "sft", "--db", str(tmp_path / "missing.db"), "-o", str(tmp_path / "o")), "missing.db", "does not exist")
    _one_line_error(capsys, ("export", "sft", "--db", str(traces), "-o", str(tmp_path / "o"), "--style", "nope"), "--style removed 5")
    _one_line_error(capsys, ("export", "sft", "--db", str(traces), "-o", str(tmp_path / "o"), "--min-turns", "9"), "--min-turns removed")
    assert not (tmp_path / "o").exists()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
                               {"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}]}]))
    _one_line_error(capsys, ("import", "sharegpt", str(bad), "--db", str(tmp_path / "i.db")), "bad.json", "item 1", "messages[1]", "'role'")
    assert not (tmp_path / "i.db").exists()  # nothing written when any item is bad
    bad.write_text("[{")
    _one_line_error(capsys, ("import", "sharegpt", str(bad), "--db", str(tmp_path / "i.db")), "bad.json", "cannot parse")
    bad.write_text(json.dumps([{"text": "hi"}]))
    _one_line_error(capsys, ("import", "sharegpt", str(bad), "--db", str(tmp_path / "i.db")), "item 0", "'messages'")


def test_interrupted_export_leaves_whole_files(traces, tmp_path, monkeypatch):
    out = tmp_path / "o"
    export_sft(traces, out, format="messages")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import psyagents.export as export_mod

    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    real_replace = export_mod.os.replace
    monkeypatch.setattr(export_mod.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        export_sft(traces, out, format="sharegpt")
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(after) == set(before)  # no temporary files left behind
    for name, data in after.items():  # every file is either the old one or a complete new one
        rows = [json.loads(line) for line in data.decode().splitlines()] if name.endswith(".jsonl") else None
        new_card = name == "README.md" and "Format: `sharegpt`" in data.decode() and data.decode().endswith("\n")
        assert data == before[name] or new_card or (rows is not None and all("conversations" in r for r in rows))
    assert after["README.md"] != before["README.md"]  # the card is renamed first: a touched folder is still marked an export


@pytest.mark.model
def test_trl_sft_trainer_accepts_messages_export(traces, tmp_path):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from psyagents.default_plugins.local_models import embedded_model_path

    export_sft(traces, tmp_path / "data", format="messages", splits=(1, 0, 0))
    ds = load_dataset("json", data_files=str(tmp_path / "data" / "train.jsonl"), split="train")
    base = embedded_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    args = SFTConfig(output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=2, use_cpu=True,
                     report_to="none", max_length=256, save_strategy="no", logging_steps=1)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)
    result = trainer.train()
    assert result.global_step == 2


# judge-score filter ------------------------------------------------------------
def _judged_db(path: Path) -> Path:
    """Sessions built with TraceStore: a (all turns good), b (turn 3 poor), c (never judged), d (rated through candidates)."""
    from psyagents.tracing import TraceStore, Turn

    store = TraceStore(path)
    lines = [("client", "I can't sleep."), ("counselor", "That sounds hard."), ("client", "Exams."),
             ("counselor", "What worries you most?"), ("client", "Failing."), ("counselor", "Let's look at that fear.")]
    for sid in "abcd":
        store.start_session(sid, config={"style": "cbt"}, persona={"id": "maya"}, versions={})
        for i, (speaker, text) in enumerate(lines):
            store.add_turn(sid, Turn(idx=i, speaker=speaker, text=f"{text} ({sid})"))
        store.set_status(sid, "completed", end_reason="turn_cap")
    verdict = lambda score, judge="rubric:x": {"judge": judge, "principle": "empathy", "score": score, "scale_min": 1, "scale_max": 5, "status": "ok"}
    for sid, scores in (("a", (5, 5, 4)), ("b", (4, 2, 5))):
        for idx, score in zip((1, 3, 5), scores):
            store.add_verdicts(sid, [verdict(score)], turn_idx=idx)
    store.add_verdicts("b", [{**verdict(None), "status": "failed", "error": "unparseable"}], turn_idx=3)  # failed: ignored
    chosen, other = store.add_candidates("d", 1, [{"text": "That sounds hard. (d)", "chosen": True}, {"text": "Sleep more."}])
    store.add_verdicts("d", [verdict(5)], turn_idx=1, candidate_id=chosen)
    store.add_verdicts("d", [verdict(1)], turn_idx=1, candidate_id=other)  # not the turn's reply: ignored
    store.close()
    return path


def test_judge_score_filter_per_session_and_per_turn(tmp_path):
    db = _judged_db(tmp_path / "j.db")
    card = export_sft(db, tmp_path / "s", format="messages", min_score=4, splits=(1, 0, 0), dedupe=False)
    assert card["skipped"] == {"judge_score": 1, "unjudged": 1} and card["sessions_exported"] == 2  # a (4.67) and d (5)
    assert card["filters"]["judge"] == {"judge": "rubric:x", "min_score": 4, "score_on": "session", "principles": None, "scale": [1, 5]}
    card = export_sft(db, tmp_path / "t", format="messages", min_score=4, score_on="turn", splits=(1, 0, 0))
    targets = {r["messages"][1]["content"][-2]: [m["content"] for m in r["messages"] if m["role"] == "assistant"] for r in _rows(tmp_path / "t")}
    assert targets == {"a": ["That sounds hard. (a)", "What worries you most? (a)", "Let's look at that fear. (a)"],
                       "b": ["That sounds hard. (b)"],  # ends before the poor turn 3
                       "d": ["That sounds hard. (d)"]}  # turn 1 via its chosen candidate; turn 3 has no verdict
    assert card["judge_cut_turns"] == 4 and card["skipped"] == {"unjudged": 1}
    readme = (tmp_path / "t" / "README.md").read_text()
    assert "judge score: mean of `rubric:x`'s verdicts" in readme and "4 counsellor turns cut" in readme
    assert export_sft(db, tmp_path / "u", min_score=4, score_on="turn", min_turns=2)["sessions_exported"] == 1
    with pytest.raises(psyagents.PsyagentsError, match="give --min-score"):
        export_sft(db, tmp_path / "v", judge="rubric:x")
    with pytest.raises(psyagents.PsyagentsError, match="unknown judge.*'rubric:y'.*did you mean 'rubric:x'"):
        export_sft(db, tmp_path / "v", min_score=3, judge="rubric:y")
    with pytest.raises(psyagents.PsyagentsError, match="--min-score removed 3"):
        export_sft(db, tmp_path / "v", min_score=5.5)


def test_cli_judge_filter_and_several_judges(tmp_path, capsys):
    from psyagents.tracing import TraceStore

    db = _judged_db(tmp_path / "j.db")
    r = run_cli("export", "sft", "--db", str(db), "-o", str(tmp_path / "o"), "--min-score", "4", "--score-on", "turn", "--splits", "1,0,0")
    assert r.returncode == 0 and "Exported 3 of 4 sessions" in r.stdout and r.stderr == "", r.stderr
    store = TraceStore(db)
    store.add_verdicts("a", [{"judge": "rubric:y", "principle": "empathy", "score": 1, "scale_min": 1, "scale_max": 5, "status": "ok"}])
    store.close()
    from tests.test_preference import cli_main

    _one_line_error(capsys, ("export", "sft", "--db", str(db), "-o", str(tmp_path / "p"), "--min-score", "4"), "several judges", "--judge")
    code, _, err = cli_main(capsys, "export", "sft", "--db", str(db), "-o", str(tmp_path / "p"), "--min-score", "4", "--judge", "rubric:y")
    assert code == 2 and "--min-score removed 1" in err and "no judge verdict (--min-score) removed 3" in err


def test_progress_bar_only_on_a_terminal():
    import io

    from rich.console import Console

    from psyagents.export import progress

    quiet = io.StringIO()
    assert list(progress(range(3), 3, "sft export", console=Console(file=quiet))) == [0, 1, 2]
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    assert list(progress(range(3), 3, "sft export", console=Console(file=loud, force_terminal=True))) == [0, 1, 2]
    assert "sft export" in loud.getvalue() and "3/3" in loud.getvalue()


@pytest.mark.skipif(not SIMPSYDIAL.exists(), reason="shared SimPsyDial sample absent")
def test_simpsydial_export_matches_its_llama_factory_entry(tmp_path):
    import_sharegpt(SIMPSYDIAL, tmp_path / "imp.db")
    export_sft(tmp_path / "imp.db", tmp_path / "out", format="messages", splits=(1, 0, 0))
    theirs = json.loads((SIMPSYDIAL.parent / "simpsydial-dataset_info.json").read_text())["data"]
    ours = json.loads((tmp_path / "out" / "dataset_info.json").read_text())["psyagents_sft_train"]
    assert {k: ours[k] for k in ("formatting", "columns", "tags")} == {k: theirs[k] for k in ("formatting", "columns", "tags")}
