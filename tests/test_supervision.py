"""Crisis escalation: the safety protocol from moderate up, safety planning after serious risk, and
human supervision of crisis replies through LangGraph's interrupt()."""

from __future__ import annotations

import json

import pytest

import psyagents
from psyagents.supervision import parse_decision
from psyagents.tracing import TraceStore
from tests.conftest import run_cli, write_script

PLAN_DISCLOSURE = "I have the pills here and I'm going to take them all tonight."


@pytest.fixture
def crisis_client(tmp_path):
    return write_script(tmp_path / "client.yaml", [PLAN_DISCLOSURE, "Okay. I'll call them.", "I feel a bit calmer.", "Thanks. Bye."])


def test_after_serious_risk_the_counsellor_stays_with_safety(db, crisis_client):
    s = psyagents.run_session("ryan-suicidal-crisis", "cbt", "scripted:counselor", crisis_client, max_turns=6, db=db)
    techniques = [t.technique for t in s.turns if t.speaker == "counselor"]
    assert techniques[1] == "crisis-protocol"
    assert techniques[2:4] == ["safety-planning", "safety-planning"]  # not back to CBT homework after a disclosed plan
    assert techniques[4] == "closing"  # the client said goodbye
    assert s.end_reason == "client_closing"


def test_supervisor_takes_over_a_crisis_reply(db, crisis_client):
    s = psyagents.run_session("ryan-suicidal-crisis", "cbt", "scripted:counselor", crisis_client, max_turns=4, db=db, supervise=True)
    assert s.status == "paused"
    assert s.pending["risk"] == "imminent" and s.pending["client"] == PLAN_DISCLOSURE
    assert "988" in s.pending["draft"]
    assert s.turns[-1].speaker == "counselor"  # the draft is recorded; the client has not answered it
    with pytest.raises(psyagents.PsyagentsError, match="awaits its supervisor"):
        psyagents.resume_session(s.id, db)
    mine = "I'm really glad you told me. Please call 988 right now, and I'll stay here with you."
    s = psyagents.resume_session(s.id, db, decision=f"reply:{mine}")
    assert s.status == "completed"
    replaced = s.turns[3]
    assert replaced.text == mine and replaced.model == "human:supervisor" and replaced.technique == "human-supervisor"
    events = TraceStore(db).events(s.id, "supervisor")
    assert events[0]["detail"]["action"] == "take_over" and "988" in events[0]["detail"]["draft"]  # the draft is not hidden


def test_supervisor_approves(db, crisis_client):
    s = psyagents.run_session("ryan-suicidal-crisis", "cbt", "scripted:counselor", crisis_client, max_turns=4, db=db, supervise=True)
    draft = s.pending["draft"]
    s = psyagents.resume_session(s.id, db, decision="approve")
    assert s.status == "completed" and s.turns[3].text == draft


def test_without_supervision_nothing_pauses(db, crisis_client):
    s = psyagents.run_session("ryan-suicidal-crisis", "cbt", "scripted:counselor", crisis_client, max_turns=4, db=db)
    assert s.status == "completed" and s.pending is None


def test_decisions_are_checked():
    assert parse_decision("approve") == {"action": "approve"}
    assert parse_decision("reply: Stay with me.") == {"action": "take_over", "text": "Stay with me."}
    for bad in ("ok", "reply:", {"action": "edit"}, 3):
        with pytest.raises(psyagents.PsyagentsError, match="bad supervisor decision"):
            parse_decision(bad)


def test_supervision_from_the_command_line(db, crisis_client):
    """No terminal in a subprocess: the CLI leaves the session paused and says how to decide."""
    r = run_cli("run", "--persona", "ryan-suicidal-crisis", "--counselor", "scripted:counselor", "--client", crisis_client,
                "--max-turns", "4", "--db", str(db), "--supervise")
    assert r.returncode == 0, r.stderr
    assert "Paused for the supervisor" in r.stdout and "--decision approve" in r.stdout
    sid = json.loads(run_cli("traces", "list", "--db", str(db), "--json").stdout)[0]["id"]
    r = run_cli("run", "--resume", sid, "--db", str(db), "--decision", "approve")
    assert r.returncode == 0, r.stderr
    assert "Trace saved: session" in r.stdout
    r = run_cli("run", "--resume", sid, "--db", str(db), "--decision", "approve")
    assert r.returncode == 2 and "already ended" in r.stderr
