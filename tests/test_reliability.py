"""Judge reliability: kappa, Spearman and position bias against hand-computed values, and their commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from psyagents.reliability import agreement, cohen_kappa, position_bias, ranks, spearman
from psyagents.tracing import TraceStore


def _cli(*args):
    from psyagents.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_main(capsys, *args) -> tuple[int, str, str]:
    """The real entry point (``psyagents.cli.main``) in this process: exit code, stdout, stderr."""
    from psyagents.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_cohen_kappa_unweighted_by_hand():
    # Observed agreement 3/4; chance: A says 1 half the time, B a quarter -> 0.5*0.25 + 0.5*0.75 = 0.5.
    # kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5
    assert cohen_kappa([1, 1, 2, 2], [1, 2, 2, 2]) == pytest.approx(0.5)
    assert cohen_kappa([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert cohen_kappa([1, 2], [2, 1]) == pytest.approx(-1.0)
    assert cohen_kappa([3, 3], [3, 3]) is None  # chance agreement is total: undefined
    assert cohen_kappa([], []) is None


def test_cohen_kappa_quadratic_by_hand():
    # Pairs (1,1) (2,3) (3,3) (3,2) on a 1..3 scale; both marginals are 1/4, 1/4, 1/2.
    # Quadratic disagreement weights ((i-j)/2)^2: 0.25 next door, 1 two apart.
    # Observed: (0.25 + 0.25) / 4 = 0.125. Expected: 2*(0.25*0.25*0.25) + 2*(1*0.25*0.5) + 2*(0.25*0.25*0.5) = 0.34375.
    # kappa_w = 1 - 0.125 / 0.34375 = 7/11
    a, b = [1, 2, 3, 3], [1, 3, 3, 2]
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(7 / 11)
    # Unweighted: observed 2/4, chance 0.25^2 + 0.25^2 + 0.5^2 = 0.375 -> (0.5 - 0.375) / 0.625 = 0.2
    assert cohen_kappa(a, b) == pytest.approx(0.2)
    # Linear weights |i-j|/2: observed (0.5 + 0.5)/4 = 0.25; expected 2*(0.5*0.25*0.25) + 2*(1*0.25*0.5) + 2*(0.5*0.25*0.5)
    # = 0.0625 + 0.25 + 0.125 = 0.4375; kappa = 1 - 0.25 / 0.4375 = 3/7
    assert cohen_kappa(a, b, weights="linear") == pytest.approx(3 / 7)
    # Categories nobody used still shape the weights: on a 1..5 scale a 1-point miss weighs (1/4)^2.
    assert cohen_kappa([1, 2], [2, 1], categories=[1, 2, 3, 4, 5], weights="quadratic") == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 2])


def test_spearman_by_hand():
    # No ties: d = 0, 1, 1, 0 -> 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # Ties share their mean rank: x ranks 1, 2.5, 2.5, 4 against 1..4 -> 4.5 / sqrt(4.5 * 5)
    assert ranks([1, 2, 2, 3]) == [1.0, 2.5, 2.5, 4.0]
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / (4.5 * 5) ** 0.5)
    assert spearman([4, 3, 2, 1], [1, 2, 3, 4]) == pytest.approx(-1.0)
    assert spearman([2, 2, 2], [1, 2, 3]) is None
    assert spearman([1], [1]) is None


def _verdict(judge, principle, score, turn, status="ok", lo=1, hi=5):
    return {"judge": judge, "principle": principle, "score": score, "scale_min": lo, "scale_max": hi, "status": status}


@pytest.fixture
def two_judges(db):
    from psyagents.session import run_session

    sid = run_session("kevin-panic", "integrative", "scripted:counselor", "scripted:client", max_turns=4, db=db, seed=0).id
    store = TraceStore(db)
    a = {1: 1, 3: 2, 5: 3, 7: 3}
    b = {1: 1, 3: 3, 5: 3, 7: 2}
    for turn in a:
        store.add_verdicts(sid, [_verdict("judge-a", "empathy", a[turn], turn), _verdict("judge-a", "clarity", 4, turn)], turn_idx=turn)
        store.add_verdicts(sid, [_verdict("judge-b", "empathy", b[turn], turn), _verdict("judge-b", "clarity", 4, turn)], turn_idx=turn)
    # A failed verdict and a newer verdict: the newest ok one counts, the failed one never does.
    store.add_verdicts(sid, [_verdict("judge-b", "empathy", None, 1, status="failed")], turn_idx=1)
    store.add_verdicts(sid, [_verdict("judge-b", "clarity", 2, 1)], turn_idx=1)
    store.add_verdicts(sid, [_verdict("judge-a", "safety", 5, 1)], turn_idx=1)  # only one judge rated it
    store.close()
    return sid


def test_agreement_on_recorded_verdicts(two_judges, db):
    store = TraceStore(db)
    try:
        rows = {r["principle"]: r for r in agreement(store.verdicts(judge="judge-a"), store.verdicts(judge="judge-b"))}
    finally:
        store.close()
    assert set(rows) == {"empathy", "clarity", "all"}
    emp = rows["empathy"]
    assert emp["n"] == 4 and emp["exact"] == 0.5
    # On the 1..5 scale: pairs (1,1) (2,3) (3,3) (3,2); quadratic weights ((i-j)/4)^2.
    # observed = 2 * (1/16) / 4 = 1/32; expected = sum w * rA * rB with marginals 1/4, 1/4, 1/2 on 1, 2, 3:
    # (1,2),(2,1): 2 * (1/16)(1/16) ; (1,3),(3,1): 2 * (4/16)(1/8) ; (2,3),(3,2): 2 * (1/16)(1/8)
    expected = 2 * (1 / 16) * (1 / 16) + 2 * (4 / 16) * (1 / 8) + 2 * (1 / 16) * (1 / 8)
    assert emp["kappa_quadratic"] == pytest.approx(1 - (1 / 32) / expected)
    assert emp["kappa"] == pytest.approx(0.2) and emp["spearman"] == pytest.approx(spearman([1, 2, 3, 3], [1, 3, 3, 2]))
    # clarity: judge-b's newer verdict on turn 1 (2) replaces its 4.
    assert rows["clarity"]["n"] == 4 and rows["clarity"]["exact"] == 0.75
    assert rows["all"]["n"] == 8
    only = agreement([], [], principles=["empathy"])
    assert only == []


def test_agreement_command(two_judges, db, capsys):
    result = _cli("judge", "agreement", "--db", str(db), "--judges", "judge-a,judge-b", "--principles", "empathy", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["judges"] == ["judge-a", "judge-b"]
    assert [r["principle"] for r in data["principles"]] == ["empathy"]
    assert data["principles"][0]["kappa"] == pytest.approx(0.2)
    table = _cli("judge", "agreement", "--db", str(db), "--judges", "judge-a,judge-b")
    assert "empathy" in table.output and "0.200" in table.output
    code, _, err = run_main(capsys, "judge", "agreement", "--db", str(db), "--judges", "judge-a,judge-c")
    assert code == 2 and "judge-c" in err and len(err.strip().splitlines()) == 1


def test_position_bias_by_hand():
    comps = [
        # candidates 1, 2 in both orders: the first shown wins each time -> a flip, to the first position
        {"id": 1, "session_id": "s", "turn_idx": 1, "candidate_ids": [1, 2], "winner_id": 1, "status": "ok"},
        {"id": 2, "session_id": "s", "turn_idx": 1, "candidate_ids": [2, 1], "winner_id": 2, "status": "ok"},
        # candidates 3, 4 in both orders, 3 both times: consistent
        {"id": 3, "session_id": "s", "turn_idx": 3, "candidate_ids": [3, 4], "winner_id": 3, "status": "ok"},
        {"id": 4, "session_id": "s", "turn_idx": 3, "candidate_ids": [4, 3], "winner_id": 3, "status": "ok"},
        # shown once: not compared; a tie; a failure
        {"id": 5, "session_id": "s", "turn_idx": 5, "candidate_ids": [5, 6], "winner_id": 6, "status": "ok"},
        {"id": 6, "session_id": "s", "turn_idx": 7, "candidate_ids": [7, 8], "winner_id": None, "status": "ok"},
        {"id": 7, "session_id": "s", "turn_idx": 7, "candidate_ids": [8, 7], "winner_id": 7, "status": "failed"},
    ]
    r = position_bias(comps)
    assert r["comparisons"] == 7 and r["failed"] == 1 and r["ties"] == 1
    assert r["groups_compared"] == 2 and r["flipped"] == 1 and r["flip_rate"] == 0.5 and r["flipped_to_first"] == 1
    # decided: 1 (first), 2 (first), 3 (first), 4 (second), 6 (second) -> 3/5
    assert r["first_position_share"] == pytest.approx(3 / 5)
    assert position_bias([])["flip_rate"] is None


def test_position_bias_command_reads_the_comparisons_table(db, capsys):
    from psyagents.session import run_session

    sid = run_session("kevin-panic", "integrative", "scripted:counselor", "scripted:client", max_turns=2, db=db, seed=0).id
    store = TraceStore(db)
    try:
        ids = store.add_candidates(sid, 1, [{"text": "a", "model": "x"}, {"text": "b", "model": "y"}])
        store.add_comparison(sid, 1, "pairwise:m", ids, ids[0])
        store.add_comparison(sid, 1, "pairwise:m", ids[::-1], ids[1])
        ids3 = store.add_candidates(sid, 3, [{"text": "a", "model": "x"}, {"text": "b", "model": "y"}])
        store.add_comparison(sid, 3, "pairwise:m", ids3, ids3[1])
        store.add_comparison(sid, 3, "pairwise:m", ids3[::-1], ids3[1])
        store.add_comparison(sid, 3, "other", ids3, ids3[1])
    finally:
        store.close()
    data = json.loads(_cli("judge", "position-bias", "--db", str(db), "--judge", "pairwise:m", "--json").output)
    assert data["comparisons"] == 4 and data["groups_compared"] == 2 and data["flipped"] == 1 and data["flip_rate"] == 0.5
    assert data["first_position_share"] == 0.75
    code, _, err = run_main(capsys, "judge", "position-bias", "--db", str(db), "--judge", "pairwise:n")
    assert code == 2 and "pairwise:m" in err  # did you mean
