"""The arena: its arithmetic against hand-computed values, and whole runs with scripted bots and judges.

The judges here are deterministic test plugins (a best-of-N judge that picks the longest
reply, a pairwise judge that always picks the reply shown first, a rating judge scoring by
length); no model is loaded anywhere.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from psyagents.hookspecs import hookimpl
from psyagents.judging import Choice, ComparativeJudge, Judge
from psyagents.ratings import (
    Outcome, against, bootstrap, elo, interval_of, length_controlled_win_rate, logistic_fit, outcomes_from_choice, percentile,
    percentile_interval, sigmoid, win_rate,
)
from psyagents.tracing import TraceStore
from tests.conftest import write_script

# --- arithmetic ------------------------------------------------------------------------------


def test_elo_by_hand():
    # Equal ratings: A expects 0.5, wins, gains 16 * 0.5 = 8.
    assert elo([Outcome("A", "B", 1.0)]) == {"A": 1008.0, "B": 992.0}
    # Then B wins: B expects 1 / (1 + 10^(16/400)) = 0.4769904; B gains 16 * (1 - 0.4769904) = 8.3681534.
    r = elo([Outcome("A", "B", 1.0), Outcome("B", "A", 1.0)])
    assert r["B"] == pytest.approx(992 + 16 * (1 - 1 / (1 + 10 ** (16 / 400))))
    assert r["B"] == pytest.approx(1000.3681534, abs=1e-6)
    assert r["A"] == pytest.approx(999.6318466, abs=1e-6)
    # A tie between equals changes nothing; order matters (online Elo), players without games keep 1000.
    assert elo([Outcome("A", "B", 0.5)], ["A", "B", "C"]) == {"A": 1000.0, "B": 1000.0, "C": 1000.0}
    assert elo([Outcome("B", "A", 1.0), Outcome("A", "B", 1.0)])["A"] == pytest.approx(1000.3681534, abs=1e-6)


def test_win_rate_counts_ties_as_half():
    assert win_rate([1, 0, 0.5, 1]) == 0.625
    assert win_rate([]) is None


def test_outcomes_from_a_best_of_n_pick_and_a_tie():
    bots = {1: "a", 2: "b", 3: "c"}
    picked = outcomes_from_choice([1, 2, 3], 2, bot=bots.get, length=lambda i: 10 * i)
    assert [(o.a, o.b, o.score, o.len_a, o.len_b) for o in picked] == [("b", "a", 1.0, 20, 10), ("b", "c", 1.0, 20, 30)]
    tied = outcomes_from_choice([1, 2, 3], None, bot=bots.get, length=lambda i: 0)
    assert [(o.a, o.b, o.score) for o in tied] == [("a", "b", 0.5), ("a", "c", 0.5), ("b", "c", 0.5)]
    # From c's side against a there is one game: a's tie, seen from c.
    assert against(tied, "c", "a") == [(0.5, 0, 0)]
    assert against(picked, "a", "b") == [(0.0, 10, 20)]


def test_length_controlled_win_rate_by_hand():
    # At equal length the bot wins 1 of 4; when it is 2 characters longer it wins 3 of 4.
    # Raw: 4/8 = 0.5. Two length values and two parameters fit both groups exactly, so
    # sigmoid(a) is the equal-length group's rate: 0.25.
    games = [(1, 10, 10)] + [(0, 10, 10)] * 3 + [(1, 12, 10)] * 3 + [(0, 12, 10)]
    assert win_rate([g[0] for g in games]) == 0.5
    assert length_controlled_win_rate(games, ridge=0) == pytest.approx(0.25, abs=1e-9)
    # The slope: sigmoid(a + b * x) = 0.75 at x = 2 / rms, rms = sqrt(16 / 8).
    xs = [(mine - theirs) / math.sqrt(2) for _, mine, theirs in games]
    a, b = logistic_fit(xs, [g[0] for g in games])
    assert sigmoid(a + b * math.sqrt(2)) == pytest.approx(0.75, abs=1e-9)
    # Length does not matter when it never differs: the intercept is the raw rate.
    assert length_controlled_win_rate([(1, 5, 5), (1, 5, 5), (0, 5, 5), (0.5, 5, 5)], ridge=0) == pytest.approx(0.625, abs=1e-9)


def test_length_controlled_win_rate_stays_finite_when_one_side_always_wins():
    # The default ridge (1) is a N(0, 1) prior: with 4 wins at equal length a solves a = 4 * (1 - sigmoid(a)).
    lc = length_controlled_win_rate([(1, 10, 10)] * 4)
    a = math.log(lc / (1 - lc))
    assert a == pytest.approx(4 * (1 - lc), abs=1e-9)
    assert 0.73 < lc < 0.75
    assert 0.5 < length_controlled_win_rate([(1, 30, 10), (1, 40, 10), (1, 20, 10)]) < 1.0


def test_percentile_interval_by_hand():
    # Linear interpolation: the 2.5th percentile of 1..5 sits at position 0.1, the 97.5th at 3.9.
    assert percentile_interval([5, 1, 3, 2, 4]) == pytest.approx((1.1, 4.9))
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile_interval([]) == (None, None)


def test_bootstrap_interval_by_hand():
    # Means of two draws from [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so the
    # 2.5th and 97.5th percentiles of many resamples are 0 and 1.
    means = bootstrap([0, 1], lambda s: sum(s) / len(s), rounds=2000, seed=1)
    assert set(means) == {0.0, 0.5, 1.0}
    assert abs(means.count(0.0) / 2000 - 0.25) < 0.04
    assert interval_of(means) == (0.0, 1.0)
    # Constant data has a zero-width interval; a seed makes it reproducible.
    assert interval_of(bootstrap([1, 1, 1], win_rate, rounds=50)) == (1.0, 1.0)
    assert bootstrap([0, 1, 1], win_rate, rounds=20, seed=3) == bootstrap([0, 1, 1], win_rate, rounds=20, seed=3)
    assert interval_of([None, 0.5, None]) == (0.5, 0.5)


# --- whole runs --------------------------------------------------------------------------------


class LongestJudge(ComparativeJudge):
    """Best-of-N: picks the longest reply (the first of equal ones)."""

    name = "test-longest"

    def __init__(self):
        self.showings = []

    def choose(self, history, replies, *, context=None, seed=None):
        self.showings.append(list(replies))
        best = max(range(len(replies)), key=lambda i: (len(replies[i]), -i))
        return [Choice(judge=self.name, order=list(range(len(replies))), winner=best, rationale="longest")]


class FirstShownJudge(ComparativeJudge):
    """Pairwise, both orders, always picks the reply shown first: all position bias."""

    name = "pairwise-first"

    def choose(self, history, replies, *, context=None, seed=None):
        assert len(replies) == 2
        return [Choice(judge=self.name, order=[0, 1], winner=0), Choice(judge=self.name, order=[1, 0], winner=1)]


class LengthRater(Judge):
    """Rates a reply by its length: 1 point per 30 characters, capped to the scale."""

    name = "test-length-rater"

    def rate_reply(self, history, reply, principles, *, context=None):
        return [self._verdict(p, score=float(min(p.scale_max, max(p.scale_min, len(reply) // 30)))) for p in principles]


@pytest.fixture
def judges(plugin):
    longest = LongestJudge()

    class Plugin:
        @hookimpl
        def register_judges(self, register):
            register("test-longest", lambda arg: longest)
            register("pairwise-first", lambda arg: FirstShownJudge())
            register("test-length-rater", lambda arg: LengthRater())

    plugin(Plugin(), "test-arena-judges")
    return longest


@pytest.fixture
def bots(tmp_path):
    short = write_script(tmp_path / "short.yaml", ["I hear you.", "Go on.", "I see.", "Okay."])
    long = write_script(tmp_path / "long.yaml", [
        "Thank you for telling me; it sounds like a lot has been weighing on you lately. What feels heaviest right now?",
        "That sounds exhausting, carrying that on your own for so long. When did you first notice it getting this hard?",
        "It makes sense that you would feel stuck when everything seems to depend on you. What would help a little this week?",
        "You have been very open today, and that takes courage. What would you like to hold on to from our talk?",
    ])
    return ["scripted:counselor", short, long]


def _cli(*args):
    from psyagents.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_arena_end_to_end_best_of_n(judges, bots, db, tmp_path):
    out = tmp_path / "report"
    args = ["arena", "--bots", ",".join(bots), "--personas", "maya-exam-anxiety,kevin-panic", "--judge", "test-longest",
            "--client", "scripted:client", "--turns", "3", "--db", str(db), "--out", str(out), "--bootstrap", "200", "--json"]
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    ref, short, long = bots
    assert stats["config"]["protocol"] == "best-of-n" and stats["reference"] == ref
    assert stats["sessions"] == 2 and stats["comparisons"] == 6 and stats["failed_comparisons"] == 0
    rows = {r["bot"]: r for r in stats["bots"]}
    # The long bot wins every showing: 2 outcomes per showing, 6 games against the reference, all won.
    assert rows[long]["win_rate"] == 1.0 and rows[long]["games"] == 6 and rows[long]["pick_rate"] == 1.0
    # Best-of-N gives a pairwise result only between the pick and each other reply: short never met the
    # reference as winner or loser of a showing, so it has no games against it.
    assert rows[short]["games"] == 0 and rows[short]["win_rate"] is None and rows[short]["win_rate_ci"] == [None, None]
    assert rows[short]["pick_rate"] == 0.0 and rows[long]["win_rate_ci"] == [1.0, 1.0]
    assert rows[long]["elo"] > max(rows[ref]["elo"], rows[short]["elo"])
    assert rows[ref]["win_rate"] is None and rows[ref]["reference"]
    # Elo from the logged outcomes in their order, recomputed here by hand.
    store = TraceStore(db)
    try:
        cands = store.candidates(source="arena")
        comps = store.comparisons(judge="test-longest")
        model = {c["id"]: c["model"] for c in cands}
        expected = elo([Outcome(model[c["winner_id"]], model[i], 1.0) for c in comps for i in c["candidate_ids"] if i != c["winner_id"]], bots)
        assert rows[long]["elo"] == round(expected[long], 1)
        # Every bot answered every counsellor turn; the dialogue continued with the pick.
        assert len(cands) == 18 and {c["model"] for c in cands} == set(bots)
        assert all(c["source"] == "arena" for c in cands)
        chosen = [c for c in cands if c["chosen"]]
        assert len(chosen) == 6 and {c["model"] for c in chosen} == {long}
        for c in comps:
            assert model[c["winner_id"]] == long and sorted(model[i] for i in c["candidate_ids"]) == sorted(bots)
            assert c["meta"]["protocol"] == "best-of-n"
        # The judge saw the bots in shuffled orders (seeded), not always in --bots order.
        assert len({tuple(model[i] for i in c["candidate_ids"]) for c in comps}) > 1
        sessions = store.sessions()
        assert {s["status"] for s in sessions} == {"completed"}
        turns = store.turns(sessions[0]["id"])
        assert [t.model for t in turns if t.speaker == "counselor"] == [long] * 3
    finally:
        store.close()
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "# Arena report" in report and "![Win rates and Elo](arena.png)" in report
    assert f"| {long} | " in report and "LC win rate" in report and "1.000" in report
    png = (out / "arena.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left behind

    # Running the same command again continues the run: nothing new is played or judged.
    shown = len(judges.showings)
    again = json.loads(_cli(*args).output)
    assert len(judges.showings) == shown
    assert again["comparisons"] == 6 and again["bots"] == stats["bots"]


def test_arena_pairwise_against_reference_and_position_bias(judges, bots, db, tmp_path):
    result = _cli("arena", "--bots", ",".join(bots), "--personas", "maya-exam-anxiety", "--judge", "pairwise-first",
                  "--client", "scripted:client", "--turns", "2", "--db", str(db), "--out", str(tmp_path / "r"), "--no-plot",
                  "--continue-with", "reference", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["config"]["protocol"] == "pairwise"
    # 2 turns x 2 bots against the reference x 2 orders; each order picks the other reply: 0.5 everywhere.
    assert stats["comparisons"] == 8
    for row in stats["bots"]:
        if not row["reference"]:
            assert row["games"] == 4 and row["win_rate"] == 0.5
    assert not (tmp_path / "r" / "arena.png").exists() and (tmp_path / "r" / "report.md").exists()
    store = TraceStore(db)
    try:
        assert [t.model for t in store.turns(store.sessions()[0]["id"]) if t.speaker == "counselor"] == [bots[0]] * 2
    finally:
        store.close()
    bias = _cli("judge", "position-bias", "--db", str(db), "--judge", "pairwise-first", "--json")
    data = json.loads(bias.output)
    assert data["groups_compared"] == 4 and data["flipped"] == 4 and data["flip_rate"] == 1.0
    assert data["first_position_share"] == 1.0 and data["flipped_to_first"] == 4


def test_arena_with_a_rating_judge_logs_verdicts_per_candidate(judges, bots, db, tmp_path):
    result = _cli("arena", "--bots", ",".join(bots), "--personas", "kevin-panic", "--judge", "test-length-rater",
                  "--principles", "empathy", "--client", "scripted:client", "--turns", "2", "--db", str(db),
                  "--out", str(tmp_path / "r"), "--no-plot", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["config"]["protocol"] == "rating" and stats["comparisons"] == 2
    store = TraceStore(db)
    try:
        verdicts = store.verdicts(judge="test-length-rater")
        assert len(verdicts) == 6 and all(v["candidate_id"] is not None and v["principle"] == "empathy" for v in verdicts)
        winners = {store.db["candidates"].get(c["winner_id"])["model"] for c in store.comparisons()}
        assert winners == {bots[2]}
    finally:
        store.close()


def test_arena_rejects_bad_arguments(judges, bots, db, tmp_path):
    from psyagents.arena import run_arena
    from psyagents.errors import PsyagentsError

    common = dict(personas=["kevin-panic"], client="scripted:client", db=str(db), turns=1)
    with pytest.raises(PsyagentsError, match="at least two bots"):
        run_arena(bots=[bots[0]], judge_spec="test-longest", **common)
    with pytest.raises(PsyagentsError, match="--reference"):
        run_arena(bots=bots, judge_spec="test-longest", reference="scripted:nobody", **common)
    with pytest.raises(PsyagentsError, match="comparative judge"):
        run_arena(bots=bots, judge_spec="test-length-rater", protocol="best-of-n", **common)
    with pytest.raises(PsyagentsError, match="listed twice"):
        run_arena(bots=[bots[0], bots[0]], judge_spec="test-longest", **common)


def test_arena_with_the_built_in_pairwise_judge_on_a_scripted_model(bots, db, tmp_path):
    """The real ``pairwise:`` judge over a scripted model that always answers "A": it follows the position."""
    judge_model = write_script(tmp_path / "pairwise.yaml", ['{"winner": "A", "rationale": "the first one"}'])
    result = _cli("arena", "--bots", ",".join(bots[:2]), "--personas", "maya-exam-anxiety", "--judge", f"pairwise:{judge_model}",
                  "--client", "scripted:client", "--turns", "2", "--db", str(db), "--out", str(tmp_path / "r"), "--no-plot",
                  "--bootstrap", "100", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["config"]["protocol"] == "pairwise" and stats["comparisons"] == 4
    other = next(r for r in stats["bots"] if not r["reference"])
    # Each pair is shown in both orders and "A" wins both times: one win and one loss per turn, and
    # the two orders are resampled together, so the interval is a point.
    assert other["win_rate"] == 0.5 and other["win_rate_ci"] == [0.5, 0.5] and other["games"] == 4
    bias = json.loads(_cli("judge", "position-bias", "--db", str(db), "--judge", f"pairwise:{judge_model}", "--json").output)
    assert bias["flip_rate"] == 1.0 and bias["first_position_share"] == 1.0


class InterruptingJudge(LongestJudge):
    """Like LongestJudge, but Ctrl-C arrives during its ``explode_at``-th showing."""

    name = "test-interrupting"

    def __init__(self, explode_at: int | None):
        super().__init__()
        self.explode_at = explode_at

    def choose(self, history, replies, *, context=None, seed=None):
        if self.explode_at is not None and len(self.showings) + 1 == self.explode_at:
            self.explode_at = None
            raise KeyboardInterrupt
        return super().choose(history, replies, context=context, seed=seed)


def test_an_interrupted_arena_continues_where_it_stopped(plugin, bots, db, tmp_path):
    from psyagents.arena import run_arena

    judge = InterruptingJudge(explode_at=3)

    class Plugin:
        @hookimpl
        def register_judges(self, register):
            register("test-interrupting", lambda arg: judge)

    plugin(Plugin(), "test-interrupting")
    kwargs = dict(bots=bots, personas=["maya-exam-anxiety", "kevin-panic"], judge_spec="test-interrupting", client="scripted:client",
                  turns=2, db=str(db), rounds=50)
    with pytest.raises(KeyboardInterrupt):
        run_arena(**kwargs)
    store = TraceStore(db)
    try:
        [run] = store.runs(kind="arena")
        assert run["status"] == "interrupted"
        [s1, s2] = sorted(store.sessions(), key=lambda s: s["created_at"])
        assert s1["status"] == "completed" and s2["status"] == "interrupted"
        assert len(store.candidates(s2["id"])) == 3 and store.comparisons(s2["id"]) == []  # drawn, not yet judged
    finally:
        store.close()
    stats = run_arena(**kwargs)
    assert stats["comparisons"] == 4 and stats["sessions"] == 2 and len(judge.showings) == 4
    store = TraceStore(db)
    try:
        assert {s["status"] for s in store.sessions()} == {"completed"}
        assert len(store.candidates()) == 12 and sum(c["chosen"] for c in store.candidates()) == 4
        assert store.runs(kind="arena")[0]["status"] == "completed"
        for s in store.sessions():
            assert [t.speaker for t in store.turns(s["id"])] == ["client", "counselor", "client", "counselor"]
    finally:
        store.close()


def test_the_reply_screen_reads_every_bot_reply_and_the_results_count_what_it_flags(judges, db, tmp_path):
    """A bot that diagnoses is flagged on each such reply; the comparison itself is unchanged (the longest still wins)."""
    diagnosing = write_script(tmp_path / "diagnosing.yaml", [
        "Honestly, it sounds like you have generalized anxiety disorder, and that is why your thoughts race at night.",
        "I see.",
    ])
    plain = write_script(tmp_path / "plain.yaml", ["I hear you.", "Tell me more about the nights."])
    result = _cli("arena", "--bots", f"{plain},{diagnosing}", "--personas", "maya-exam-anxiety", "--judge", "test-longest",
                  "--client", "scripted:client", "--turns", "2", "--db", str(db), "--out", str(tmp_path / "r"), "--no-plot",
                  "--bootstrap", "50", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["bot"]: r for r in json.loads(result.output)["bots"]}
    assert rows[diagnosing]["flagged"] == 1 and rows[plain]["flagged"] == 0
    assert rows[diagnosing]["picked"] == 1  # judged as written: the longest reply won its turn
    store = TraceStore(db)
    try:
        flagged = [c for c in store.candidates(source="arena") if c["meta"].get("reply_screen")]
        assert [(c["model"], c["meta"]["reply_screen"]) for c in flagged] == [(diagnosing, ["diagnosis"])]
        events = [e for s in store.sessions() for e in store.events(s["id"]) if e["kind"] == "reply_screen"]
        assert len(events) == 1 and events[0]["detail"]["bot"] == diagnosing and events[0]["detail"]["candidate_id"] == flagged[0]["id"]
    finally:
        store.close()
    assert "| flagged |" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
