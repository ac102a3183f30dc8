"""The trace store's batch runs, session keys, candidate replies and comparisons (migration m003)."""

import pytest

from psyagents.errors import PsyagentsError
from psyagents.tracing import TraceStore


def _store(tmp_path):
    store = TraceStore(tmp_path / "t.db")
    store.start_session("s1", config={"style": "cbt"}, persona={"id": "p"}, versions={}, run_id="r1", key="p|cbt|0|0")
    return store


def test_session_keys_are_unique_and_findable(tmp_path):
    store = _store(tmp_path)
    assert store.session_by_key("p|cbt|0|0")["id"] == "s1"
    assert store.session_by_key("p|cbt|0|1") is None
    with pytest.raises(PsyagentsError, match="already exists"):
        store.start_session("s2", config={}, persona={"id": "p"}, versions={}, key="p|cbt|0|0")
    # sessions without a key do not collide with each other
    store.start_session("s3", config={}, persona={"id": "p"}, versions={})
    store.start_session("s4", config={}, persona={"id": "p"}, versions={})
    assert {s["id"] for s in store.sessions()} == {"s1", "s3", "s4"}


def test_candidates_relogged_replace_and_verdicts_attach(tmp_path):
    store = _store(tmp_path)
    ids = store.add_candidates("s1", 1, [{"text": "a", "model": "m1"}, {"text": "b", "model": "m2"}])
    assert len(ids) == 2
    again = store.add_candidates("s1", 1, [{"text": "a2", "model": "m1"}, {"text": "b2", "model": "m2"}])
    rows = store.candidates("s1", 1)
    assert [r["text"] for r in rows] == ["a2", "b2"] and [r["id"] for r in rows] == again
    store.set_chosen(again[1], score=4.5)
    rows = store.candidates("s1")
    assert [r["chosen"] for r in rows] == [0, 1] and rows[1]["score"] == 4.5
    store.add_verdicts("s1", [{"judge": "j", "principle": "empathy", "score": 4, "scale_min": 1, "scale_max": 5, "status": "ok"}],
                       turn_idx=1, candidate_id=again[0])
    assert store.verdicts("s1")[0]["candidate_id"] == again[0]


def test_comparisons_and_runs(tmp_path):
    store = _store(tmp_path)
    a, b = store.add_candidates("s1", 1, [{"text": "a"}, {"text": "b"}])
    store.add_comparison("s1", 1, "pairwise:x", [b, a], a, rationale="A is warmer", meta={"order": "ba"})
    (c,) = store.comparisons("s1")
    assert c["candidate_ids"] == [b, a] and c["winner_id"] == a and c["meta"] == {"order": "ba"}
    store.start_run("r1", "simulate", {"concurrency": 4})
    store.finish_run("r1", "completed", {"done": 1})
    run = store.run("r1")
    assert run["status"] == "completed" and run["config"] == {"concurrency": 4} and run["summary"] == {"done": 1}
    assert run["n_sessions"] == 1
    with pytest.raises(PsyagentsError, match="unknown run"):
        store.run("r2")


def test_relogging_candidates_drops_their_verdicts_and_comparisons(tmp_path):
    store = _store(tmp_path)
    a, b = store.add_candidates("s1", 1, [{"text": "a"}, {"text": "b"}])
    (c,) = store.add_candidates("s1", 3, [{"text": "c"}])
    v = {"judge": "j", "principle": "empathy", "score": 4, "scale_min": 1, "scale_max": 5, "status": "ok"}
    store.add_verdicts("s1", [v], turn_idx=1, candidate_id=a)
    store.add_verdicts("s1", [v], turn_idx=3, candidate_id=c)
    store.add_comparison("s1", 1, "j", [a, b], a)
    store.add_comparison("s1", 3, "j", [c], c)
    new = store.add_candidates("s1", 1, [{"text": "a2"}, {"text": "b2"}])
    assert [v["candidate_id"] for v in store.verdicts("s1")] == [c]
    assert [x["turn_idx"] for x in store.comparisons("s1")] == [3]
    assert {r["id"] for r in store.candidates("s1", 1)} == set(new)


def test_a_resumed_session_clears_its_error_but_keeps_it_as_an_event(tmp_path):
    store = _store(tmp_path)
    store.set_status("s1", "failed", error="RuntimeError: backend down")
    store.set_status("s1", "running")
    store.set_status("s1", "completed", end_reason="turn_cap")
    row = store.session("s1")
    assert (row["status"], row["error"]) == ("completed", None)
    assert [e["detail"]["error"] for e in store.events("s1", "earlier_error")] == ["RuntimeError: backend down"]
