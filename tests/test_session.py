"""Whole sessions through the default graph with scripted models: turns, plans, end reasons, guard, crisis, traces."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

import psyagents
from psyagents.hookspecs import hookimpl
from psyagents.tracing import TraceStore
from tests.conftest import write_script


def _store(db):
    return TraceStore(db, create=False)


def test_full_session_is_traced(db):
    s = psyagents.run_session("maya-exam-anxiety", "cbt", "scripted:counselor", "scripted:client", max_turns=8, db=db, seed=3)
    assert s.status == "completed"
    assert s.end_reason == "counselor_closing"  # the counsellor's "Take care", then the client's goodbye
    assert s.turns[-1].speaker == "client" and s.turns[-1].text.endswith("Goodbye.")
    speakers = [t.speaker for t in s.turns]
    assert speakers == [("client", "counselor")[i % 2] for i in range(len(speakers))]
    assert s.turns[0].text.startswith("Hi. Um, my school counselor")  # the persona's opening line
    counselor_turns = [t for t in s.turns if t.speaker == "counselor"]
    cbt = psyagents.get_style("cbt")
    for t in counselor_turns:
        assert t.technique in cbt.techniques and t.stage in cbt.stages
    assert all(t.model == "scripted:counselor" and t.latency_ms is not None and t.completion_tokens for t in counselor_turns)
    assert all(t.risk_level == "none" for t in s.turns if t.speaker == "client")
    store = _store(db)
    row = store.session(s.id)
    assert row["config"]["seed"] == 3 and row["config"]["style"] == "cbt" and row["config"]["graph"] == "default"
    assert row["persona"]["name"] == "Maya Thompson"
    assert "langgraph" in row["versions"] and "psyagents" in row["versions"]
    assert len(store.events(s.id, "screen")) == sum(1 for t in s.turns if t.speaker == "client")
    assert store.events(s.id, "end")[0]["detail"]["reason"] == "counselor_closing"
    assert "Counselor: Hello, I'm glad you came in today." in s.transcript()


def test_turn_cap_ends_the_session(db, tmp_path):
    client = write_script(tmp_path / "c.yaml", ["I keep worrying about everything.", "It never stops.", "I don't know."])
    s = psyagents.run_session("kevin-panic", "integrative", "scripted:counselor?cycle=true", client, max_turns=3, db=db)
    assert s.end_reason == "turn_cap"
    assert sum(t.speaker == "counselor" for t in s.turns) == 3


def test_counselor_closing_gives_the_client_one_last_word(db, tmp_path):
    counselor = write_script(tmp_path / "co.yaml", ["What brings you here?", "We'll stop here for today. Take care."])
    client = write_script(tmp_path / "cl.yaml", ["Work is a lot.", "Okay, thanks. Bye!", "Bye!!", "Bye again!"])
    s = psyagents.run_session("aisha-work-burnout", "person-centered", counselor, client, max_turns=8, db=db)
    assert s.end_reason == "counselor_closing"
    assert [t.speaker for t in s.turns[-2:]] == ["counselor", "client"]
    assert s.turns[-1].text == "Okay, thanks. Bye!"  # exactly one reply, no goodbye loop


def test_reported_goodbye_does_not_end_the_session(db, tmp_path):
    client = write_script(tmp_path / "c.yaml", ["I never got to say goodbye to my wife.", "She died in March.", "Thank you. Goodbye."])
    s = psyagents.run_session("tomas-grief-widower", "person-centered", "scripted:counselor", client, max_turns=8, db=db)
    assert s.end_reason == "client_closing"
    assert sum(t.speaker == "client" for t in s.turns) == 4  # opening + three scripted lines
    assert s.turns[-1].speaker == "counselor" and s.turns[-1].technique == "closing"


def test_client_end_signal(db, tmp_path):
    client = write_script(tmp_path / "c.yaml", ["I have to leave now. [END]"])
    s = psyagents.run_session("daniel-alcohol", "mi", "scripted:counselor", client, max_turns=8, db=db)
    assert s.end_reason == "client_end_signal"
    assert s.turns[-1].speaker == "client" and s.turns[-1].text == "I have to leave now."


class FakeProvider:
    """A test plugin: ``fake:NAME`` models answer from fixed lists and raise when they run out."""

    def __init__(self, **replies: list[str]):
        self.replies = replies

    @hookimpl
    def register_chat_models(self, register):
        register("fake", lambda name, options: GenericFakeChatModel(messages=iter([AIMessage(r) for r in self.replies[name]])))


def test_guard_regenerates_rejected_replies(db, plugin, tmp_path):
    too_long = "You should do these things. " * 12
    listed = "Here are some tips:\n1. Sleep more\n2. Eat well\n3. Exercise"
    ai = "As an AI language model, I cannot feel."
    good = "That sounds exhausting. What is the hardest part?"
    plugin(FakeProvider(c=[too_long, listed, good, ai, ai, ai]), "fake-provider")
    client = write_script(tmp_path / "c.yaml", ["I'm so tired.", "Everything.", "ok"])
    s = psyagents.run_session("kevin-panic", "integrative", "fake:c", client, max_turns=2, db=db)
    counselor = [t for t in s.turns if t.speaker == "counselor"]
    assert counselor[0].text == good
    # the second turn's three drafts all break role; the last is repaired (its AI sentence removed)
    assert "AI" not in counselor[1].text and counselor[1].text
    events = _store(db).events(s.id, "guard")
    reasons = [e["detail"].get("reasons") for e in events if "reasons" in e["detail"]]
    assert reasons[:2] == [["too_long"], ["list"]]
    assert any(e["detail"].get("action") == "repaired" for e in events)


def test_crisis_path_gives_resources(db, tmp_path):
    client = write_script(tmp_path / "c.yaml", ["I have the pills here and I'm going to take them all tonight.", "Okay. I'll call.", "Goodbye."])
    s = psyagents.run_session("ryan-suicidal-crisis", "cbt", "scripted:counselor", client, max_turns=5, db=db)
    disclosure = next(t for t in s.turns if t.text.startswith("I have the pills"))
    assert disclosure.risk_level in ("high", "imminent")
    reply = s.turns[disclosure.idx + 1]
    assert reply.speaker == "counselor" and reply.technique == "crisis-protocol"
    assert "988" in reply.text  # resources for en-US are added when the model leaves them out
    store = _store(db)
    crisis = store.events(s.id, "crisis")
    assert crisis and crisis[0]["detail"]["resources_added"] is True
    assert s.max_risk in ("high", "imminent")


def test_moderate_risk_gets_the_safety_protocol(db, tmp_path):
    client = write_script(tmp_path / "c.yaml", ["Honestly, I want to die some days.", "No plan, I just feel empty.", "Bye."])
    s = psyagents.run_session("grace-postpartum", "integrative", "scripted:counselor", client, max_turns=4, db=db)
    flagged = [t for t in s.turns if t.speaker == "client" and t.risk_level == "moderate"]
    assert flagged
    idx = flagged[0].idx
    assert s.turns[idx + 1].technique == "risk-assessment"


def test_bad_arguments_are_clear(db):
    with pytest.raises(psyagents.PsyagentsError, match="max_turns"):
        psyagents.run_session("maya-exam-anxiety", max_turns=0, db=db)
    with pytest.raises(psyagents.PsyagentsError, match="unknown therapy style 'cbtt' \\(did you mean 'cbt'\\?\\)"):
        psyagents.run_session("maya-exam-anxiety", style="cbtt", db=db)
    with pytest.raises(psyagents.PsyagentsError, match="bad model string"):
        psyagents.run_session("maya-exam-anxiety", counselor="smollm2", db=db)
    assert not db.exists()  # nothing is written before the arguments are known to be good


def test_events_stream_tokens_and_turns(db):
    seen: list[tuple[str, dict]] = []
    psyagents.run_session("maya-exam-anxiety", "mi", "scripted:counselor", "scripted:client", max_turns=2, db=db,
                          on_event=lambda kind, data: seen.append((kind, data)))
    kinds = [k for k, _ in seen]
    assert kinds[0] == "start" and kinds[-1] == "end"
    tokens = "".join(d["text"] for k, d in seen if k == "token" and d["node"] == "counselor")
    turns = [d["text"] for k, d in seen if k == "turn" and d["speaker"] == "counselor"]
    assert tokens == "".join(turns)  # the counsellor's words stream token by token
    assert json.dumps(seen, default=str)
