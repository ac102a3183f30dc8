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


def test_a_batch_on_the_embedded_model_awaits_it_from_the_event_loop(db):
    """Two sessions at once: the nodes run on the batch's event loop and await the local model (ainvoke)."""
    from psyagents.default_plugins.local_models import LocalChatModel

    calls = []
    original = LocalChatModel._agenerate

    async def counting(self, *args, **kwargs):
        calls.append("ainvoke")
        return await original(self, *args, **kwargs)

    LocalChatModel._agenerate = counting
    try:
        result = psyagents.simulate(["maya-exam-anxiety", "kevin-panic"], "cbt", 1, concurrency=2, db=db, max_turns=1,
                                    counselor="local:smollm2?max_new_tokens=32", client="local:smollm2?max_new_tokens=32")
    finally:
        LocalChatModel._agenerate = original
    assert result.completed == 2 and result.failed == 0
    assert result.turns == 4  # each: the persona's opening and one counsellor reply
    assert len(calls) >= 2  # every counsellor reply (and any regeneration) went through ainvoke
