"""Preference, reward and KTO exports from logged candidates: pairing rules, columns TRL expects, filters, CLI, errors.

The trace databases are built directly with TraceStore (no model runs), so these tests are fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from psyagents.errors import PsyagentsError
from psyagents.export import SPLITS
from psyagents.preference import export_kto, export_preference, export_reward, group_pairs
from psyagents.tracing import TraceStore, Turn

from tests.conftest import run_cli

J = "rubric:x"  # the rubric judge's spec as recorded in the verdicts


def _v(principle: str, score: float, judge: str = J, lo: int = 1, hi: int = 5) -> dict:
    return {"judge": judge, "principle": principle, "score": score, "scale_min": lo, "scale_max": hi, "status": "ok"}


def _rate(store: TraceStore, sid: str, turn: int, cid: int, **scores: float) -> None:
    store.add_verdicts(sid, [_v(p, s) for p, s in scores.items()], turn_idx=turn, candidate_id=cid)


def _session(store, sid, style, persona, turns):
    store.start_session(sid, config={"style": style, "graph": "judge-loop", "counselor": "scripted:counselor",
                                     "client": "scripted:client", "max_turns": 2},
                        persona={"id": persona, "name": "Maya Thompson"}, versions={})
    for i, (speaker, text) in enumerate(turns):
        store.add_turn(sid, Turn(idx=i, speaker=speaker, text=text))
    store.set_status(sid, "completed", end_reason="turn_cap")


def build(db: Path) -> Path:
    """Four sessions covering score pairs, comparison pairs, a conflict, a lone candidate and selector scores."""
    store = TraceStore(db)
    _session(store, "s1", "cbt", "maya", [("client", "Hi, I'm Maya. I have exams next week and I can't sleep."),
                                          ("counselor", "That sounds exhausting."), ("client", "Mostly at night."),
                                          ("counselor", "What goes through your mind then?")])
    a, b, c = store.add_candidates("s1", 1, [{"text": "That sounds exhausting.", "model": "m1", "chosen": True},
                                             {"text": "Sleep matters.", "model": "m2"},
                                             {"text": "Just relax.", "model": "m3"}])
    _rate(store, "s1", 1, a, empathy=5, clarity=4)  # total 9
    _rate(store, "s1", 1, b, empathy=4, clarity=4)  # 8
    _rate(store, "s1", 1, c, empathy=2, clarity=2)  # 4
    d, e = store.add_candidates("s1", 3, [{"text": "What goes through your mind then?", "model": "m1", "chosen": True},
                                          {"text": "Try counting sheep.", "model": "m2"}])
    _rate(store, "s1", 3, d, empathy=3, clarity=3)
    _rate(store, "s1", 3, e, empathy=3, clarity=3)  # no gap: only the comparisons can pair them
    store.add_comparison("s1", 3, "pairwise:x", [d, e], d)
    store.add_comparison("s1", 3, "pairwise:x", [e, d], d)  # both orders agree

    _session(store, "s2", "integrative", "kevin", [("client", "My heart races on the bus."), ("counselor", "Tell me more.")])
    f, g = store.add_candidates("s2", 1, [{"text": "Tell me more.", "model": "m1", "chosen": True}, {"text": "Panic is common.", "model": "m2"}])
    _rate(store, "s2", 1, f, empathy=5, clarity=5)
    _rate(store, "s2", 1, g, empathy=1, clarity=1)
    store.add_comparison("s2", 1, "pairwise:x", [f, g], g)  # contradicts the scores: a conflict
    store.add_comparison("s1", 1, J, [a, b, c], b, meta={"protocol": "rating"})  # an arena's pick from scores: ignored
    store.add_event("s2", "screen", turn_idx=0, level="moderate")

    _session(store, "s3", "cbt", "maya", [("client", "Hello."), ("counselor", "Hi.")])
    store.add_candidates("s3", 1, [{"text": "Hi.", "model": "m1", "chosen": True}])  # a lone candidate: no pair

    _session(store, "s4", "cbt", "omar", [("client", "I lost money again."), ("counselor", "That hurts.")])
    store.add_candidates("s4", 1, [{"text": "That hurts.", "model": "m1", "chosen": True, "score": 4.5},
                                   {"text": "Stop gambling.", "model": "m2", "score": 2.0}])  # the selector's scores only
    store.close()
    return db


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("pref") / "traces.db")


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for s in SPLITS for line in (out / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]


def load(out: Path):
    from datasets import load_dataset

    files = {s: str(out / f"{s}.jsonl") for s in SPLITS if (out / f"{s}.jsonl").stat().st_size}
    return load_dataset("json", data_files=files)


def pairs_of(out: Path) -> set[tuple[str, str]]:
    return {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows(out)}


def test_all_pairs_from_scores_comparisons_and_selector(traces, tmp_path):
    card = export_preference(traces, tmp_path, splits=(1, 0, 0))
    assert pairs_of(tmp_path) == {
        ("That sounds exhausting.", "Sleep matters."), ("That sounds exhausting.", "Just relax."), ("Sleep matters.", "Just relax."),
        ("What goes through your mind then?", "Try counting sheep."),  # from the comparisons
        ("That hurts.", "Stop gambling."),  # from the selector's logged scores
    }
    assert card["pair_sources"] == {"scores": 3, "comparison": 1, "selector-score": 1}
    assert card["skipped"] == {"single": 1, "conflict": 1}
    by_pair = {(r["chosen"][0]["content"], r["rejected"][0]["content"]): r for r in rows(tmp_path)}
    r = by_pair[("That sounds exhausting.", "Just relax.")]
    assert r["chosen_empathy_rating"] == 5 and r["rejected_empathy_rating"] == 2 and r["chosen_clarity_rating"] == 4
    assert r["chosen_model"] == "m1" and r["rejected_model"] == "m3" and r["chosen_score"] == 9 and r["rejected_score"] == 4
    assert r["id"] == "s1:1:0>2" and r["session_id"] == "s1" and r["turn_idx"] == 1
    assert [m["role"] for m in r["prompt"]] == ["system", "user"] and "cognitive" in r["prompt"][0]["content"].lower()
    later = by_pair[("What goes through your mind then?", "Try counting sheep.")]
    assert [m["role"] for m in later["prompt"]] == ["system", "user", "assistant", "user"]
    assert later["prompt"][-1]["content"] == "Mostly at night." and later["pair_source"] == "comparison"
    readme = (tmp_path / "README.md").read_text()
    assert "psyagents preference export" in readme and "judge: rubric:x" in readme and "| total | 5 |" in readme


def test_rows_have_trl_columns_and_load_with_datasets(traces, tmp_path):
    export_preference(traces, tmp_path / "p", splits=(1, 0, 0))
    export_reward(traces, tmp_path / "r", splits=(1, 0, 0))
    export_kto(traces, tmp_path / "k", splits=(1, 0, 0))
    p, r, k = (load(tmp_path / x)["train"] for x in "prk")
    for ds in (p, r):
        assert {"prompt", "chosen", "rejected", "chosen_model", "rejected_model", "chosen_empathy_rating",
                "rejected_empathy_rating"} <= set(ds.column_names)
        row = ds[0]
        assert row["prompt"][-1]["role"] == "user" and row["chosen"][0]["role"] == "assistant" and len(row["rejected"]) == 1
    assert "margin" in r.column_names and "margin" not in p.column_names
    assert {"prompt", "completion", "label"} <= set(k.column_names) and set(k["label"]) == {True, False}
    for ds, keys in ((p, ("prompt", "chosen", "rejected")), (r, ("prompt", "chosen", "rejected")), (k, ("prompt", "completion"))):
        for row in ds:  # what trl.data_utils.is_conversational looks for (importing trl here would cost seconds)
            for key in keys:
                assert row[key] and all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in row[key])


def test_min_gap_and_best_vs_worst(traces, tmp_path):
    export_preference(traces, tmp_path / "g2", min_gap=2, splits=(1, 0, 0), comparisons=False)
    assert pairs_of(tmp_path / "g2") == {("That sounds exhausting.", "Just relax."), ("Sleep matters.", "Just relax."),
                                         ("Tell me more.", "Panic is common."), ("That hurts.", "Stop gambling.")}
    export_preference(traces, tmp_path / "bw", mode="best-vs-worst", splits=(1, 0, 0))
    assert pairs_of(tmp_path / "bw") == {("That sounds exhausting.", "Just relax."),
                                         ("What goes through your mind then?", "Try counting sheep."),
                                         ("That hurts.", "Stop gambling.")}
    card = export_preference(traces, tmp_path / "nc", splits=(1, 0, 0), comparisons=False)
    assert card["pair_sources"] == {"scores": 4, "selector-score": 1}  # s2's pair is no longer a conflict
    assert ("Tell me more.", "Panic is common.") in pairs_of(tmp_path / "nc")


def test_reward_margin_and_kto_labels(traces, tmp_path):
    export_reward(traces, tmp_path / "r", splits=(1, 0, 0))
    margins = {(r["chosen"][0]["content"], r["rejected"][0]["content"]): r["margin"] for r in rows(tmp_path / "r")}
    assert margins[("That sounds exhausting.", "Sleep matters.")] == 0.5  # (9 - 8) / 2 principles
    assert margins[("That sounds exhausting.", "Just relax.")] == 2.5
    assert margins[("What goes through your mind then?", "Try counting sheep.")] == 0.0  # comparison only
    card = export_kto(traces, tmp_path / "k", splits=(1, 0, 0))
    labels = {r["completion"][0]["content"]: r["label"] for r in rows(tmp_path / "k")}
    assert labels == {"That sounds exhausting.": True, "Sleep matters.": True, "Just relax.": False,
                      "Tell me more.": True, "Panic is common.": False}
    assert card["labels"] == {"desirable": 3, "undesirable": 2} and card["skipped"]["middle"] == 2
    export_kto(traces, tmp_path / "k2", desirable=3, undesirable=2.5, splits=(1, 0, 0))
    assert len(rows(tmp_path / "k2")) == 7  # the two 3.0 candidates become desirable
    with pytest.raises(PsyagentsError, match="--undesirable"):
        export_kto(traces, tmp_path / "k3", desirable=2, undesirable=3)


def test_kto_takes_lone_candidates_and_judged_turns(traces, tmp_path):
    db = tmp_path / "k.db"
    shutil.copy(traces, db)
    store = TraceStore(db)
    (lone,) = store.candidates("s3", 1)
    _rate(store, "s3", 1, lone["id"], empathy=1, clarity=2)
    _session(store, "s6", "cbt", "maya", [("client", "I feel alone."), ("counselor", "You feel alone, and that is heavy."),
                                          ("client", "Yes."), ("counselor", "Cheer up!")])
    store.add_verdicts("s6", [_v("empathy", 5), _v("clarity", 4)], turn_idx=1)  # an ordinary session's turns, judged
    store.add_verdicts("s6", [_v("empathy", 1), _v("clarity", 2)], turn_idx=3)
    store.add_verdicts("s6", [_v("empathy", 3)])  # a verdict on the whole session: not a completion
    store.close()
    card = export_kto(db, tmp_path / "o", splits=(1, 0, 0))
    got = {(r["completion"][0]["content"], r["label"], r["candidate_id"] is None) for r in rows(tmp_path / "o")}
    assert {("Hi.", False, False), ("You feel alone, and that is heavy.", True, True), ("Cheer up!", False, True)} <= got
    assert card["labels"] == {"desirable": 4, "undesirable": 4} and "single" not in card["skipped"]
    (turn_row,) = [r for r in rows(tmp_path / "o") if r["completion"][0]["content"] == "Cheer up!"]
    assert turn_row["prompt"][-1] == {"role": "user", "content": "Yes."} and turn_row["id"] == "s6:3:turn"
    assert export_preference(db, tmp_path / "p")["skipped"]["single"] == 1  # pairs still need two candidates


def test_filters_scrub_dedupe_and_splits(traces, tmp_path):
    assert export_preference(traces, tmp_path / "a", styles=["integrative"], comparisons=False)["skipped"]["style"] == 4
    card = export_preference(traces, tmp_path / "b", safety="exclude", comparisons=False)
    assert card["skipped"]["safety"] == 1 and ("Tell me more.", "Panic is common.") not in pairs_of(tmp_path / "b")
    assert export_preference(traces, tmp_path / "c", personas=["omar"])["pair_sources"] == {"selector-score": 1}
    export_preference(traces, tmp_path / "d", scrub=True, splits=(1, 0, 0))
    text = (tmp_path / "d" / "train.jsonl").read_text()
    assert "Maya" not in text and "[NAME]" in text
    one = export_preference(traces, tmp_path / "e", splits=(0.5, 0.25, 0.25), seed=3)
    two = export_preference(traces, tmp_path / "f", splits=(0.5, 0.25, 0.25), seed=3)
    assert one["counts"] == two["counts"]
    by_split = {s: [json.loads(x)["session_id"] for x in (tmp_path / "e" / f"{s}.jsonl").read_text().splitlines()] for s in SPLITS}
    assert sum(len(v) for v in by_split.values()) == 5
    assert sum(len(set(v)) for v in by_split.values()) == len(set().union(*by_split.values()))  # a session's pairs share a split
    db = tmp_path / "dup.db"
    shutil.copy(traces, db)
    store = TraceStore(db)
    store.start_session("s5", config={"style": "cbt"}, persona={"id": "maya"}, versions={})
    store.add_turn("s5", Turn(0, "client", "I lost money again."))
    store.add_candidates("s5", 1, [{"text": "That hurts.", "score": 5}, {"text": "Stop gambling.", "score": 1}])
    store.close()
    assert export_preference(db, tmp_path / "g")["skipped"]["duplicate"] == 1
    assert export_preference(db, tmp_path / "h", dedupe=False)["pair_sources"]["selector-score"] == 2


def test_judge_choice_principles_and_scales(traces, tmp_path):
    db = tmp_path / "two.db"
    shutil.copy(traces, db)
    store = TraceStore(db)
    cands = store.candidates("s1", 1)
    # a second judge that prefers the blunt reply, and a principle on another scale
    store.add_verdicts("s1", [_v("empathy", 1, judge="rubric:y")], turn_idx=1, candidate_id=cands[0]["id"])
    store.add_verdicts("s1", [_v("empathy", 5, judge="rubric:y")], turn_idx=1, candidate_id=cands[2]["id"])
    store.add_verdicts("s1", [_v("empathy", 3, judge="rubric:y")], turn_idx=1, candidate_id=cands[1]["id"])
    store.add_verdicts("s1", [_v("understanding", 6, lo=0, hi=6)], turn_idx=1, candidate_id=cands[0]["id"])
    store.close()
    with pytest.raises(PsyagentsError, match=r"several judges \(rubric:x, rubric:y\).*--judge"):
        export_preference(db, tmp_path / "o")
    with pytest.raises(PsyagentsError, match="different scales"):
        export_preference(db, tmp_path / "o", judge=J)
    with pytest.raises(PsyagentsError, match="unknown judge.*rubric:z"):
        export_preference(db, tmp_path / "o", judge="rubric:z")
    card = export_preference(db, tmp_path / "x", judge=J, principles="psychocounsel", splits=(1, 0, 0))
    assert set(card["filters"]["principles"]) == {"empathy", "relevance", "clarity", "safety", "exploration", "autonomy", "staging"}
    assert card["principles"] == ["empathy", "clarity"]  # the rating columns: what was rated, in PsychoCounsel's order
    export_preference(db, tmp_path / "y", judge="rubric:y", principles="empathy", splits=(1, 0, 0), comparisons=False)
    assert ("Just relax.", "That sounds exhausting.") in pairs_of(tmp_path / "y")
    with pytest.raises(PsyagentsError, match="unknown principle or set 'empaty'.*did you mean 'empathy'"):
        export_preference(db, tmp_path / "z", judge=J, principles="empaty")


def test_group_pairs_rules_directly():
    from collections import Counter

    from psyagents.preference import Candidate, Group

    a = Candidate(1, 0, "a", None, True, None, {"empathy": 4})
    b = Candidate(2, 1, "b", None, False, None, {"empathy": 3, "clarity": 1})
    c = Candidate(3, 2, "c", None, False, None, {})  # unrated, beaten in one comparison and a tie
    g = Group({"id": "s"}, 1, [{"role": "user", "content": "x"}], [a, b, c], Counter({(1, 3): 1}))
    pairs, conflicts = group_pairs(g, 1.0, use_logged=False)
    assert {(p.chosen.text, p.rejected.text, p.source) for p in pairs} == {("a", "b", "scores"), ("a", "c", "comparison")}
    assert conflicts == 0 and pairs[0].n_principles == 1  # only empathy is common to the rated candidates


def cli_main(capsys, *args: str):
    """The real CLI entry point in-process (faster than a subprocess): ``(exit code, stdout, stderr)``."""
    from psyagents.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_exports_and_errors(traces, tmp_path, capsys):
    r = run_cli("export", "preference", "--db", str(traces), "-o", str(tmp_path / "p"), "--mode", "best-vs-worst")
    assert r.returncode == 0, r.stderr
    assert "Exported 3 pairs" in r.stdout and r.stderr == ""  # no progress bar without a terminal
    code, out, err = cli_main(capsys, "export", "reward", "--db", str(traces), "-o", str(tmp_path / "r"), "--min-gap", "2", "--no-comparisons")
    assert code == 0 and "Exported 4 pairs" in out, err
    code, out, err = cli_main(capsys, "export", "kto", "--db", str(traces), "-o", str(tmp_path / "k"), "--splits", "1,0,0")
    assert code == 0 and "5 rows (3 desirable, 2 undesirable)" in out, err
    for args, needle in [
        (("preference", "--db", str(tmp_path / "nope.db")), "does not exist"),
        (("preference", "--db", str(traces), "--judge", "rubric:q"), "unknown judge"),
        (("preference", "--db", str(traces), "--splits", "1,1"), "splits"),
        (("kto", "--db", str(traces), "--desirable", "1", "--undesirable", "3"), "--undesirable"),
        (("preference", "--db", str(traces), "--style", "sfbt"), "no preference rows"),
    ]:
        code, out, err = cli_main(capsys, "export", *args, "-o", str(tmp_path / "bad"))
        assert code == 2, (args, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], err
    assert not (tmp_path / "bad").exists()


def test_empty_store_says_what_to_do(tmp_path):
    TraceStore(tmp_path / "e.db").close()
    with pytest.raises(PsyagentsError, match="no logged candidates.*import preference"):
        export_preference(tmp_path / "e.db", tmp_path / "o")


@pytest.mark.model
def test_trl_dpo_trainer_takes_preference_export(traces, tmp_path):
    """Two real DPO steps on the embedded model with the exported rows, extra columns included."""
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from psyagents.default_plugins.local_models import embedded_model_path

    export_preference(traces, tmp_path / "data", splits=(1, 0, 0))
    ds = load_dataset("json", data_files=str(tmp_path / "data" / "train.jsonl"), split="train")
    base = embedded_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    args = DPOConfig(output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=1, use_cpu=True,
                     report_to="none", max_length=128, save_strategy="no", logging_steps=1, beta=0.1,
                     gradient_checkpointing=False)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer, peft_config=lora)
    assert trainer.train().global_step == 2


def test_a_score_tie_is_never_a_pair_even_at_min_gap_zero():
    """Equal totals give no pair at --min-gap 0, and do not veto what a comparison says."""
    from collections import Counter

    from psyagents.preference import Candidate, Group

    a = Candidate(1, 0, "a", None, True, None, {"empathy": 3})
    b = Candidate(2, 1, "b", None, False, None, {"empathy": 3})
    alone = Group({"id": "s"}, 1, [{"role": "user", "content": "x"}], [a, b])
    assert group_pairs(alone, 0.0, use_logged=False) == ([], 0)
    compared = Group({"id": "s"}, 1, [{"role": "user", "content": "x"}], [a, b], Counter({(2, 1): 2}))
    pairs, conflicts = group_pairs(compared, 0.0, use_logged=False)
    assert conflicts == 0 and [(p.chosen.text, p.rejected.text, p.source) for p in pairs] == [("b", "a", "comparison")]
    a2 = Candidate(1, 0, "a", None, True, None, {"empathy": 3.5})
    (pair,), _ = group_pairs(Group({"id": "s"}, 1, [], [a2, b]), 0.0, use_logged=False)
    assert (pair.chosen.text, pair.rejected.text) == ("a", "b")  # any positive gap counts at min_gap 0
