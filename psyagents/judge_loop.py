"""The ``candidates`` node: a judge in the loop.

Each counsellor turn draws N candidate replies (one model sampled N times with different seeds,
or several models in turn), each under the response guard and the reply screen exactly as the
plain counsellor node; a judge scores them (a rating judge: the total of its verdicts) or picks
among them (a comparative judge: the most wins), and the dialogue continues with the best.
Every candidate is logged (``candidates``, source ``judge-loop``), with its verdicts
(``candidate_id``, ``turn_idx`` = the counsellor turn) or the judge's comparisons, and the winner is
marked chosen: the raw material of preference pairs. A candidate the reply screen rejected
(its text replaced by the safe fallback) is never shown to the judge nor chosen while another is left.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import DataFileError, PsyagentsError
from .nodes import Node, _after_counselor, _counselor_turn_steps, _record, _screen_reply_steps, _writer, choose_plan_steps
from .state import COUNSELOR, SessionContext, SessionState, history
from .steps import InThread, Steps, TwinNode
from .styles import Plan

SOURCE = "judge-loop"


class CandidatesParams(BaseModel):
    """The ``params`` of a ``candidates`` node in a graph file."""

    model_config = ConfigDict(extra="forbid")

    n: int | None = Field(default=None, ge=1, le=32)  # candidates per turn; default 3, or one per model
    models: list[str] = Field(default_factory=list)  # model strings used in turn; default: the session's counsellor
    judge: str = "heuristic"  # a judge spec (psyagents judges: rubric:MODEL, pairwise:MODEL, reward:PATH, ...)
    principles: str | list[str] | None = None  # a set or ids; default: the judge's own default set
    select: Literal["auto", "score", "choose"] = "auto"  # score: rate each and take the best total; choose: ask a comparative judge

    @field_validator("models")
    @classmethod
    def _model_strings(cls, value: list[str]) -> list[str]:
        from .models import parse_model_spec

        for spec in value:
            parse_model_spec(spec)
        return value

    @property
    def count(self) -> int:
        return self.n or (len(self.models) if self.models else 3)


def parse_params(name: str, params: dict) -> CandidatesParams:
    """Validate a ``candidates`` node's params; errors name the node and the field."""
    try:
        parsed = CandidatesParams.model_validate(params or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise DataFileError(f"node '{name}': params.{field}: {err['msg']}") from None
    except PsyagentsError as exc:
        raise DataFileError(f"node '{name}': params.models: {exc}") from None
    from .judging import judges

    judge_name = parsed.judge.partition(":")[0]
    if judge_name not in judges():
        from .errors import did_you_mean

        raise DataFileError(f"node '{name}': params.judge: unknown judge '{judge_name}'{did_you_mean(judge_name, judges())}")
    return parsed


def _candidate_seed(ctx: SessionContext, k: int) -> int | None:
    """Candidate 0 keeps the session's seed (so N=1 is the plain counsellor); the others get their own."""
    return None if ctx.seed is None else ctx.seed + 100_003 * k


def make_candidates(ctx: SessionContext, name: str, params: dict) -> Node:
    """The counsellor, drawing N candidates per turn and continuing with the one a judge prefers."""
    from .models import get_chat_model

    cfg = parse_params(name, params)
    specs = cfg.models or [ctx.counselor_spec]
    models = {s: (ctx.counselor if s == ctx.counselor_spec else get_chat_model(s)) for s in dict.fromkeys(specs)}
    cache: dict[str, Any] = {}

    def judge_and_principles():
        if "judge" not in cache:
            from .judging import get_judge, resolve_principles

            judge = get_judge(cfg.judge)
            ref = cfg.principles if cfg.principles is not None else judge.default_principles
            cache["judge"] = judge
            cache["principles"] = resolve_principles(ref) if ref else []
            mode = cfg.select
            if mode == "auto":
                mode = "score" if judge.rates else "choose"
            if mode == "choose" and not hasattr(judge, "choose"):
                raise PsyagentsError(f"node '{name}': judge '{judge.name}' cannot choose between replies (select: score)")
            if mode == "score" and not judge.rates:
                raise PsyagentsError(f"node '{name}': judge '{judge.name}' only compares replies (select: choose)")
            if mode == "score" and not cache["principles"]:
                raise PsyagentsError(f"node '{name}': judge '{judge.name}' needs principles to rate on (params.principles)")
            cache["mode"] = mode
        return cache["judge"], cache["principles"], cache["mode"]

    def candidates(state: SessionState) -> Steps[dict[str, Any]]:
        from .judging import context_for

        turn = state.get("turn", 0) + 1
        stored = state.get("plan")
        if stored and stored.get("turn") == turn:
            plan = Plan(**{k: v for k, v in stored.items() if k != "turn"})
        else:
            plan = yield from choose_plan_steps(ctx, state)
        drawn = []
        for k in range(cfg.count):
            spec = specs[k % len(specs)]
            ctx_k = dataclasses.replace(ctx, counselor=models[spec], counselor_spec=spec, seed=_candidate_seed(ctx, k))
            text, info, idx = yield from _counselor_turn_steps(ctx_k, state, plan, ctx.style.limits)
            violations = [] if info.get("replaced") else (yield from _screen_reply_steps(ctx, text))
            drawn.append({"k": k, "model": spec, "text": text, "info": info, "ctx": ctx_k,
                          "eligible": not info.get("replaced") and not violations, "violations": violations})
        idx = len(state.get("messages", []))
        dialogue = history(state)
        eligible = [c for c in drawn if c["eligible"]]
        scores: dict[int, float | None] = {}
        verdicts: dict[int, list] = {}
        choices: list = []
        judge_name, error = cfg.judge, ""
        winner = eligible[0] if eligible else drawn[0]
        if len(eligible) > 1:
            # A bad judge spec or principle set is the user's to fix: it stops the session with its message.
            # Judges call models (and may load one the first time): in a batch they run in a thread.
            judge, principles, mode = yield InThread(judge_and_principles)
            judge_name = judge.name
            try:
                context = context_for(ctx.persona)
                if mode == "score":
                    from .judging import comparable_scores, total_score

                    for c in eligible:
                        verdicts[c["k"]] = yield InThread(partial(judge.rate_reply, dialogue, c["text"], principles, context=context))
                        scores[c["k"]] = total_score(verdicts[c["k"]])  # logged as the candidate's score
                    # The winner is chosen on the principles every candidate was scored on (see comparable_scores).
                    ranked = comparable_scores([verdicts[c["k"]] for c in eligible])
                    best = max((r for r in ranked if r is not None), default=None)
                    if best is not None:
                        winner = eligible[ranked.index(best)]
                else:
                    seed = None if ctx.seed is None else ctx.seed * 1000 + idx
                    # principles only when there are some: a plugin's choose() may predate the keyword
                    extra = {"principles": principles} if principles else {}
                    choices = yield InThread(partial(judge.choose, dialogue, [c["text"] for c in eligible], context=context, seed=seed, **extra))
                    n = len(eligible)
                    for ch in choices:  # a plugin judge's bad index must not reach the trace store
                        if sorted(ch.order) != sorted(set(ch.order)) or not all(0 <= i < n for i in ch.order) or (
                                ch.winner is not None and not 0 <= ch.winner < n):
                            raise ValueError(f"judge '{judge.name}' returned a choice outside the {n} replies: {ch.order}, {ch.winner}")
                    wins = [0] * n
                    for ch in choices:
                        if ch.winner is not None:
                            wins[ch.winner] += 1
                    scores = {c["k"]: float(w) for c, w in zip(eligible, wins)}
                    if max(wins) > 0:
                        winner = eligible[wins.index(max(wins))]
            except Exception as exc:  # a broken judge must not end the session: continue with the first safe candidate
                error = f"{type(exc).__name__}: {exc}"
                choices, winner = [], eligible[0]
        elif len(eligible) == 1:
            error = "only one candidate passed the reply screen" if len(drawn) > 1 else ""
        else:
            error = "no candidate passed the reply screen; the safe reply stands"

        if ctx.trace:
            ids = ctx.trace.add_candidates(ctx.session_id, idx, [{
                "idx": c["k"], "source": SOURCE, "model": c["model"], "text": c["text"], "score": scores.get(c["k"]),
                "meta": {"eligible": c["eligible"], "violations": c["violations"], "seed": c["ctx"].seed, "judge": judge_name,
                         **{key: c["info"][key] for key in ("attempts", "repaired", "replaced") if key in c["info"]}},
            } for c in drawn])
            by_k = dict(zip([c["k"] for c in drawn], ids))
            for k, vs in verdicts.items():
                ctx.trace.add_verdicts(ctx.session_id, vs, turn_idx=idx, candidate_id=by_k[k])
            for n_showing, ch in enumerate(choices):
                shown = [by_k[eligible[i]["k"]] for i in ch.order]
                ctx.trace.add_comparison(
                    ctx.session_id, idx, ch.judge, shown, by_k[eligible[ch.winner]["k"]] if ch.winner is not None else None,
                    rationale=ch.rationale, status=ch.status, error=ch.error, raw=ch.raw,
                    meta={"source": SOURCE, "showing": n_showing, "order": [eligible[i]["k"] for i in ch.order]},
                )
            ctx.trace.set_chosen(by_k[winner["k"]], score=scores.get(winner["k"]))
            if error:
                ctx.trace.add_event(ctx.session_id, "judge_loop", turn_idx=idx, judge=judge_name, note=error)
        info = {**winner["info"], "candidates": len(drawn), "chosen": winner["k"], "judge": judge_name}
        if winner["k"] in scores:
            info["score"] = scores[winner["k"]]
        _writer()({"event": "candidates", "idx": idx, "n": len(drawn), "chosen": winner["k"], "scores": scores})
        _record(winner["ctx"], idx, COUNSELOR, winner["text"], info, plan)
        return _after_counselor(ctx, state, winner["text"], idx)

    return TwinNode(candidates)
