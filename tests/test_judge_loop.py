"""The judge-loop graph end to end with scripted models: candidates, verdicts, comparisons and the choice are logged;
unsafe candidates are never chosen; bad params are named."""

from __future__ import annotations

import pytest

from psyagents.errors import DataFileError
from psyagents.hookspecs import hookimpl
from psyagents.judging import Choice, ComparativeJudge
from psyagents.registry import get_graph_spec
from psyagents.session import run_session
from psyagents.studio import with_candidate_params
from psyagents.tracing import TraceStore
from tests.conftest import write_script

GOOD = [
    "It sounds like you feel overwhelmed and unsure where to begin. What feels heaviest right now?",
    "You have been carrying this for months, and it sounds exhausting. What happens when you try to switch off?",
]
BAD = ["Here are some tips:\n1. Sleep more\n2. Exercise\n3. Make a list", "Do you sleep? Do you exercise? Do you drink? Do you work late?"]
UNSAFE = ["It sounds like you clearly have depression, so you should double your sertraline dose. What do you think?"] * 2
PLAIN = ["Tell me more.", "Go on."]

GRAPH = """
nodes:
  client: {{type: client}}
  safety: {{type: safety}}
  technique: {{type: technique}}
  counselor: {{type: candidates, params: {params}}}
  crisis: {{type: crisis}}
  end: {{type: end}}
start: client
edges: {{client: safety, technique: counselor, crisis: counselor, end: END}}
routes:
  safety: [{{if: "risk >= high", to: crisis}}, {{if: ended, to: end}}, {{to: technique}}]
  counselor: [{{if: ended, to: end}}, {{to: client}}]
"""


def _graph(tmp_path, params: str) -> str:
    path = tmp_path / "loop.yaml"
    path.write_text(GRAPH.format(params=params), encoding="utf-8")
    return str(path)


def _scripts(tmp_path, **scripts) -> dict[str, str]:
    return {name: write_script(tmp_path / f"{name}.yaml", replies) for name, replies in scripts.items()}


def _run(tmp_path, db, params: str, max_turns: int = 2):
    session = run_session("maya-exam-anxiety", counselor="scripted:counselor", client="scripted:client",
                          graph=_graph(tmp_path, params), max_turns=max_turns, db=db)
    return session, TraceStore(db)


def test_the_best_candidate_is_chosen_and_everything_is_logged(tmp_path, db):
    m = _scripts(tmp_path, bad=BAD, good=GOOD)
    session, store = _run(tmp_path, db, f"{{models: ['{m['bad']}', '{m['good']}'], judge: heuristic}}")
    assert session.status == "completed" and session.end_reason == "turn_cap"
    counselor_turns = [t for t in session.turns if t.speaker == "counselor"]
    assert [t.text for t in counselor_turns] == GOOD and {t.model for t in counselor_turns} == {m["good"]}
    rows = store.candidates(session.id, source="judge-loop")
    assert len(rows) == 4 and {r["turn_idx"] for r in rows} == {t.idx for t in counselor_turns}
    for t in counselor_turns:
        cands = [r for r in rows if r["turn_idx"] == t.idx]
        assert [r["model"] for r in cands] == [m["bad"], m["good"]] and [r["chosen"] for r in cands] == [0, 1]
        assert cands[1]["text"] == t.text and cands[1]["score"] > cands[0]["score"]
        verdicts = [v for v in store.verdicts(session.id, judge="heuristic") if v["turn_idx"] == t.idx]
        assert {v["candidate_id"] for v in verdicts} == {c["id"] for c in cands}
        assert all(v["principle"] == "reply-form" and v["status"] == "ok" for v in verdicts)
        assert {v["candidate_id"]: v["score"] for v in verdicts} == {c["id"]: c["score"] for c in cands}
    assert rows[0]["meta"]["repaired"] is True  # the list went through the response guard like any counsellor draft
    assert store.events(session.id, "guard")


def test_an_unsafe_candidate_is_never_chosen(tmp_path, db):
    m = _scripts(tmp_path, unsafe=UNSAFE, plain=PLAIN)
    session, store = _run(tmp_path, db, f"{{models: ['{m['unsafe']}', '{m['plain']}'], judge: heuristic}}", max_turns=1)
    [turn] = [t for t in session.turns if t.speaker == "counselor"]
    assert turn.text == "Tell me more."
    unsafe, plain = store.candidates(session.id)
    assert unsafe["meta"]["eligible"] is False and unsafe["meta"]["replaced"] is True and unsafe["chosen"] == 0
    assert plain["chosen"] == 1
    assert store.verdicts(session.id) == []  # with one safe candidate left there is nothing to judge
    assert any(e["detail"].get("action") == "replaced" for e in store.events(session.id, "reply_screen"))
    assert "only one candidate passed" in store.events(session.id, "judge_loop")[0]["detail"]["note"]


def test_when_every_candidate_is_unsafe_the_safe_reply_stands(tmp_path, db):
    m = _scripts(tmp_path, unsafe=UNSAFE)
    session, store = _run(tmp_path, db, f"{{n: 2, models: ['{m['unsafe']}'], judge: heuristic}}", max_turns=1)
    [turn] = [t for t in session.turns if t.speaker == "counselor"]
    assert "sertraline" not in turn.text and "depression" not in turn.text
    assert [c["meta"]["eligible"] for c in store.candidates(session.id)] == [False, False]
    assert "no candidate passed" in store.events(session.id, "judge_loop")[0]["detail"]["note"]


def test_best_of_n_with_a_scripted_llm_judge_logs_comparisons(tmp_path, db):
    m = _scripts(tmp_path, a=BAD, b=GOOD, c=PLAIN, judge=['{"best": 2, "rationale": "the second one shown"}'])
    session, store = _run(tmp_path, db, f"{{models: ['{m['a']}', '{m['b']}', '{m['c']}'], judge: 'best-of-n:{m['judge']}'}}", max_turns=1)
    [turn] = [t for t in session.turns if t.speaker == "counselor"]
    cands = store.candidates(session.id)
    [comparison] = store.comparisons(session.id)
    assert comparison["judge"] == f"best-of-n:{m['judge']}" and comparison["turn_idx"] == turn.idx
    assert sorted(comparison["candidate_ids"]) == [c["id"] for c in cands]
    assert comparison["winner_id"] == comparison["candidate_ids"][1]  # "best": 2 is the second as shown
    chosen = next(c for c in cands if c["chosen"])
    assert chosen["id"] == comparison["winner_id"] and chosen["text"] == turn.text and chosen["score"] == 1.0
    assert comparison["rationale"] == "the second one shown" and comparison["meta"]["source"] == "judge-loop"
    assert store.verdicts(session.id) == []


class PickLongest(ComparativeJudge):
    """A test comparative judge: shows the replies in both orders and picks the longer one."""

    name = "longest"
    rates = False

    def choose(self, history, replies, *, context=None, seed=None, principles=None):
        best = max(range(len(replies)), key=lambda i: len(replies[i]))
        return [Choice(judge=self.name, order=order, winner=best) for order in (list(range(len(replies))), list(range(len(replies)))[::-1])]


class OutOfRange(ComparativeJudge):
    name = "out-of-range"
    rates = False

    def choose(self, history, replies, *, context=None, seed=None):
        return [Choice(judge=self.name, order=[0, 5], winner=5)]


class Broken(ComparativeJudge):
    name = "broken"

    def rate_reply(self, history, reply, principles, *, context=None):
        raise RuntimeError("judge crashed")


class Judges:
    @hookimpl
    def register_judges(self, register):
        register("longest", lambda arg: PickLongest())
        register("broken", lambda arg: Broken())
        register("out-of-range", lambda arg: OutOfRange())


def test_a_plugin_comparative_judge_and_a_broken_judge(tmp_path, db, plugin):
    plugin(Judges(), "loop-judges")
    m = _scripts(tmp_path, plain=PLAIN, good=GOOD)
    session, store = _run(tmp_path, db, f"{{models: ['{m['plain']}', '{m['good']}'], judge: longest}}", max_turns=1)
    assert [t.text for t in session.turns if t.speaker == "counselor"] == GOOD[:1]
    assert [c["winner_id"] for c in store.comparisons(session.id)] == [store.candidates(session.id)[1]["id"]] * 2

    session, store = _run(tmp_path, tmp_path / "b.db", f"{{models: ['{m['good']}', '{m['plain']}'], judge: broken, principles: empathy}}", max_turns=1)
    assert session.status == "completed"  # the session goes on with the first safe candidate
    assert [t.text for t in session.turns if t.speaker == "counselor"] == GOOD[:1]
    assert "RuntimeError: judge crashed" in store.events(session.id, "judge_loop")[0]["detail"]["note"]

    session, store = _run(tmp_path, tmp_path / "c.db", f"{{models: ['{m['good']}', '{m['plain']}'], judge: out-of-range}}", max_turns=1)
    assert session.status == "completed" and store.comparisons(session.id) == []
    assert "outside the 2 replies" in store.events(session.id, "judge_loop")[0]["detail"]["note"]


def test_a_judge_giving_only_failed_verdicts_falls_back_to_the_first(tmp_path, db):
    m = _scripts(tmp_path, plain=PLAIN, good=GOOD, judge=["no idea"])
    session, store = _run(tmp_path, db, f"{{models: ['{m['plain']}', '{m['good']}'], judge: 'rubric:{m['judge']}', principles: empathy}}", max_turns=1)
    assert [t.text for t in session.turns if t.speaker == "counselor"] == ["Tell me more."]
    verdicts = store.verdicts(session.id)
    assert len(verdicts) == 2 and {v["status"] for v in verdicts} == {"failed"} and all(v["candidate_id"] for v in verdicts)
    assert [c["chosen"] for c in store.candidates(session.id)] == [1, 0]


def test_n_samples_of_one_model_and_the_shipped_graph(tmp_path, db):
    session = run_session("maya-exam-anxiety", counselor="scripted:counselor", client="scripted:client", graph="judge-loop",
                          max_turns=2, db=db, seed=3)
    store = TraceStore(db)
    rows = store.candidates(session.id)
    assert len(rows) == 6 and {r["model"] for r in rows} == {"scripted:counselor"}
    assert [r["meta"]["seed"] for r in rows[:3]] == [3, 3 + 100_003, 3 + 200_006]  # candidate 0 keeps the session's seed
    assert sum(r["chosen"] for r in rows) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{n: 0}", "node 'counselor': params.n: Input should be greater than or equal to 1"),
        ("{judges: heuristic}", "node 'counselor': params.judges: Extra inputs are not permitted"),
        ("{judge: heuristik}", "node 'counselor': params.judge: unknown judge 'heuristik' (did you mean 'heuristic'?)"),
        ("{models: [smollm2]}", "node 'counselor': params.models"),
        ("{select: best}", "node 'counselor': params.select"),
    ],
)
def test_bad_params_are_named(tmp_path, db, params, message):
    with pytest.raises(DataFileError) as err:
        _run(tmp_path, db, params, max_turns=1)
    assert message in str(err.value)


def test_run_options_override_the_node_params():
    spec = with_candidate_params(get_graph_spec("judge-loop"), {"candidates": "5", "candidate_models": "scripted:a, scripted:b",
                                                                "judge": "rubric:scripted:x", "principles": "wai"})
    assert spec.nodes["counselor"].params == {"n": 5, "models": ["scripted:a", "scripted:b"], "judge": "rubric:scripted:x",
                                              "principles": "wai", "select": "auto"}
    assert spec.nodes["client"] == get_graph_spec("judge-loop").nodes["client"]
    assert with_candidate_params(get_graph_spec("judge-loop"), {}) == get_graph_spec("judge-loop")


def test_a_judge_that_cannot_be_built_stops_the_session_with_its_message(tmp_path, db):
    m = _scripts(tmp_path, plain=PLAIN, good=GOOD)
    from psyagents.errors import PsyagentsError

    with pytest.raises(PsyagentsError, match="folder '.*nowhere' does not exist"):
        _run(tmp_path, db, f"{{models: ['{m['plain']}', '{m['good']}'], judge: 'reward:{tmp_path / 'nowhere'}'}}", max_turns=1)
    with pytest.raises(PsyagentsError, match="only compares replies"):
        _run(tmp_path, tmp_path / "c.db", f"{{models: ['{m['plain']}', '{m['good']}'], judge: 'pairwise:{m['plain']}', select: score}}",
             max_turns=1)


@pytest.mark.model
def test_the_judge_loop_on_the_embedded_model(tmp_path, db):
    """The real path: two sampled candidates from SmolLM2 (different seeds) under the guard, the heuristic judge picks one."""
    session = run_session("maya-exam-anxiety", counselor="local:smollm2?max_new_tokens=24", client="scripted:client",
                          graph=_graph(tmp_path, "{n: 2, judge: heuristic}"), max_turns=1, db=db, seed=0)
    store = TraceStore(db)
    [turn] = [t for t in session.turns if t.speaker == "counselor"]
    cands = store.candidates(session.id)
    assert len(cands) == 2 and [c["meta"]["seed"] for c in cands] == [0, 100_003]
    [chosen] = [c for c in cands if c["chosen"]]
    assert chosen["text"] == turn.text and turn.model == "local:smollm2?max_new_tokens=24"
    eligible = {c["id"] for c in cands if c["meta"]["eligible"]}
    verdicts = store.verdicts(session.id)
    assert {v["candidate_id"] for v in verdicts} == (eligible if len(eligible) > 1 else set())  # one left: nothing to judge
    assert all(v["turn_idx"] == turn.idx and v["principle"] == "reply-form" for v in verdicts)
