"""The arena: Interactive Agents' protocol for comparing counsellor models on the same dialogues.

One simulated client per persona (the client model with the persona brief, as in a session).
At every counsellor turn each bot answers the same history with the same prompt (the style's
instructions and plan); the replies are logged as candidates (``source="arena"``, ``model`` =
the bot) and the judge picks:

* ``best-of-n`` - a comparative judge sees all replies at once, in an order shuffled with the
  seed; its pick (or a tie) is logged with ``add_comparison``;
* ``pairwise`` - a comparative judge compares each bot with the reference bot (in a shuffled
  order; a pairwise judge also shows the other order), one comparison per showing;
* ``rating`` - a judge that rates replies (``rubric``, ``heuristic``...) scores each candidate on
  the principles (verdicts logged with the candidate id); the highest mean score on the
  principles' scales (each rescaled to 0..1) wins, equal tops tie.

The dialogue continues with the judge's pick (``continue_with="judge"``; on a tie, the
reference bot's reply) or always with the reference bot's reply (``"reference"``, which keeps
the history the same whatever the judge says). Bot replies are compared as the models wrote
them (sanitised, a leading speaker label dropped), without the response guard or the safety
and crisis nodes of a session. The reply screen reads every bot reply without changing it:
what it flags is kept in the candidate's ``meta["reply_screen"]``, logged as a ``reply_screen``
event, and counted per bot (``flagged``) in the results, so a bot that wins by saying what a
counsellor must not say shows it. The client goes through the guard, as in a session.

Everything is written as it happens. A run's id hashes its configuration, so running the
same command again skips finished personas and continues an unfinished one from its last
recorded turn. Statistics (see ``psyagents.ratings``) come from the comparisons in the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import PsyagentsError, SessionBusy, SessionExists
from .judging import CLIENT, COUNSELOR, ComparativeJudge, Judge, context_for, get_judge
from .ratings import (against, bootstrap, elo, interval_of, length_controlled_win_rate, outcomes_from_choice, win_rate)
from .specs import Persona, Principle
from .tracing import TraceStore, Turn

PROTOCOLS = ("best-of-n", "pairwise", "rating")
CONTINUE = ("judge", "reference")
EventHandler = Callable[[str, dict], None]


def parse_list(option: str, spec: str | None) -> list[str]:
    items = [s.strip() for s in (spec or "").split(",") if s.strip()]
    if not items:
        raise PsyagentsError(f"{option}: expected a comma-separated list, got {spec!r}")
    return items


def default_protocol(judge: Judge) -> str:
    """``pairwise`` for a judge named ``pairwise...``, ``best-of-n`` for other comparative judges, else ``rating``."""
    if isinstance(judge, ComparativeJudge):
        return "pairwise" if judge.name.startswith("pairwise") else "best-of-n"
    return "rating"


def arena_run_id(config: dict) -> str:
    return "arena-" + hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]


def run_arena(
    *, bots: list[str], personas: list[str], judge_spec: str, client: str = "local:smollm2", turns: int = 4,
    reference: str | None = None, seed: int | None = 0, db: str = "arena.db", style: str = "integrative",
    continue_with: str = "judge", protocol: str | None = None, principles: str | None = None, rounds: int = 1000,
    judge: Judge | None = None, on_event: EventHandler | None = None,
) -> dict[str, Any]:
    """Run the arena (or continue it) and return its statistics."""
    from .batch_judge import resolve_principles
    from .models import get_chat_model, parse_model_spec
    from .registry import get_persona, get_style
    from .session import package_versions

    say = on_event or (lambda _kind, _data: None)
    if len(bots) < 2:
        raise PsyagentsError(f"--bots: the arena needs at least two bots, got {len(bots)}")
    if len(set(bots)) != len(bots):
        raise PsyagentsError(f"--bots: a bot is listed twice: {', '.join(b for b, n in Counter(bots).items() if n > 1)}")
    reference = reference or bots[0]
    if reference not in bots:
        raise PsyagentsError(f"--reference: '{reference}' is not one of the bots ({', '.join(bots)})")
    if not isinstance(turns, int) or turns < 1:
        raise PsyagentsError(f"--turns must be a whole number of at least 1, not {turns!r}")
    if continue_with not in CONTINUE:
        raise PsyagentsError(f"--continue-with must be one of {', '.join(CONTINUE)}, not {continue_with!r}")
    for option, value in [("--client", client)] + [("--bots", b) for b in bots]:
        try:
            parse_model_spec(value)
        except PsyagentsError as exc:
            raise PsyagentsError(f"{option}: {exc}") from None
    persona_objs = [get_persona(p) for p in dict.fromkeys(personas)]
    style_obj = get_style(style)
    judge = judge or get_judge(judge_spec)
    protocol = protocol or default_protocol(judge)
    if protocol not in PROTOCOLS:
        raise PsyagentsError(f"--protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    if protocol in ("best-of-n", "pairwise") and not isinstance(judge, ComparativeJudge):
        raise PsyagentsError(f"--protocol {protocol} needs a comparative judge (pairwise:MODEL, best-of-n:MODEL); "
                             f"'{judge.name}' rates replies: use --protocol rating")
    if protocol == "rating" and not getattr(judge, "rates", True):
        raise PsyagentsError(f"--protocol rating needs a judge that rates replies; '{judge.name}' only compares them")
    if protocol == "rating":
        principles = principles or getattr(judge, "default_principles", None) or "psychocounsel"
    # Rating judges rate on these; comparative judges that take principles compare on them (default: their own criteria).
    rated_on = resolve_principles(principles) if principles else []

    models = {b: get_chat_model(b) for b in bots}
    client_model = models.get(client) or get_chat_model(client)
    config = {"bots": bots, "personas": [p.id for p in persona_objs], "judge": judge.name, "client": client, "turns": turns,
              "reference": reference, "seed": seed, "style": style_obj.name, "continue_with": continue_with, "protocol": protocol,
              "principles": [p.id for p in rated_on]}
    run_id = arena_run_id(config)
    store = TraceStore(db)
    try:
        store.start_run(run_id, "arena", config, package_versions())
        status = "completed"
        try:
            for persona in persona_objs:
                _play(store, run_id, persona, config, style_obj, models, client_model, judge, rated_on, say)
        except (SessionBusy, SessionExists):  # another process is playing this arena now: its run, not ours to close
            status = None
            raise
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            raise
        finally:
            if status is not None:
                store.finish_run(run_id, status)
        stats = arena_stats(store, run_id, judge.name, bots, reference, rounds=rounds, seed=seed or 0)
    finally:
        store.close()
    stats.update({"run_id": run_id, "db": str(db), "config": config})
    return stats


# --- one dialogue ----------------------------------------------------------------------------


def _turn_meta(store: TraceStore, session_id: str) -> dict[int, dict]:
    rows = store.db.query("select idx, meta from turns where session_id = ?", [session_id])
    return {r["idx"]: json.loads(r["meta"] or "{}") for r in rows}


def _play(store: TraceStore, run_id: str, persona: Persona, config: dict, style, models: dict, client_model, judge: Judge,
          rated_on: list[Principle], say: EventHandler) -> None:
    from .closing import is_closing
    from .nodes import CLIENT_LIMITS, FALLBACK, guarded_reply
    from .prompts import END_SIGNAL, client_messages
    from .session import package_versions
    from .state import SessionContext
    from .styles import Plan
    from .text import sanitize

    key = f"{run_id}:{persona.id}"
    row = store.session_by_key(key)
    if row and row["status"] == "completed":
        say("skip", {"persona": persona.id, "session_id": row["id"]})
        return
    if row:
        sid = row["id"]
        store.set_status(sid, "running")
    else:
        sid = uuid.uuid4().hex[:12]
        session_config = {"graph": "arena", "style": config["style"], "counselor": ",".join(config["bots"]), "client": config["client"],
                          "max_turns": config["turns"], "seed": config["seed"], "persona": persona.id, "arena": config}
        store.start_session(sid, config=session_config, persona=persona.model_dump(), versions=package_versions(), run_id=run_id, key=key)
    recorded = store.turns(sid)
    dialogue = [(t.speaker, t.text) for t in recorded]
    # A crash between drawing the candidates and recording the turn leaves them behind: that turn is played again.
    store._write(lambda: (store.db.execute("delete from comparisons where session_id = ? and turn_idx >= ?", [sid, len(dialogue)]),
                          store.db.execute("delete from verdicts where session_id = ? and turn_idx >= ? and candidate_id is not null", [sid, len(dialogue)]),
                          store.db.execute("delete from candidates where session_id = ? and turn_idx >= ?", [sid, len(dialogue)])))
    meta = _turn_meta(store, sid)
    plans = [Plan(**meta[t.idx]["plan"]) for t in recorded if t.speaker == COUNSELOR and "plan" in meta.get(t.idx, {})]
    counselor_turns = sum(1 for s, _ in dialogue if s == COUNSELOR)
    say("session", {"persona": persona.id, "session_id": sid, "resumed": bool(row), "turn": counselor_turns})
    seed = config["seed"]
    ctx = SessionContext(session_id=sid, persona=persona, style=style, counselor=client_model, client=client_model,
                         client_spec=config["client"], max_turns=config["turns"], seed=seed, trace=store)
    context = context_for(persona)
    closing = bool(dialogue) and dialogue[-1][0] == CLIENT and is_closing(dialogue[-1][1])
    end_reason = None
    try:
        while counselor_turns < config["turns"]:
            if not dialogue or dialogue[-1][0] == COUNSELOR:
                idx = len(dialogue)
                ended = False
                if not dialogue and persona.opening:
                    text, info = sanitize(persona.opening), {"scripted_opening": True}
                else:
                    def strip_signal(t: str) -> str:
                        nonlocal ended
                        if END_SIGNAL in t:
                            ended, t = True, t.replace(END_SIGNAL, "").strip()
                        return t

                    text, info = guarded_reply(
                        ctx, CLIENT, lambda note: client_messages(persona, dialogue, counselor_turns, False, note),
                        CLIENT_LIMITS, idx, postprocess=strip_signal,
                    )
                extra = {k: v for k, v in info.items() if k not in ("latency_ms", "prompt_tokens", "completion_tokens")}
                store.add_turn(sid, Turn(idx=idx, speaker=CLIENT, text=text, model=config["client"],
                                         latency_ms=round(info.get("latency_ms", 0.0), 2), prompt_tokens=info.get("prompt_tokens"),
                                         completion_tokens=info.get("completion_tokens")), {**extra, "ended": ended})
                dialogue.append((CLIENT, text))
                if ended:
                    end_reason = "client_end_signal"
                    break
                closing = is_closing(text)
            idx = len(dialogue)
            plan = _plan(style, dialogue, counselor_turns + 1, config["turns"], persona.language, plans)
            rng = random.Random(f"{seed}:{persona.id}:{idx}")  # per turn: a resumed run shuffles as an uninterrupted one
            text, bot = _counselor_turn(store, sid, idx, dialogue, plan, counselor_turns + 1, persona, style, config, models, judge,
                                        rated_on, context, rng)
            if text is None:
                text, bot = FALLBACK[COUNSELOR].get(persona.language, FALLBACK[COUNSELOR]["en"]), "fallback"
            store.add_turn(sid, Turn(idx=idx, speaker=COUNSELOR, text=text, stage=plan.stage, technique=plan.technique, model=bot),
                           {"plan": plan.model_dump()})
            dialogue.append((COUNSELOR, text))
            plans.append(plan)
            counselor_turns += 1
            say("turn", {"persona": persona.id, "session_id": sid, "turn": counselor_turns, "bot": bot})
            if closing:
                end_reason = "client_closing"
                break
    except KeyboardInterrupt:
        store.set_status(sid, "interrupted")
        raise
    except Exception as exc:
        store.set_status(sid, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    store.set_status(sid, "completed", end_reason=end_reason or "turn_cap")


def _plan(style, dialogue, turn: int, max_turns: int, language: str, plans: list):
    from .styles import PlanView

    return style.plan(PlanView(turn=turn, max_turns=max_turns, history=tuple(dialogue), language=language, previous=tuple(plans)))


def _counselor_turn(store, sid, idx, dialogue, plan, turn, persona, style, config, models, judge, rated_on, context, rng) -> tuple[str | None, str]:
    """Every bot answers; the judge picks; returns the reply the dialogue continues with and its bot."""
    from . import guard
    from .prompts import counselor_messages, counselor_system_prompt
    from .reply_safety import reply_checks, screen_reply
    from .text import sanitize

    system = counselor_system_prompt(style, plan, language=persona.language, turn=turn,
                                     max_turns=config["turns"], client_name=persona.name, limits=style.limits)
    messages = counselor_messages(system, dialogue)
    seed = config["seed"]
    replies: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    for bot in config["bots"]:
        try:
            kwargs = {} if seed is None else {"seed": seed * 1000 + idx * 10}
            text = guard.clean(sanitize(str(models[bot].invoke(messages, **kwargs).content)), COUNSELOR)
        except Exception as exc:  # one broken bot must not stop the others
            errors[bot] = f"{type(exc).__name__}: {exc}"
            continue
        if text.strip():
            replies.append((bot, text))
        else:
            errors[bot] = "empty reply"
    if not replies:
        store.add_event(sid, "arena", turn_idx=idx, action="no_replies", errors=errors)
        return None, ""
    checks = reply_checks()
    flags = [screen_reply(t, language=persona.language, checks=checks) for _, t in replies]
    ids = store.add_candidates(sid, idx, [
        {"text": t, "model": b, "source": "arena", "meta": {"bot": config["bots"].index(b), **({"reply_screen": f} if f else {})}}
        for (b, t), f in zip(replies, flags)
    ])
    for (b, _), f, cid in zip(replies, flags, ids):
        if f:
            store.add_event(sid, "reply_screen", turn_idx=idx, source="arena", bot=b, candidate_id=cid, violations=f)
    if errors:
        store.add_event(sid, "arena", turn_idx=idx, action="bot_errors", errors=errors)
    history = list(dialogue)
    protocol = config["protocol"]
    wins: Counter = Counter()
    if len(replies) >= 2:
        if protocol == "rating":
            wins = _judge_rating(store, sid, idx, judge, rated_on, history, replies, ids, context)
        else:
            shows: list[list[int]] = []
            if protocol == "best-of-n":
                order = list(range(len(replies)))
                rng.shuffle(order)
                shows = [order]
            else:
                bots = [b for b, _ in replies]
                if config["reference"] in bots:
                    ref = bots.index(config["reference"])
                    for i in range(len(replies)):
                        if i != ref:
                            pair = [i, ref]
                            rng.shuffle(pair)
                            shows.append(pair)
            turn_seed = None if seed is None else seed * 1000 + idx
            for show in shows:
                wins.update(_judge_showing(store, sid, idx, judge, protocol, history, replies, ids, show, context, turn_seed, rated_on))
    bots = [b for b, _ in replies]
    ref = bots.index(config["reference"]) if config["reference"] in bots else 0
    if config["continue_with"] == "reference" or not wins:
        pick = ref
    else:
        top = max(wins.values())
        best = [i for i in range(len(replies)) if wins[ids[i]] == top]
        pick = ref if ref in best else best[0]
    store.set_chosen(ids[pick])
    return replies[pick][1], replies[pick][0]


def _takes_principles(judge: ComparativeJudge) -> bool:
    import inspect

    try:
        return "principles" in inspect.signature(judge.choose).parameters
    except (TypeError, ValueError):
        return False


def _judge_showing(store, sid, idx, judge: ComparativeJudge, protocol, history, replies, ids, show, context, seed, principles) -> Counter:
    """Show the replies at positions ``show`` (in that order); log one comparison per showing the judge reports.

    A showing may hold only some of the replies (a pairwise judge given several shows every pair).
    """
    texts = [replies[i][1] for i in show]
    wins: Counter = Counter()
    try:
        extra = {"principles": principles} if principles and _takes_principles(judge) else {}
        choices = judge.choose(history, texts, context=context, seed=seed, **extra)
    except Exception as exc:  # a judge failure is recorded, never raised
        store.add_comparison(sid, idx, judge.name, [ids[i] for i in show], None, status="failed",
                             error=f"judge error: {type(exc).__name__}: {exc}", meta={"protocol": protocol})
        return wins
    for k, choice in enumerate(choices):
        valid = len(choice.order) >= 2 and len(set(choice.order)) == len(choice.order) and all(0 <= j < len(show) for j in choice.order)
        order = list(choice.order) if valid else list(range(len(show)))
        seen = [ids[show[j]] for j in order]
        winner = ids[show[choice.winner]] if choice.winner is not None and choice.winner in order else None
        status = choice.status if choice.winner is None or winner is not None else "failed"
        store.add_comparison(sid, idx, judge.name, seen, winner, rationale=choice.rationale, status=status,
                             error=choice.error or ("" if status == choice.status else f"winner index {choice.winner} was not shown"),
                             raw=choice.raw, meta={"protocol": protocol, "showing": k, "bots": [replies[show[j]][0] for j in order]})
        if status == "ok" and winner is not None:
            wins[winner] += 1
    return wins


def _judge_rating(store, sid, idx, judge: Judge, principles, history, replies, ids, context) -> Counter:
    """Rate every candidate on the principles; the best mean (each scale rescaled to 0..1) wins."""
    scores: list[float | None] = []
    for (_bot, text), cid in zip(replies, ids):
        try:
            verdicts = judge.rate_reply(history, text, principles, context=context)
        except Exception as exc:
            store.add_event(sid, "arena", turn_idx=idx, action="judge_error", candidate_id=cid, error=f"{type(exc).__name__}: {exc}")
            verdicts = []
        store.add_verdicts(sid, verdicts, turn_idx=idx, candidate_id=cid)
        unit = [(v.score - v.scale_min) / ((v.scale_max - v.scale_min) or 1) for v in verdicts if v.status == "ok" and v.score is not None]
        scores.append(sum(unit) / len(unit) if unit else None)
    wins: Counter = Counter()
    rated = [s for s in scores if s is not None]
    meta = {"protocol": "rating", "scores": {str(cid): s for cid, s in zip(ids, scores)}, "bots": [b for b, _ in replies]}
    if len(rated) < 2:
        store.add_comparison(sid, idx, judge.name, ids, None, status="failed", error="fewer than two candidates were rated", meta=meta)
        return wins
    top = max(rated)
    best = [cid for cid, s in zip(ids, scores) if s == top]
    winner = best[0] if len(best) == 1 else None
    store.add_comparison(sid, idx, judge.name, [cid for cid, s in zip(ids, scores) if s is not None], winner,
                         rationale=f"best mean score {top:.3f}" if winner else f"tie at {top:.3f}", meta=meta)
    if winner is not None:
        wins[winner] += 1
    return wins


# --- statistics ------------------------------------------------------------------------------


def arena_stats(store: TraceStore, run_id: str, judge_name: str, bots: list[str], reference: str, *, rounds: int = 1000,
                seed: int = 0) -> dict[str, Any]:
    """Elo, win rates against the reference (raw and length-controlled) and bootstrap 95% intervals from the logged choices."""
    sessions = [r["id"] for r in store.db.query("select id from sessions where run_id = ? order by created_at", [run_id])]
    cands = {c["id"]: c for s in sessions for c in store.candidates(s, source="arena")}
    comps = sorted((c for s in sessions for c in store.comparisons(s, judge=judge_name)), key=lambda c: c["id"])
    # Bootstrap units: the showings of the same candidates at one turn stay together (a pair shown in both orders).
    clusters: dict[tuple, list] = {}
    for c in comps:
        if c["status"] != "ok" or any(i not in cands for i in c["candidate_ids"]):
            continue
        unit = clusters.setdefault((c["session_id"], c["turn_idx"], tuple(sorted(c["candidate_ids"]))), [])
        unit += outcomes_from_choice(c["candidate_ids"], c["winner_id"], bot=lambda i: cands[i]["model"],
                                     length=lambda i: len(cands[i]["text"]), comparison_id=c["id"])
    groups = list(clusters.values())
    outcomes = sorted((o for g in groups for o in g), key=lambda o: o.comparison_id)  # Elo: the order they were logged

    def flat(sample: list[list]) -> list:
        return [o for g in sample for o in g]

    point = elo(outcomes, bots)
    elo_samples = bootstrap(groups, lambda s: elo(flat(s), bots), rounds=rounds, seed=seed)
    shown, picked, flagged, lengths = Counter(), Counter(), Counter(), defaultdict(list)
    for c in cands.values():
        lengths[c["model"]].append(len(c["text"]))
        flagged[c["model"]] += bool((c.get("meta") or {}).get("reply_screen"))
    for c in comps:
        if c["status"] == "ok":
            shown.update(cands[i]["model"] for i in c["candidate_ids"] if i in cands)
            if c["winner_id"] in cands:
                picked[cands[c["winner_id"]]["model"]] += 1
    rows = []
    for bot in bots:
        row: dict[str, Any] = {
            "bot": bot, "reference": bot == reference, "elo": round(point[bot], 1),
            "elo_ci": _rounded(interval_of([s[bot] for s in elo_samples]), 1),
            "candidates": len(lengths[bot]), "mean_length": round(sum(lengths[bot]) / len(lengths[bot]), 1) if lengths[bot] else None,
            "shown": shown[bot], "picked": picked[bot], "pick_rate": round(picked[bot] / shown[bot], 3) if shown[bot] else None,
            "flagged": flagged[bot],  # replies the reply screen flagged
            "games": 0, "win_rate": None, "win_rate_ci": [None, None], "lc_win_rate": None, "lc_win_rate_ci": [None, None],
        }
        if bot != reference:
            bot_groups = [g for g in (against(grp, bot, reference) for grp in groups) if g]
            games = [x for g in bot_groups for x in g]
            row["games"] = len(games)
            row["win_rate"] = _r(win_rate([g[0] for g in games]))
            row["win_rate_ci"] = _rounded(interval_of(bootstrap(bot_groups, lambda s: win_rate([x[0] for g in s for x in g]),
                                                                 rounds=rounds, seed=seed)))
            row["lc_win_rate"] = _r(length_controlled_win_rate(games))
            row["lc_win_rate_ci"] = _rounded(interval_of(bootstrap(bot_groups, lambda s: length_controlled_win_rate([x for g in s for x in g]),
                                                                    rounds=rounds, seed=seed)))
        rows.append(row)
    return {
        "judge": judge_name, "reference": reference, "sessions": len(sessions), "comparisons": len(comps),
        "failed_comparisons": sum(1 for c in comps if c["status"] != "ok"), "outcomes": len(outcomes), "rounds": rounds, "bots": rows,
    }


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _rounded(pair: tuple[float | None, float | None], digits: int = 3) -> list[float | None]:
    return [_r(pair[0], digits), _r(pair[1], digits)]


# --- report ------------------------------------------------------------------------------------


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _ci(pair: list, digits: int = 3) -> str:
    return "-" if pair[0] is None else f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def table_rows(stats: dict) -> list[list[str]]:
    return [[
        r["bot"] + (" (ref)" if r["reference"] else ""), _fmt(r["elo"], 1), _ci(r["elo_ci"], 1), _fmt(r["win_rate"]), _ci(r["win_rate_ci"]),
        _fmt(r["lc_win_rate"]), _ci(r["lc_win_rate_ci"]), str(r["games"]), _fmt(r["pick_rate"]), _fmt(r["mean_length"], 1),
        str(r.get("flagged", 0)),
    ] for r in stats["bots"]]


COLUMNS = ["bot", "Elo", "Elo 95% CI", "win rate", "95% CI", "LC win rate", "95% CI", "games", "pick rate", "mean length", "flagged"]
TERMINAL_COLUMNS = ["bot", "Elo [95% CI]", "win rate [95% CI]", "LC win rate [95% CI]", "games", "picked", "length", "flagged"]


def terminal_rows(stats: dict) -> list[list[str]]:
    """The results table compacted for a terminal: each value with its interval in one cell."""
    def with_ci(x, pair, digits):
        return "-" if x is None else f"{x:.{digits}f} {_ci(pair, digits)}"

    return [[
        r["bot"] + (" (ref)" if r["reference"] else ""), with_ci(r["elo"], r["elo_ci"], 0), with_ci(r["win_rate"], r["win_rate_ci"], 2),
        with_ci(r["lc_win_rate"], r["lc_win_rate_ci"], 2), str(r["games"]), _fmt(r["pick_rate"], 2), _fmt(r["mean_length"], 0),
        str(r.get("flagged", 0)),
    ] for r in stats["bots"]]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(stats: dict, out_dir: str | Path, *, plot: bool = True) -> dict[str, str]:
    """``report.md`` (and ``arena.png`` with ``plot``) in ``out_dir``, each written to a temporary file and moved into place."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PsyagentsError(f"--out: cannot create '{out}': {exc}") from None
    files = {}
    if plot:
        png = out / "arena.png"
        _atomic_write(png, lambda p: plot_arena(stats, p))
        files["plot"] = str(png)
    md = out / "report.md"
    _atomic_write(md, lambda p: p.write_text(markdown_report(stats, plot_file="arena.png" if plot else None), encoding="utf-8"))
    files["report"] = str(md)
    return files


def markdown_report(stats: dict, *, plot_file: str | None = "arena.png") -> str:
    cfg = stats["config"]
    lines = [
        "# Arena report", "",
        f"Run `{stats['run_id']}` in `{stats['db']}`: {len(cfg['bots'])} bots, {len(cfg['personas'])} personas, "
        f"up to {cfg['turns']} counsellor turns each, judged by `{stats['judge']}` ({cfg['protocol']}).", "",
        "| setting | value |", "|---|---|",
        f"| bots | {', '.join(f'`{b}`' for b in cfg['bots'])} |",
        f"| reference | `{cfg['reference']}` |",
        f"| judge | `{stats['judge']}` |", f"| protocol | {cfg['protocol']} |",
        f"| client model | `{cfg['client']}` |", f"| personas | {', '.join(cfg['personas'])} |",
        f"| style | {cfg['style']} |", f"| continue with | {cfg['continue_with']} |", f"| seed | {cfg['seed']} |",
        f"| comparisons | {stats['comparisons']} ({stats['failed_comparisons']} failed), {stats['outcomes']} pairwise outcomes |", "",
        "## Results", "",
        "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table_rows(stats)]
    if plot_file:
        lines += ["", f"![Win rates and Elo]({plot_file})"]
    lines += [
        "", "## Method", "",
        "Every pick is turned into pairwise outcomes: the picked reply beats each other reply shown; a tie is half a win for each "
        "pair; failed choices are left out. **Win rate** against the reference counts wins plus half the ties. The "
        "**length-controlled (LC) win rate** fits a logistic regression of the outcome on the length difference (characters, "
        f"divided by its root mean square; an L2 penalty of 1 on both coefficients) and reports the win rate at equal length. "
        f"**Elo** is the online update (K = 16, start 1000) over the outcomes in the order they were logged. The 95% intervals "
        f"are percentile intervals from {stats['rounds']} bootstrap resamples of the judged candidate sets (the showings of the same "
        "replies at one turn, e.g. a pair in both orders, are resampled together). **Pick rate** is how often a bot's "
        "reply was picked when shown. **Flagged** counts a bot's replies that the reply screen flagged (a diagnosis, "
        "medication advice, harmful instructions, agreeing with self-harm); they were judged as written.", "",
    ]
    return "\n".join(lines)


def _label(bot: str, width: int = 28) -> str:
    """A bot's name short enough for an axis: long model strings (file paths) keep their end."""
    return bot if len(bot) <= width else "…" + bot[-(width - 1):]


def plot_arena(stats: dict, path: Path) -> None:
    """Win rates against the reference (raw and length-controlled) and Elo, with their 95% intervals, as a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise PsyagentsError("the arena plot needs matplotlib: pip install 'psyagents[eval]' (or pass --no-plot)") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rows = stats["bots"]
    others = [r for r in rows if not r["reference"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 0.6 * len(rows) + 2.4))
    try:
        ys = list(range(len(others)))
        for offset, key, label in ((-0.15, "win_rate", "win rate"), (0.15, "lc_win_rate", "length-controlled")):
            pts = [(y + offset, r[key], r[key + "_ci"]) for y, r in zip(ys, others) if r[key] is not None]
            if pts:
                err = [[p[1] - (p[2][0] if p[2][0] is not None else p[1]) for p in pts],
                       [(p[2][1] if p[2][1] is not None else p[1]) - p[1] for p in pts]]
                ax1.errorbar([p[1] for p in pts], [p[0] for p in pts], xerr=err, fmt="o", capsize=3, label=label)
        ax1.axvline(0.5, color="grey", linestyle="--", linewidth=1)
        ax1.set_yticks(ys, [_label(r["bot"]) for r in others])
        ax1.set_xlim(0, 1)
        ax1.set_xlabel(f"win rate against {stats['reference']}")
        ax1.legend(loc="best", fontsize=8)
        ys2 = list(range(len(rows)))
        err2 = [[r["elo"] - (r["elo_ci"][0] if r["elo_ci"][0] is not None else r["elo"]) for r in rows],
                [(r["elo_ci"][1] if r["elo_ci"][1] is not None else r["elo"]) - r["elo"] for r in rows]]
        ax2.errorbar([r["elo"] for r in rows], ys2, xerr=err2, fmt="s", capsize=3, color="tab:green")
        ax2.set_yticks(ys2, [_label(r["bot"]) + (" (ref)" if r["reference"] else "") for r in rows])
        ax2.set_xlabel("Elo (95% bootstrap interval)")
        fig.suptitle(f"Arena: judged by {stats['judge']}")
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
