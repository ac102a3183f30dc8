"""``psyagents judge``: score logged counsellor turns, or whole sessions, into the verdicts table.

Resumable: a target (session, turn or ``None`` for the session, principle) that already has an
``ok`` verdict from this judge is skipped; failed verdicts are asked again (the old row stays,
the newest one counts). Concurrent: ``concurrency`` worker threads call the judge, and every
target's verdicts are written as soon as they come, each write its own transaction, so an
interrupted run loses only the calls in flight.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from statistics import mean
from typing import Any, Literal

from .errors import PsyagentsError
from .judging import COUNSELOR, Judge, Verdict, context_for, get_judge
from .specs import Persona, Principle
from .tracing import TraceStore

Level = Literal["turn", "session"]


def resolve_principles(spec: str) -> list[Principle]:
    """``--principles SET[,SET|ID...]`` through ``judging.resolve_principles``; errors name the option."""
    from .judging import resolve_principles as resolve

    try:
        return resolve(spec)
    except PsyagentsError as exc:
        raise PsyagentsError(f"--principles: {exc}") from None


@dataclass
class Target:
    """One thing to rate: a counsellor turn (``turn_idx``) or a whole session (``turn_idx`` None)."""

    session_id: str
    turn_idx: int | None
    transcript: list[tuple[str, str]]  # the dialogue before the turn (turn level) or the whole session
    reply: str | None
    context: dict
    principles: list[Principle] = field(default_factory=list)  # what is still missing


def _sessions(store: TraceStore, session_ids: list[str] | None) -> list[dict]:
    if session_ids:
        return [store.session(s) for s in dict.fromkeys(session_ids)]  # raises with "did you mean" for unknown ids
    return [r for r in store.sessions() if r["status"] == "completed"][::-1]  # oldest first


def plan_targets(store: TraceStore, judge_name: str, principles: list[Principle], *, level: Level,
                 session_ids: list[str] | None = None) -> tuple[list[Target], int]:
    """What still needs a verdict from this judge, and how many (target, principle) verdicts are already ok."""
    targets, done = [], 0
    for row in _sessions(store, session_ids):
        sid = row["id"]
        turns = store.turns(sid)
        have = {(v["turn_idx"], v["principle"]) for v in store.verdicts(sid, judge=judge_name)
                if v["status"] == "ok" and v.get("candidate_id") is None}
        try:
            context = context_for(Persona.model_validate(row["persona"]))
        except Exception:  # an imported session has no full persona
            context = {"persona": row.get("persona_id")}
        dialogue = [(t.speaker, t.text) for t in turns]
        if level == "session":
            spots = [(None, dialogue, None)] if any(s == COUNSELOR for s, _ in dialogue) else []
        else:
            spots = [(t.idx, dialogue[:i], t.text) for i, t in enumerate(turns) if t.speaker == COUNSELOR]
        for turn_idx, transcript, reply in spots:
            missing = [p for p in principles if (turn_idx, p.id) not in have]
            done += len(principles) - len(missing)
            if missing:
                targets.append(Target(sid, turn_idx, transcript, reply, context, missing))
    return targets, done


def _rate(judge: Judge, t: Target) -> list[Verdict]:
    try:
        if t.turn_idx is None:
            verdicts = judge.rate_session(t.transcript, t.principles, context=t.context)
        else:
            verdicts = judge.rate_reply(t.transcript, t.reply or "", t.principles, context=t.context)
    except NotImplementedError:
        raise PsyagentsError(f"judge '{judge.name}' cannot rate {'sessions' if t.turn_idx is None else 'replies'} "
                             "(a comparative judge picks between replies: use it with psyagents arena)") from None
    except PsyagentsError:
        raise
    except Exception as exc:  # a judge that raises must not stop the run: record failed verdicts instead
        error = f"judge error: {type(exc).__name__}: {exc}"
        verdicts = [Verdict(judge=judge.name, principle=p.id, scale_min=p.scale_min, scale_max=p.scale_max, status="failed", error=error)
                    for p in t.principles]
    return list(verdicts)


def run_id_for(config: dict) -> str:
    return "judge-" + hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]


def judge_traces(
    db: str, principles_spec: str | None, judge_spec: str, *, level: Level = "turn", session_ids: list[str] | None = None,
    concurrency: int = 1, judge: Judge | None = None, on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Target, list[Verdict]], None] | None = None,
) -> dict[str, Any]:
    """Rate what is still unrated and write the verdicts; returns a summary of this judge's verdicts on the targets."""
    from .session import package_versions
    from .tracing import open_existing

    if level not in ("turn", "session"):
        raise PsyagentsError(f"--level must be 'turn' or 'session', not {level!r}")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise PsyagentsError(f"--concurrency must be a whole number of at least 1, not {concurrency!r}")
    judge = judge or get_judge(judge_spec)
    if not getattr(judge, "rates", True):
        raise PsyagentsError(f"judge '{judge.name}' compares replies and does not rate them: use it with psyagents arena")
    principles_spec = principles_spec or getattr(judge, "default_principles", None)
    if not principles_spec:
        raise PsyagentsError(f"--principles: judge '{judge.name}' has no default principles; name a set or principle ids")
    principles = resolve_principles(principles_spec)
    store = open_existing(db)
    try:
        targets, already = plan_targets(store, judge.name, principles, level=level, session_ids=session_ids)
        config = {"judge": judge.name, "principles": [p.id for p in principles], "level": level, "sessions": session_ids}
        run_id = run_id_for(config)
        store.start_run(run_id, "judge", config, package_versions())
        if on_start:
            on_start(len(targets))
        written = failed_now = 0
        status = "completed"
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="psyagents-judge")
        try:
            pending = {pool.submit(_rate, judge, t): t for t in targets}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    t = pending.pop(fut)
                    verdicts = fut.result()
                    store.add_verdicts(t.session_id, verdicts, turn_idx=t.turn_idx)
                    written += len(verdicts)
                    failed_now += sum(1 for v in verdicts if v.status != "ok")
                    if on_done:
                        on_done(t, verdicts)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            for fut in pending:
                fut.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            summary = {"targets": len(targets), "verdicts_written": written, "failed": failed_now, "already_ok": already}
            store.finish_run(run_id, status, summary)
        report = summarise(store, judge.name, principles, level=level, session_ids=session_ids)
    finally:
        store.close()
    report.update({"db": db, "run_id": run_id, "judge": judge.name, "level": level, "skipped": already,
                   "rated": len(targets), "written": written, "failed_now": failed_now})
    return report


def summarise(store: TraceStore, judge_name: str, principles: list[Principle], *, level: Level,
              session_ids: list[str] | None = None) -> dict[str, Any]:
    """Per principle: targets with an ok verdict, targets whose newest verdict failed, and the mean score."""
    latest: dict[tuple, dict] = {}
    for row in _sessions(store, session_ids):
        for v in store.verdicts(row["id"], judge=judge_name):
            if v.get("candidate_id") is not None or (level == "session") != (v["turn_idx"] is None):
                continue
            key = (v["session_id"], v["turn_idx"], v["principle"])
            if v["status"] == "ok" or latest.get(key, {}).get("status") != "ok":
                latest[key] = v  # an ok verdict stands even if a later retry failed
    by_principle: dict[str, list[dict]] = defaultdict(list)
    for (_, _, pid), v in latest.items():
        by_principle[pid].append(v)
    rows = []
    for p in principles:
        vs = by_principle.get(p.id, [])
        scores = [v["score"] for v in vs if v["status"] == "ok" and v["score"] is not None]
        rows.append({
            "principle": p.id, "ok": sum(1 for v in vs if v["status"] == "ok"), "failed": sum(1 for v in vs if v["status"] != "ok"),
            "not_applicable": sum(1 for v in vs if v["status"] == "ok" and v["score"] is None),
            "mean": round(mean(scores), 3) if scores else None, "scale": [p.scale_min, p.scale_max],
        })
    return {"principles": rows}


def parse_ids(spec: str | None) -> list[str] | None:
    if spec is None:
        return None
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    if not ids:
        raise PsyagentsError(f"--sessions: expected comma-separated session ids, got {spec!r}")
    return ids
