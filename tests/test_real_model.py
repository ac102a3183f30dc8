"""The real path: a session on the embedded model (SmolLM2-135M-Instruct on CPU), no mocks."""

from __future__ import annotations

import pytest

import psyagents
from psyagents.guard import violations

pytestmark = pytest.mark.model


def test_two_turn_session_on_the_embedded_model(db):
    seen = []
    s = psyagents.run_session("maya-exam-anxiety", "integrative", "local:smollm2?max_new_tokens=48",
                              "local:smollm2?max_new_tokens=48", max_turns=2, db=db, seed=1,
                              on_event=lambda kind, data: seen.append(kind))
    assert s.status == "completed" and s.end_reason in ("turn_cap", "client_closing", "counselor_closing", "client_end_signal")
    counselor = [t for t in s.turns if t.speaker == "counselor"]
    assert 1 <= len(counselor) <= 2
    for t in s.turns[1:]:
        assert t.text.strip()
        assert t.prompt_tokens > 0 and t.completion_tokens > 0 and t.latency_ms > 0
        assert t.model.startswith("local:smollm2")
    for t in counselor:
        assert t.technique in psyagents.get_style("integrative").techniques
        assert violations(t.text, psyagents.get_style("integrative").limits) == []
    assert "token" in seen  # the dialogue streamed
