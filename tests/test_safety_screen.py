"""``psyagents safety screen``: one message, a labelled file, one-line errors, and the shipped test split."""

from __future__ import annotations

import json

import pytest

from psyagents.default_plugins.screen_commands import metrics
from tests.conftest import ROOT, run_cli

DATA = ROOT / "psyagents" / "safety_data"
# Only the rule layer: the optional layers stay off even if the environment names a model.
RULES_ONLY = {"PSYAGENTS_SAFETY_CLASSIFIER": "", "PSYAGENTS_SAFETY_ASSESSOR": ""}


def _ok(*args: str) -> str:
    r = run_cli("safety", "screen", *args, env=RULES_ONLY)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _error(*args: str, match: str) -> str:
    r = run_cli("safety", "screen", *args, env=RULES_ONLY)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert match in lines[0], lines[0]
    return lines[0]


# --- one message --------------------------------------------------------------------------


def test_english_message():
    out = _ok("I'm going to kill myself tonight")
    assert "level: imminent" in out
    assert "categories: active_suicidal_ideation" in out
    assert "decided by: rules" in out
    assert '"tonight"' in out and "going to kill myself" in out
    assert "lexicon (rules): imminent" in out


def test_chinese_message_as_json_shows_every_layer():
    data = json.loads(_ok("我想跳楼", "--language", "zh", "--json"))
    assert data["level"] == "high" and data["layer"] == "rules"
    assert "suicide_plan" in data["categories"]
    assert data["evidence"] == ["想跳楼"]
    assert [layer["check"] for layer in data["layers"]] == ["lexicon"]
    assert data["layers"][0]["level"] == "high"


def test_hard_negative_is_none():
    out = _ok("This deadline is literally killing me, I've had like four hours of sleep")
    assert "level: none" in out
    assert "decided by: no layer found risk" in out
    data = json.loads(_ok("累死了，今天加班到十点", "--json"))
    assert data["level"] == "none" and data["categories"] == [] and data["evidence"] == []


def test_text_or_labelled_but_not_both(tmp_path):
    _error(match="give TEXT to screen, or --labelled")
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "hi", "risk": "none"}\n', encoding="utf-8")
    _error("hello", "--labelled", str(path), match="not both")


def test_unknown_language_is_a_usage_error():
    _error("hello", "--language", "fr", match="--language")


# --- a labelled file ------------------------------------------------------------------------

# Each line's screened level is in the comment; the expected figures are worked out by hand.
SMALL = [
    {"text": "I want to kill myself tonight", "risk": "imminent", "kind": "risk"},  # imminent
    {"text": "I wrote a suicide note", "risk": "high", "categories": ["suicide_preparation"]},  # high
    {"text": "I'm fine, thanks for asking", "risk": "high"},  # none: a miss
    {"text": "I want to die", "risk": "moderate"},  # moderate
    {"text": "I wish I could just disappear", "risk": "moderate"},  # low: below moderate
    {"text": "this deadline is killing me", "risk": "none"},  # none
    {"text": "what is suicide?", "risk": "none"},  # low: a false positive
    {"text": "Thanks for today, goodbye!", "risk": "none"},  # none
]


def _write(path, rows, blank_line=True):
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    if blank_line:
        lines.insert(3, "")  # blank lines are skipped
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_labelled_file_figures(tmp_path):
    path = _write(tmp_path / "small.jsonl", SMALL)
    data = json.loads(_ok("--labelled", str(path), "--json"))
    assert data["n"] == 8
    assert data["recall_high"] == pytest.approx(2 / 3, abs=1e-4)  # 2 of the 3 labelled high or imminent
    assert data["recall_moderate"] == pytest.approx(3 / 5, abs=1e-4)  # 3 of the 5 labelled moderate or above
    assert data["fpr_none"] == pytest.approx(1 / 3, abs=1e-4)  # 1 of the 3 labelled none
    c = data["confusion"]
    assert c["imminent"]["imminent"] == 1 and c["high"]["high"] == 1 and c["high"]["none"] == 1
    assert c["moderate"]["moderate"] == 1 and c["moderate"]["low"] == 1
    assert c["none"]["none"] == 2 and c["none"]["low"] == 1
    assert sum(sum(row.values()) for row in c.values()) == 8
    assert data["per_level"]["high"] == {"n": 2, "exact": 1, "at_least": 1, "below": 1}
    assert data["per_level"]["none"] == {"n": 3, "exact": 2, "at_least": 3, "below": 0}
    assert data["per_level"]["low"] == {"n": 0, "exact": 0, "at_least": 0, "below": 0}


def test_labelled_file_table(tmp_path):
    path = _write(tmp_path / "small.jsonl", SMALL)
    out = _ok("--labelled", str(path))
    assert "n=8" in out
    assert "recall high+imminent (screened high or above): 0.667 of 3" in out
    assert "recall moderate and above (screened moderate or above): 0.600 of 5" in out
    assert "false-positive rate on none (screened above none): 0.333 of 3" in out
    assert "Confusion matrix" in out


def test_a_figure_without_cases_is_null():
    figures = metrics([("none", "none"), ("low", "moderate")])
    assert figures["recall_high"] is None and figures["recall_moderate"] is None
    assert figures["fpr_none"] == 0.0 and figures["n"] == 2


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"risk": "low"}', "line 2: field 'text' missing"),
        ('{"text": 5, "risk": "low"}', "line 2: field 'text' must be a string"),
        ('{"text": "hi"}', "line 2: field 'risk' missing"),
        ('{"text": "hi", "risk": "severe"}', "line 2: field 'risk' is 'severe'"),
        ('["text", "risk"]', "line 2: expected a JSON object"),
    ],
)
def test_bad_line_is_one_line_error(tmp_path, line, match):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "risk": "none"}\n' + line + "\n", encoding="utf-8")
    error = _error("--labelled", str(path), match=match)
    assert str(path) in error


def test_missing_file_is_one_line_error(tmp_path):
    path = tmp_path / "nope.jsonl"
    error = _error("--labelled", str(path), match="not found")
    assert str(path) in error


def test_empty_file_is_one_line_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    _error("--labelled", str(path), match="no labelled lines")


# --- the shipped test split -----------------------------------------------------------------


def _figures(*names: str) -> dict:
    args = [a for name in names for a in ("--labelled", str(DATA / f"screen-test-{name}.jsonl"))]
    return json.loads(_ok(*args, "--json"))


def test_shipped_test_split():
    """The rule layer on the held-out test split, measured 2026-11-22; the issue's targets are NOT reached.

    Targets: recall >= 0.95 on high+imminent and false positives <= 0.10 on none. The rules
    were revised on the dev split (where they now score recall 1.00, false positives 0.00),
    on messages the developers wrote and on PsyGUARD; the test split was only measured.
    Measured here: recall high+imminent 27/52 = 0.519 (en 16/35 = 0.457, zh 11/17 = 0.647),
    recall moderate+ 42/75 = 0.560 (en 26/50, zh 16/25), false positives 2/53 = 0.038
    (en 0/35, zh 2/18 = 0.111). Before the revision: recall high+imminent 0.231, false
    positives 0.057. The rules generalise poorly to risk put in words they have not seen;
    see docs/safety.md. These asserts are floors at the measured figures, so an honest
    improvement passes and a regression fails.
    """
    both, en, zh = _figures("en", "zh"), _figures("en"), _figures("zh")
    assert (both["n"], en["n"], zh["n"]) == (150, 100, 50)

    assert both["recall_high"] >= 27 / 52 - 1e-4
    assert both["recall_moderate"] >= 42 / 75 - 1e-4
    assert both["fpr_none"] <= 2 / 53 + 1e-4

    assert en["recall_high"] >= 16 / 35 - 1e-4
    assert en["recall_moderate"] >= 26 / 50 - 1e-4
    assert en["fpr_none"] <= 0 / 35 + 1e-4

    assert zh["recall_high"] >= 11 / 17 - 1e-4
    assert zh["recall_moderate"] >= 16 / 25 - 1e-4
    assert zh["fpr_none"] <= 2 / 18 + 1e-4


def test_fresh_held_out_set_rules_only(monkeypatch):
    """The rule layer alone on ``screen-test2-*.jsonl`` (written blind after everything was final), 2026-11-22.

    Recall high+imminent 48/105 = 0.457 (en 29/70, zh 19/35), moderate+ 81/158 (en 51/106, zh 30/52),
    false positives 2/104 (en 2/70, zh 0/34): the rules alone stay far from the targets on unseen
    wording, as on the first test split; the classifier carries the recall (test_risk_classifier.py).
    """
    monkeypatch.setenv("PSYAGENTS_SAFETY_CLASSIFIER", "off")
    def figures(*names):
        args = [a for name in names for a in ("--labelled", str(DATA / f"screen-test2-{name}.jsonl"))]
        return json.loads(_ok(*args, "--json"))

    both, en, zh = figures("en", "zh"), figures("en"), figures("zh")
    assert (both["n"], en["n"], zh["n"]) == (298, 200, 98)
    assert both["recall_high"] >= 48 / 105 - 1e-4 and both["recall_moderate"] >= 81 / 158 - 1e-4 and both["fpr_none"] <= 2 / 104 + 1e-4
    assert en["recall_high"] >= 29 / 70 - 1e-4 and en["recall_moderate"] >= 51 / 106 - 1e-4 and en["fpr_none"] <= 2 / 70 + 1e-4
    assert zh["recall_high"] >= 19 / 35 - 1e-4 and zh["recall_moderate"] >= 30 / 52 - 1e-4 and zh["fpr_none"] <= 0 / 34 + 1e-4
