"""The whole loop: simulate (scripted) -> judge (scripted rubric judge) -> export -> train -> counsel again.

Sessions and judge answers are scripted so the data is known; the training (TRL, two LoRA steps on
the embedded model) and the trained counsellor's turn in a new session are real.
"""

from __future__ import annotations

import json
import sys

import pytest

import psyagents
from psyagents.export import export_sft
from psyagents.judging import RubricJudge
from psyagents.registry import get_principle
from psyagents.tracing import TraceStore
from tests.conftest import ROOT, write_script

PLUGIN_DIR = ROOT / "plugins" / "psyagents-trl"
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))

UPSET_CLIENT = [
    "My exams start next week and I can't sleep at all.",
    "I lie awake going over everything I haven't revised.",
    "Thanks, that helps. Goodbye.",
]


@pytest.mark.model
def test_simulate_judge_export_train_and_counsel_again(tmp_path):
    db = tmp_path / "traces.db"
    # 1. simulate: two scripted sessions with different clients
    good = psyagents.run_session("maya-exam-anxiety", "cbt", "scripted:counselor", write_script(tmp_path / "client.yaml", UPSET_CLIENT),
                                 max_turns=2, db=db)
    weak = psyagents.run_session("kevin-panic", "integrative", "scripted:counselor", "scripted:client", max_turns=2, db=db)
    assert good.status == weak.status == "completed"

    # 2. judge: a rubric judge over scripted models (one script per session, so the scores differ), verdicts stored
    empathy = get_principle("empathy")
    store = TraceStore(db)
    try:
        for session, score in ((good, 4), (weak, 2)):
            script = write_script(tmp_path / f"judge-{score}.yaml", [json.dumps({"score": score, "rationale": f"scripted {score}"})])
            judge = RubricJudge(script, name="rubric:scripted")
            transcript = [(t.speaker, t.text) for t in session.turns]
            verdicts = judge.rate_session(transcript, [empathy])
            assert [(v.status, v.score) for v in verdicts] == [("ok", score)]
            store.add_verdicts(session.id, verdicts)
    finally:
        store.close()

    # 3. export: only the session the judge rated at least 3 on empathy
    data = tmp_path / "sft"
    card = export_sft(db, data, format="messages", judge="rubric:scripted", min_score=3, principles="empathy", splits=(1.0, 0.0, 0.0))
    assert card["sessions_exported"] == 1 and card["counts"]["train"] == 1
    row = json.loads((data / "train.jsonl").read_text())
    said = {t.text for t in good.turns if t.speaker == "client"}
    users = [m["content"] for m in row["messages"] if m["role"] == "user"]
    assert users and all(u in said for u in users) and UPSET_CLIENT[0] in users

    # 4. train two steps (LoRA on the embedded model)
    from psyagents_trl.training import train

    out = tmp_path / "counsellor"
    manifest = train("sft", data, "local:smollm2", out, lora=True, max_steps=2, echo=lambda m: None,
                     settings={"max_length": 128, "per_device_train_batch_size": 1, "logging_steps": 1})
    assert manifest["status"] == "completed" and manifest["global_step"] == 2 and manifest["saved"] == "adapter"

    # 5. the result as a counsellor in a real session turn
    model = f"local:{out}?max_new_tokens=32&temperature=0"
    session = psyagents.run_session("maya-exam-anxiety", "cbt", model, "scripted:client", max_turns=1, db=db)
    counsellor_turns = [t for t in session.turns if t.speaker == "counselor"]
    assert session.status == "completed" and len(counsellor_turns) == 1
    assert counsellor_turns[0].text.strip() and counsellor_turns[0].model == model
