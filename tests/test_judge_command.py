"""``psyagents judge``: scoring logged turns and sessions into the verdicts table, resumably and concurrently.

The judges are test plugins (deterministic, counting their calls) and the built-in rubric judge
over a scripted model answering JSON, malformed answers included; no model is loaded.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from click.testing import CliRunner

from psyagents.hookspecs import hookimpl
from psyagents.judging import Choice, ComparativeJudge, Judge
from psyagents.tracing import TraceStore
from tests.conftest import write_script


def _cli(*args):
    from psyagents.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_main(capsys, *args) -> tuple[int, str, str]:
    from psyagents.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


class FlakyJudge(Judge):
    """Scores a reply by its word count (capped to the scale); 'clarity' fails while ``fail_clarity`` is set.

    Counts calls per (turn, principle) and how many calls run at once.
    """

    name = "test-flaky"

    def __init__(self, delay: float = 0.0):
        self.calls: list[tuple[int, str]] = []
        self.fail_clarity = False
        self.delay = delay
        self.lock = threading.Lock()
        self.active = self.max_active = 0

    def rate_reply(self, history, reply, principles, *, context=None):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay)
            turn = len(history)
            out = []
            for p in principles:
                with self.lock:
                    self.calls.append((turn, p.id))
                if p.id == "clarity" and self.fail_clarity:
                    out.append(self._verdict(p, status="failed", error="flaky", raw="{bad"))
                else:
                    out.append(self._verdict(p, score=float(min(p.scale_max, max(p.scale_min, len(reply.split()) // 4)))))
            assert context["persona"] == "kevin-panic"
            return out
        finally:
            with self.lock:
                self.active -= 1

    def rate_session(self, transcript, principles, *, context=None):
        with self.lock:
            self.calls.append((-1, ",".join(p.id for p in principles)))
        return [self._verdict(p, score=3.0) for p in principles]


class BrokenJudge(Judge):
    name = "test-broken"

    def rate_reply(self, history, reply, principles, *, context=None):
        raise RuntimeError("the judge fell over")


class PickFirst(ComparativeJudge):
    name = "test-pick-first"

    def choose(self, history, replies, *, context=None, seed=None):
        return [Choice(judge=self.name, order=list(range(len(replies))), winner=0)]


@pytest.fixture
def flaky(plugin):
    judge = FlakyJudge(delay=0.05)

    class Plugin:
        @hookimpl
        def register_judges(self, register):
            register("test-flaky", lambda arg: judge)
            register("test-broken", lambda arg: BrokenJudge())
            register("test-pick-first", lambda arg: PickFirst())

    plugin(Plugin(), "test-judge-command")
    return judge


@pytest.fixture
def traces(db):
    from psyagents.session import run_session

    ids = [run_session("kevin-panic", "integrative", "scripted:counselor", "scripted:client", max_turns=3, db=db, seed=s).id
           for s in (0, 1)]
    return ids


def test_judge_scores_every_counsellor_turn_then_resumes(flaky, traces, db):
    args = ["judge", "--db", str(db), "--principles", "empathy,clarity", "--judge", "test-flaky", "--concurrency", "3", "--json"]
    flaky.fail_clarity = True
    result = _cli(*args)
    assert result.exit_code == 1, result.output  # some verdicts failed: like simulate, exit 1
    report = json.loads(result.output)
    # 2 sessions x 3 counsellor turns x 2 principles; every clarity verdict failed.
    assert report["rated"] == 6 and report["written"] == 12 and report["failed_now"] == 6 and report["skipped"] == 0
    rows = {r["principle"]: r for r in report["principles"]}
    assert rows["empathy"]["ok"] == 6 and rows["clarity"]["failed"] == 6 and rows["clarity"]["ok"] == 0
    assert len(flaky.calls) == 12
    assert flaky.max_active > 1  # the calls did overlap
    store = TraceStore(db)
    try:
        turns = {sid: [t.idx for t in store.turns(sid) if t.speaker == "counselor"] for sid in traces}
        for sid in traces:
            vs = store.verdicts(sid, judge="test-flaky")
            assert sorted({v["turn_idx"] for v in vs}) == turns[sid]
            assert all(v["candidate_id"] is None for v in vs)
        run = store.runs(kind="judge")[0]
        assert run["status"] == "completed" and run["summary"]["verdicts_written"] == 12
    finally:
        store.close()

    # Second run: only the failed clarity verdicts are asked again (and now succeed).
    flaky.fail_clarity = False
    second = _cli(*args)
    assert second.exit_code == 0
    again = json.loads(second.output)
    assert again["rated"] == 6 and again["written"] == 6 and again["failed_now"] == 0 and again["skipped"] == 6
    assert [c for c in flaky.calls[12:] if c[1] != "clarity"] == []
    rows = {r["principle"]: r for r in again["principles"]}
    assert rows["clarity"]["ok"] == 6 and rows["clarity"]["failed"] == 0
    # The mean is the scripted replies' word counts // 4, averaged: checked against the stored turns.
    store = TraceStore(db)
    try:
        expected = [min(5, max(1, len(t.text.split()) // 4)) for sid in traces for t in store.turns(sid) if t.speaker == "counselor"]
    finally:
        store.close()
    assert rows["empathy"]["mean"] == round(sum(expected) / len(expected), 3)

    # Third run: nothing left to do.
    third = json.loads(_cli(*args).output)
    assert third["rated"] == 0 and third["skipped"] == 12 and len(flaky.calls) == 18


def test_judge_sessions_level_and_selected_sessions(flaky, traces, db):
    result = _cli("judge", "--db", str(db), "--principles", "empathy", "--judge", "test-flaky", "--level", "session",
                  "--sessions", traces[1], "--json")
    report = json.loads(result.output)
    assert report["rated"] == 1 and flaky.calls == [(-1, "empathy")]
    store = TraceStore(db)
    try:
        assert store.verdicts(traces[0]) == []
        [v] = store.verdicts(traces[1])
        assert v["turn_idx"] is None and v["score"] == 3.0
    finally:
        store.close()


def test_judge_principle_sets_resolve(flaky, traces, db):
    from psyagents.batch_judge import resolve_principles
    from psyagents.registry import principles

    in_set = sorted(p.id for p in principles().values() if "psychocounsel" in p.sets)
    assert [p.id for p in resolve_principles("psychocounsel")] == in_set
    # A set and an id, the id already in the set: no duplicate.
    assert [p.id for p in resolve_principles(f"psychocounsel,{in_set[0]}")] == in_set


def test_judge_a_raising_judge_records_failed_verdicts(flaky, traces, db, capsys):
    result = _cli("judge", "--db", str(db), "--principles", "empathy", "--judge", "test-broken", "--sessions", traces[0], "--json")
    report = json.loads(result.output)
    assert report["failed_now"] == 3 and result.exit_code == 1
    store = TraceStore(db)
    try:
        vs = store.verdicts(traces[0], judge="test-broken")
        assert len(vs) == 3 and {v["status"] for v in vs} == {"failed"} and "fell over" in vs[0]["error"]
    finally:
        store.close()
    code, out, err = run_main(capsys, "judge", "--db", str(db), "--principles", "empathy", "--judge", "test-broken",
                              "--sessions", traces[0])
    assert code == 1 and "3 failed" in out and "Some verdicts failed" in err


def test_judge_rubric_over_scripted_json_with_malformed_answers(traces, db, tmp_path):
    # The scripted judge model answers the n-th attempt with reply n: a malformed answer, then an
    # out-of-range score, then a good one. The rubric judge retries twice, so every verdict is ok.
    script = write_script(tmp_path / "judge.yaml", ["I think it was fine.", '{"score": 9, "rationale": "x"}',
                                                    '```json\n{"score": 4, "rationale": "warm and clear"}\n```'])
    result = _cli("judge", "--db", str(db), "--principles", "empathy", "--judge", f"rubric:{script}", "--sessions", traces[0], "--json")
    report = json.loads(result.output)
    assert report["written"] == 3 and report["failed_now"] == 0
    assert report["principles"][0]["mean"] == 4.0
    # With no retries left the same script gives failed verdicts, never a crash.
    bad = write_script(tmp_path / "bad.yaml", ["not json at all"])
    report = json.loads(_cli("judge", "--db", str(db), "--principles", "empathy", "--judge", f"rubric:{bad}",
                             "--sessions", traces[0], "--json").output)
    assert report["failed_now"] == 3 and report["principles"][0]["failed"] == 3


def test_judge_errors_are_one_line(flaky, traces, db, capsys):
    code, _, err = run_main(capsys, "judge", "--db", str(db), "--principles", "nope", "--judge", "test-flaky")
    assert code == 2 and "--principles" in err and "'nope'" in err and len(err.splitlines()) == 1 and err.startswith("Error: ")
    code, _, err = run_main(capsys, "judge", "--db", str(db), "--principles", "empathy", "--judge", "test-pick-first")
    assert code == 2 and "comparative" in err
    code, _, err = run_main(capsys, "judge", "--db", str(db), "--principles", "empathy")
    assert code == 2 and "--judge" in err
    code, _, err = run_main(capsys, "judge", "--db", str(db.parent / "missing.db"), "--principles", "empathy", "--judge", "test-flaky")
    assert code == 2 and "does not exist" in err and err.startswith("Error: ")  # no blank line from the progress bar


def test_judge_table_output(flaky, traces, db):
    result = _cli("judge", "--db", str(db), "--principles", "empathy", "--judge", "test-flaky", "--sessions", traces[0])
    assert result.exit_code == 0
    assert "empathy" in result.output and "Rated 3 targets" in result.output


def test_judge_with_the_built_in_heuristic_judge_and_its_default_principles(traces, db):
    report = json.loads(_cli("judge", "--db", str(db), "--judge", "heuristic", "--json").output)
    from psyagents.batch_judge import resolve_principles

    expected = [p.id for p in resolve_principles("heuristic")]
    assert [r["principle"] for r in report["principles"]] == expected
    assert report["rated"] == 6 and report["written"] == 6 * len(expected)
    again = json.loads(_cli("judge", "--db", str(db), "--judge", "heuristic", "--json").output)
    assert again["rated"] == 0 and again["skipped"] == 6 * len(expected)
