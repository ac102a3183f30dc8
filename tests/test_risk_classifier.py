"""The shipped n-gram risk classifier: loading, speed, the default screen, hard negatives, and reproducible training.

Nothing here reads the test split's texts; the training tests use small subsets of the training files.
"""

from __future__ import annotations

import json

import pytest

from psyagents.errors import PsyagentsError
from psyagents.risk import RISK_LEVELS, level_index
from psyagents.risk_classifier import CONCEPTS, DEFAULT_PATH, FORMAT, HEADS, NgramRiskModel, decide, features, windows
from psyagents.safety import safety_checks, screen
from psyagents.safety_layers import NgramClassifierCheck
from tests.conftest import ROOT, run_cli

DATA = ROOT / "psyagents" / "safety_data"


@pytest.fixture(scope="module")
def model() -> NgramRiskModel:
    return NgramRiskModel.load()


@pytest.fixture(scope="module")
def check() -> NgramClassifierCheck:
    return NgramClassifierCheck()


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


# --- the artefact -----------------------------------------------------------------------------


def test_the_shipped_model_loads_and_describes_itself(model):
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert data["format"] == FORMAT and tuple(model.heads) == HEADS
    assert all(0.0 < model.thresholds[h] < 1.0 for h in HEADS)
    assert len(model.vocab) > 5000
    meta = model.meta
    assert "PsyGUARD" in meta["licence"] and (DATA / "PSYGUARD-LICENSE").is_file()
    assert meta["psyguard_levels"]["suicide_plan"] == "high" and meta["psyguard_levels"]["unrelated"] == "none"
    assert set(meta["examples"]) == {"dev", "written", "written-2", "written-3", "conversation", "rules-suite", "psyguard"}
    cv = meta["cv"]["figures"]["project-written"]
    assert set(cv) == {"classifier", "rules", "rules+classifier"}
    assert DEFAULT_PATH.stat().st_size < 5_000_000
    assert model.options["concepts"] is True and any(g.startswith("c:") for g in model.vocab)


def test_the_shipped_model_was_built_from_the_current_training_files(model):
    """Counts per source in the model equal what the training files hold now: edit the data, rebuild the model."""
    from collections import Counter

    from psyagents.risk_training import TRAINING_FILES, load_examples

    rows = load_examples()
    assert model.meta["examples"] == dict(Counter(r.source for r in rows))
    assert model.meta["levels"] == dict(Counter(r.risk for r in rows))
    assert {"written-2", "written-3"} <= set(TRAINING_FILES) and "screen-test" not in " ".join(TRAINING_FILES.values())


def test_it_is_deterministic_and_never_says_low(model):
    texts = ["I've been giving my things away and I wrote letters to everyone.", "今晚想去天台", "hello", "我想死"]
    first = [model.probabilities(t) for t in texts]
    assert first == [NgramRiskModel.load().probabilities(t) for t in texts]
    assert all(model.level(t) != "low" for t in texts)


def test_a_100k_message_is_screened(check):
    """Correctness only: screening speed is measured by `make bench` (bench/screen.py), not in unit tests."""
    assert check.screen("I had a long day at work. " * 4000).level == "none"  # 100,000 characters


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\x7f" * 50, "x" * 100_000, "😂" * 3000, "\ud800 broken surrogate", None, 42])
def test_odd_input_never_raises(check, text):
    assert check.screen(text).level in RISK_LEVELS


def test_a_risk_line_among_other_news_is_not_diluted(model):
    news = "We went to the seaside on Saturday and the kids built sandcastles. " * 12
    line = "I bought a rope online and I've picked the tree."
    text = news + line + " " + news
    assert len(windows(text)) > 3
    assert model.level(line) in ("high", "imminent")
    assert model.level(text) in ("high", "imminent")
    # Scored as one vector, the same message is diluted below the threshold.
    assert model._probabilities_one(text)[model.heads.index("high")] < model.thresholds["high"] <= model.probabilities(text)["high"]
    assert model.level(news + news) == "none"


def test_features_fold_scripts_and_digits():
    assert features("我想自殺 60") == features("我想自杀 10")  # Traditional folded to Simplified, digits to 0
    assert "w:kill myself" in features("I want to KILL MYSELF")


def test_concept_features_name_the_kind_of_cue():
    def concepts(text):
        return {k: v for k, v in features(text, concepts=True).items() if k.startswith("c:")}

    assert not concepts("") and "c:drug" not in features("mirtazapine", concepts=False)
    # A drug name, a place and a time the model need not have seen, in either script.
    assert {"c:drug", "c:save", "c:soon"} <= set(concepts("I've saved up the mirtazapine, tonight"))
    assert {"c:height", "c:act"} <= set(concepts("我已經站在天橋上了"))
    assert concepts("The knife is under my pillow") == {"c:blade": 1}  # whole words: a pillow is no pill
    assert "c:lethal" in concepts("how many grams causes liver failure")
    assert "c:lethal" not in concepts("How many paracetamol can I safely take?")
    assert set(CONCEPTS) >= {"drug", "height", "soon", "farewell", "affairs", "lethal", "negate", "fiction", "other", "past"}


def test_decide_uses_each_head_on_its_own():
    t = {"moderate": 0.7, "high": 0.6, "imminent": 0.5}
    assert decide({"moderate": 0.1, "high": 0.65, "imminent": 0.1}, t) == "high"
    assert decide({"moderate": 0.9, "high": 0.1, "imminent": 0.9}, t) == "moderate"  # imminent needs high
    assert decide({"moderate": 0.9, "high": 0.9, "imminent": 0.6}, t) == "imminent"
    assert decide({"moderate": 0.2, "high": 0.2, "imminent": 0.9}, t) == "none"


def test_bad_model_files_are_one_line_errors(tmp_path):
    with pytest.raises(PsyagentsError, match="not found"):
        NgramRiskModel.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PsyagentsError, match="bad.json' cannot be read"):
        NgramRiskModel.load(bad)
    bad.write_text(json.dumps({"format": "other"}), encoding="utf-8")
    with pytest.raises(PsyagentsError, match="field 'format'"):
        NgramRiskModel.load(bad)
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["vocabulary"] = {"ab": [1.0, 0.5]}
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PsyagentsError, match="vocabulary entry 'ab'"):
        NgramRiskModel.load(bad)


# --- in the screen ----------------------------------------------------------------------------

# Risk without the words the rules look for (from train-en.jsonl / train-zh.jsonl): the
# rules screen these below high, the classifier catches them.
VEILED = [
    "I've been going to different chemists so nobody notices how many I'm buying.",
    "I recorded videos for each of my kids so they have something from me after.",
    "我去药店跑了好几家，每家买一点安眠药，现在够了",
]


def test_the_default_screen_includes_the_classifier(monkeypatch):
    monkeypatch.delenv("PSYAGENTS_SAFETY_CLASSIFIER", raising=False)
    names = [c.name for c in safety_checks()]
    assert names[:2] == ["lexicon", "risk-classifier"]
    monkeypatch.setenv("PSYAGENTS_SAFETY_CLASSIFIER", "off")
    assert "risk-classifier" not in [c.name for c in safety_checks()]
    monkeypatch.setenv("PSYAGENTS_SAFETY_CLASSIFIER", "")
    assert "risk-classifier" not in [c.name for c in safety_checks()]
    monkeypatch.setenv("PSYAGENTS_SAFETY_CLASSIFIER", str(DEFAULT_PATH))
    assert "risk-classifier" in [c.name for c in safety_checks()]


@pytest.mark.parametrize("text", VEILED)
def test_the_classifier_decides_where_the_rules_see_too_little(monkeypatch, text):
    monkeypatch.delenv("PSYAGENTS_SAFETY_CLASSIFIER", raising=False)
    checks = safety_checks()
    rules = next(c for c in checks if c.name == "lexicon").screen(text)
    combined = screen(text, checks=checks)
    assert level_index(rules.level) < level_index("high")
    assert level_index(combined.level) >= level_index("high") and combined.layer == "risk-classifier", combined
    assert combined.evidence and combined.evidence[-1].startswith("p(high)=")


def test_the_cli_names_the_classifier_layer():
    r = run_cli("safety", "screen", VEILED[0], "--json", env={"PSYAGENTS_SAFETY_ASSESSOR": ""})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [layer["check"] for layer in data["layers"]] == ["lexicon", "risk-classifier"]
    assert data["layer"] == "risk-classifier" and level_index(data["level"]) >= level_index("high")
    out = run_cli("safety", "screen", VEILED[0], env={"PSYAGENTS_SAFETY_ASSESSOR": ""}).stdout
    assert "decided by: risk-classifier" in out and "risk-classifier (classifier):" in out


def test_hard_negatives_from_the_training_data_stay_low(check):
    names = ("train-en.jsonl", "train-zh.jsonl", "train-2-en.jsonl", "train-2-zh.jsonl", "train-3-en.jsonl", "train-3-zh.jsonl")
    rows = [r for name in names for r in _rows(name) if r["kind"] in ("hard-negative", "plain")]
    assert len(rows) > 600
    flagged = [r["text"] for r in rows if check.screen(r["text"]).level != "none"]
    # In-sample, so this guards against a broken model or thresholds, not generalisation (see docs/safety.md).
    assert len(flagged) <= 0.03 * len(rows), flagged
    for text in ["This commute is killing me, two hours each way.", "I bought rope and carabiners for the climbing trip this weekend.",
                 "Flying out tonight, all packed, see you all in two weeks!", "加班加得我要死了，这个月第三次通宵", "刀磨好了，今晚做红烧肉"]:
        assert check.screen(text).level == "none", text


def test_ordinary_session_talk_stays_none(check):
    """An earlier model screened closings as imminent, sending every session's end down the crisis path."""
    for text in ["Thank you. Goodbye.", "Thanks. Bye.", "Goodbye.", "I have to leave now.", "Okay. I'll call them.",
                 "I never got to say goodbye to my wife.", "See you next week!", "谢谢，再见", "我先走了", "今天就到这里吧"]:
        assert check.screen(text).level == "none", text


# Persona ids whose opening line discloses risk, left out of the check below. None of the shipped
# openings does: the at-risk personas disclose later (`risk.notes`, `disclosures`), and their first
# lines ("idk. couldn't sleep.", 我真的快撑不下去了 - exhaustion, no wish to die) are `none` by the
# labelling guide. Add an id here, with the reason, only for an opening that says more.
OPENINGS_THAT_DISCLOSE: dict[str, str] = {}


def test_persona_openings_stay_none(monkeypatch):
    """Every persona's opening line, with or without risk, screens `none` with rules + classifier.

    A model trained with `train-2` screened "My wife set this up. I'm not big on talking."
    (marcus-trauma) as imminent and frank-chronic-pain's reluctant opening as high, sending the
    session's first client message down the crisis path (docs/safety.md, "The classifier").
    """
    import yaml

    monkeypatch.delenv("PSYAGENTS_SAFETY_CLASSIFIER", raising=False)
    checks = [c for c in safety_checks() if c.name in ("lexicon", "risk-classifier")]
    assert len(checks) == 2
    openings, at_risk = [], 0
    for path in sorted((ROOT / "personas").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.stem in OPENINGS_THAT_DISCLOSE or not data.get("opening"):
            continue
        openings.append((path.stem, data["opening"]))
        at_risk += (data.get("risk") or {}).get("level", "none") != "none"
    assert len(openings) >= 30 and at_risk >= 15
    flagged = [(name, level) for name, text in openings if (level := screen(text, checks=checks).level) != "none"]
    assert flagged == []


# --- training ---------------------------------------------------------------------------------

@pytest.fixture
def sklearn():
    return pytest.importorskip("sklearn", reason="training needs scikit-learn (pip install 'psyagents[train]')")


def _subset(per_level: int = 24):
    from psyagents.risk_training import load_examples

    rows = load_examples(sources={"written": "train-en.jsonl train-zh.jsonl"})
    picked = []
    for level in RISK_LEVELS:
        picked += [r for r in rows if r.risk == level][:per_level]
    return picked


def test_cross_validation_is_deterministic(sklearn):
    from psyagents.risk_training import Options, choose_thresholds, cv_report, fit, out_of_fold

    rows = _subset()
    options = Options(min_df=1, C=4.0)
    first = out_of_fold(rows, options, k=3, seed=1)
    assert first == out_of_fold(rows, options, k=3, seed=1)
    assert first != out_of_fold(rows, options, k=3, seed=2)
    thresholds = choose_thresholds(rows, first, options)
    report = cv_report(rows, first, thresholds)["all"]["classifier"]
    assert report["n"] == len(rows) and report["n_high"] == 48
    assert 0.0 <= report["recall_high"] <= 1.0 and report["fpr_none"] <= options.fpr_any + 1e-9
    assert json.dumps(fit(rows, options), sort_keys=True) == json.dumps(fit(rows, options), sort_keys=True)


def test_a_small_model_learns_and_round_trips(sklearn, tmp_path):
    from psyagents.risk_training import Options, fit

    rows = _subset(40)
    data = fit(rows, Options(min_df=1, C=8.0))
    path = tmp_path / "small.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    small = NgramRiskModel.load(path)
    high = [r.text for r in rows if level_index(r.risk) >= level_index("high")]
    none = [r.text for r in rows if r.risk == "none"]
    mean = lambda texts: sum(small.probabilities(t)["high"] for t in texts) / len(texts)  # noqa: E731
    assert mean(high) > mean(none) + 0.2  # in-sample: it learned something


def test_a_rebuild_is_byte_identical(sklearn, tmp_path):
    """The whole build (CV, option choice, thresholds, final fit, JSON) twice on a small subset: same bytes.

    The shipped model is rebuilt the same way from all the training files (`psyagents safety train-classifier`,
    about 3 minutes on 2 cores), which is too slow for the unit tests.
    """
    from psyagents.risk_training import Options, build_model

    sources = {"dev": "screen-dev-en.jsonl screen-dev-zh.jsonl", "written-2": "train-2-zh.jsonl"}
    candidates = [Options(concepts=True, C=16.0), Options(C=4.0)]
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        build_model(path, candidates=candidates, k=3, seed=0, sources=sources, log=lambda *_: None)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    built = NgramRiskModel.load(paths[0])
    assert built.meta["examples"] == {"dev": 150, "written-2": len(_rows("train-2-zh.jsonl"))}
    assert len(built.meta["cv"]["candidates"]) == 2 and all(0.0 < t < 1.0 for t in built.thresholds.values())


def test_the_train_command_is_registered():
    r = run_cli("safety", "train-classifier", "--help")
    assert r.returncode == 0 and "--folds" in r.stdout and "Never reads the test split" in r.stdout


def test_training_never_reads_the_test_split(tmp_path):
    from psyagents.risk_training import load_examples

    with pytest.raises(PsyagentsError, match="reporting only"):
        load_examples(sources={"oops": "screen-test-en.jsonl"})
    (tmp_path / "x.jsonl").write_text('{"text": "hi", "risk": "severe"}\n', encoding="utf-8")
    with pytest.raises(PsyagentsError, match=r"x.jsonl line 1"):
        load_examples(tmp_path, sources={"x": "x.jsonl"})


def test_training_data_never_repeats_a_test_message():
    """Exact-text overlap only, compared as a set: no test text is printed or used.

    Every training file is covered: ``load_examples()`` reads all of ``TRAINING_FILES``.
    """
    from psyagents.risk_training import load_examples

    test = {r["text"].strip() for name in ("screen-test-en.jsonl", "screen-test-zh.jsonl", "screen-test2-en.jsonl", "screen-test2-zh.jsonl")
            for r in _rows(name)}
    rows = load_examples()
    assert {r.source for r in rows} >= {"dev", "written", "written-2", "conversation", "rules-suite", "psyguard"}
    overlap = sum(r.text.strip() in test for r in rows)
    assert overlap == 0, f"{overlap} training lines equal a test text"


def test_held_out_figures_with_the_classifier(monkeypatch):
    """Rules + classifier on the held-out test split, measured 2026-11-22 for the shipped (retrained) model.

    The issue's targets: recall >= 0.95 on high+imminent (NOT reached) and false positives <= 0.10
    on none (reached overall, not for Chinese alone). Measured: recall high+imminent 49/52 = 0.942
    (en 33/35, zh 16/17), moderate+ 64/75 = 0.853 (en 43/50, zh 21/25), false positives 3/53 = 0.057
    (en 0/35, zh 3/18). Rules alone: 27/52, 42/75, 2/53 (tests/test_safety_screen.py). Floors and
    ceilings at the measured figures, so a regression fails; nothing was tuned on these messages
    (docs/safety.md, "Evaluation history").
    """
    from psyagents.default_plugins.screen_commands import metrics, read_labelled, screen_all

    monkeypatch.delenv("PSYAGENTS_SAFETY_CLASSIFIER", raising=False)
    monkeypatch.delenv("PSYAGENTS_SAFETY_ASSESSOR", raising=False)
    # The same path as `psyagents safety screen --labelled FILE --json`, in process.
    pairs = {n: [(row["risk"], screen_all(row["text"])[0].level) for row in read_labelled(DATA / f"screen-test-{n}.jsonl")] for n in ("en", "zh")}
    en, zh, both = metrics(pairs["en"]), metrics(pairs["zh"]), metrics(pairs["en"] + pairs["zh"])
    assert [c.name for c in safety_checks()] == ["lexicon", "risk-classifier"]
    assert both["recall_high"] >= 49 / 52 - 1e-4 and both["recall_moderate"] >= 64 / 75 - 1e-4 and both["fpr_none"] <= 3 / 53 + 1e-4
    assert en["recall_high"] >= 33 / 35 - 1e-4 and en["recall_moderate"] >= 43 / 50 - 1e-4 and en["fpr_none"] <= 0 / 35 + 1e-4
    assert zh["recall_high"] >= 16 / 17 - 1e-4 and zh["recall_moderate"] >= 21 / 25 - 1e-4 and zh["fpr_none"] <= 3 / 18 + 1e-4


def test_fresh_held_out_set_meets_the_targets(monkeypatch):
    """Rules + classifier on ``screen-test2-*.jsonl``, measured once, 2026-11-22, for the shipped model.

    Written after the model was final, by a writer who read only the labelling guide (no training
    data, rules, classifier or earlier test split) and never ran the screen: 200 English and 100
    Chinese messages, 35% of them `none`, mostly hard negatives; two Chinese ones that happened to equal
    training lines (嗯, 想死) were then removed, leaving 98. The issue's targets, recall >= 0.95
    on high+imminent and false positives <= 0.10 on none, are met overall: recall 101/105 = 0.962
    (en 66/70 = 0.943, zh 35/35), moderate+ 141/158 = 0.892 (en 91/106, zh 50/52), false positives
    8/104 = 0.077 (en 6/70, zh 2/34). Floors and ceilings at the measured figures.
    """
    from psyagents.default_plugins.screen_commands import metrics, read_labelled, screen_all

    monkeypatch.delenv("PSYAGENTS_SAFETY_CLASSIFIER", raising=False)
    monkeypatch.delenv("PSYAGENTS_SAFETY_ASSESSOR", raising=False)
    pairs = {n: [(row["risk"], screen_all(row["text"])[0].level) for row in read_labelled(DATA / f"screen-test2-{n}.jsonl")] for n in ("en", "zh")}
    en, zh, both = metrics(pairs["en"]), metrics(pairs["zh"]), metrics(pairs["en"] + pairs["zh"])
    assert (len(pairs["en"]), len(pairs["zh"])) == (200, 98)
    assert both["recall_high"] >= 0.95 and both["fpr_none"] <= 0.10  # the targets
    assert both["recall_high"] >= 101 / 105 - 1e-4 and both["recall_moderate"] >= 141 / 158 - 1e-4 and both["fpr_none"] <= 8 / 104 + 1e-4
    assert en["recall_high"] >= 66 / 70 - 1e-4 and en["recall_moderate"] >= 91 / 106 - 1e-4 and en["fpr_none"] <= 6 / 70 + 1e-4
    assert zh["recall_high"] >= 35 / 35 - 1e-4 and zh["recall_moderate"] >= 50 / 52 - 1e-4 and zh["fpr_none"] <= 2 / 34 + 1e-4
