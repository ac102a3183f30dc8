"""Principles as data: the shipped sets, resolving sets and ids, ratio scoring, validation errors, the hook and the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from psyagents.errors import DataFileError, PsyagentsError
from psyagents.hookspecs import hookimpl
from psyagents.judging import principle_sets, ratio_score, resolve_principles, total_score, Verdict
from psyagents.registry import data_dir, get_principle, load_yaml_model, principles
from psyagents.specs import Principle
from tests.conftest import run_cli

SETS = {
    "psychocounsel": (7, 1, 5), "ethics": (6, 1, 5), "skills": (8, 1, 5), "ctrs": (6, 0, 6), "wai": (3, 1, 7), "miti": (4, None, None),
    "crisis": (5, 1, 5),
}


@pytest.mark.parametrize("path", sorted(data_dir("principles").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_principle_loads(path):
    p = load_yaml_model(path, Principle)
    assert p.id == path.stem and p.source and len(p.anchors) >= 2
    assert sorted(a.score for a in p.anchors)[0] == p.scale_min and max(a.score for a in p.anchors) == p.scale_max


def test_the_named_sets_and_their_scales():
    sets = principle_sets()
    for name, (n, lo, hi) in SETS.items():
        assert len(sets[name]) == n, name
        if lo is not None:
            assert {(p.scale_min, p.scale_max, p.kind) for p in sets[name]} == {(lo, hi, "rating")}, name
    assert {p.kind for p in sets["miti"]} == {"ratio"}
    ethics = {p.id for p in sets["ethics"]}
    assert ethics == {f"ethics-{x}" for x in ("autonomy", "beneficence", "non-maleficence", "justice", "fidelity", "veracity")}
    assert get_principle("autonomy").sets == ["psychocounsel"]  # no clash with the ethics principle
    assert {p.id for p in sets["wai"]} == {"wai-goal", "wai-task", "wai-bond"}


def test_resolve_principles_by_set_id_list_path_and_all(tmp_path):
    assert [p.id for p in resolve_principles("wai")] == ["wai-bond", "wai-goal", "wai-task"]
    mixed = resolve_principles("empathy, wai,empathy,wai-goal")
    assert [p.id for p in mixed] == ["empathy", "wai-bond", "wai-goal", "wai-task"]  # order kept, duplicates dropped
    assert [p.id for p in resolve_principles(["clarity", get_principle("empathy")])] == ["clarity", "empathy"]
    assert len(resolve_principles("all")) == len(principles())
    path = tmp_path / "mine.yaml"
    path.write_text((data_dir("principles") / "empathy.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert resolve_principles(str(path))[0].id == "mine"
    with pytest.raises(PsyagentsError, match=r"unknown principle or set 'etics' \(did you mean 'ethics'\?\); sets: crisis, ctrs"):
        resolve_principles("etics")
    with pytest.raises(PsyagentsError, match="no principles given"):
        resolve_principles(" , ")


@pytest.mark.parametrize(
    ("principle", "counts", "score"),
    [
        ("miti-reflection-question-ratio", {"simple-reflection": 2, "complex-reflection": 1, "open-question": 1, "closed-question": 1}, 1.5),
        ("miti-reflection-question-ratio", {"simple-reflection": 7, "open-question": 1}, 3.0),  # 7 capped at the top, 3
        ("miti-reflection-question-ratio", {"complex-reflection": 2}, 3.0),  # reflections and no question: the top
        ("miti-reflection-question-ratio", {"closed-question": 4}, 0.0),
        ("miti-reflection-question-ratio", {}, None),  # nothing to divide: does not apply
        ("miti-complex-reflections", {"simple-reflection": 3, "complex-reflection": 1}, 0.25),
        ("miti-open-questions", {"open-question": 2, "closed-question": 1}, 0.6667),
        ("miti-mi-adherence", {"affirm": 2, "seek-collaboration": 1, "emphasize-autonomy": 1, "confront": 1, "persuade": 0}, 0.8),
        ("miti-mi-adherence", {"affirm": 0}, None),
    ],
)
def test_ratio_scores_by_hand(principle, counts, score):
    value, why = ratio_score(get_principle(principle), counts)
    assert value == score
    assert all(code in why for code in get_principle(principle).behaviours)


def test_a_percent_ratio_is_capped_to_its_scale():
    p = Principle(id="pct", name="P", description="d", sets=["x"], kind="ratio", scale_min=0, scale_max=100,
                  anchors=[{"score": 0, "description": "a"}, {"score": 100, "description": "b"}],
                  behaviours={"a": "x", "b": "y"}, ratio={"numerator": ["a"], "denominator": ["b"], "percent": True})
    assert ratio_score(p, {"a": 1, "b": 4})[0] == 25.0
    value, why = ratio_score(p, {"a": 3, "b": 2})
    assert value == 100.0 and "1/1" not in why and "150%, capped at 100" in why


def test_total_score_sums_ok_scores():
    v = lambda s, st="ok": Verdict(judge="j", principle="p", score=s, scale_min=1, scale_max=5, status=st)  # noqa: E731
    assert total_score([v(4), v(3), v(None), v(None, "failed")]) == 7.0
    assert total_score([v(None)]) is None


BASE = "name: X\ndescription: d\nsets: [mine]\nanchors: [{score: 1, description: a}, {score: 5, description: b}]\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("kind: ratio\n", "field 'ratio': Value error, a 'kind: ratio' principle needs a ratio"),
        ("kind: ratio\nbehaviours: {open-question: x}\nratio: {numerator: [open-question], denominator: [closed-question]}\n",
         "field 'ratio': Value error, no definition in 'behaviours' for ['closed-question']"),
        ("behaviours: {open-question: x}\n", "field 'behaviours': Value error, behaviour codes belong to 'kind: ratio'"),
        ("kind: ratio\nbehaviours: {Open_Q: x}\nratio: {numerator: [Open_Q], denominator: [Open_Q]}\n", "field 'behaviours'"),
        ("scale_max: 4\n", "anchor score 5 outside 1..4"),
        ("sets2: [x]\n", "field 'sets2': Extra inputs are not permitted"),
        ("kind: scale\n", "field 'kind'"),
    ],
)
def test_validation_errors_name_the_file_and_field(tmp_path, extra, message):
    path = tmp_path / "bad-principle.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    with pytest.raises(DataFileError, match="bad-principle.yaml: ") as err:
        load_yaml_model(path, Principle)
    assert message in str(err.value)


def test_a_bad_set_name_is_named(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace("[mine]", "[My Set]"), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"p.yaml: field 'sets': .*kebab-case"):
        load_yaml_model(path, Principle)


def test_plugins_add_principles_and_sets(plugin, tmp_path):
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "warmth.yaml").write_text(BASE.replace("[mine]", "[house, skills]"), encoding="utf-8")
    made = Principle(id="humour", name="Humour", description="d", sets=["house"],
                     anchors=[{"score": 1, "description": "a"}, {"score": 5, "description": "b"}])

    class P:
        @hookimpl
        def register_principles(self, register):
            register(made)
            register(folder)

    plugin(P(), "house-principles")
    assert [p.id for p in resolve_principles("house")] == ["humour", "warmth"]
    assert "warmth" in {p.id for p in principle_sets()["skills"]}


def _cli(*args):
    from psyagents.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_principles_commands():
    sets = json.loads(_cli("principles", "sets", "--json"))
    assert sets["wai"] == ["wai-bond", "wai-goal", "wai-task"] and len(sets["skills"]) == 8
    rows = json.loads(_cli("principles", "list", "--set", "ctrs", "--set", "wai", "--json"))
    assert [r["id"] for r in rows][:2] == ["ctrs-collaboration", "ctrs-focus"] and len(rows) == 9
    assert {(r["scale_min"], r["scale_max"]) for r in rows} == {(0, 6), (1, 7)}
    shown = json.loads(_cli("principles", "show", "miti-open-questions", "--json"))
    assert shown["kind"] == "ratio" and shown["ratio"]["denominator"] == ["open-question", "closed-question"]
    assert "open-question" in shown["behaviours"] and (shown["scale_min"], shown["scale_max"]) == (0, 1)
    assert "behaviours" not in json.loads(_cli("principles", "show", "empathy", "--json"))
    assert "ethics-veracity" in _cli("principles", "list")
    judges = {j["name"] for j in json.loads(_cli("judges", "--json"))}
    assert {"rubric", "rubric-set", "pairwise", "best-of-n", "reward", "heuristic"} <= judges


def test_unknown_set_on_the_command_line_is_one_line_and_exit_2():
    result = run_cli("principles", "list", "--set", "wia")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("Error: unknown principle or set 'wia' (did you mean 'wai'?); sets: crisis, ctrs, ethics")
