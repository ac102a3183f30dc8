"""``psyagents safety eval``: run the at-risk personas and score the counsellor's crisis handling.

One session per persona through the default graph, then a judge rates each
session on the ``crisis`` principle set and the verdicts go into the same
database. Runs are resumable: a persona whose session for the same
configuration (counsellor, client, style, turn cap, seed) has completed is not
run again, and is judged only if this judge has no usable verdicts on it yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean
from typing import Any

import click

from psyagents.hookspecs import hookimpl

CRISIS_SET = "crisis"
GRAPH = "default"
# Display order of the shipped crisis principles; other crisis principles follow by id.
PRINCIPLE_ORDER = ("crisis-detects-risk", "crisis-probes-risk", "crisis-resources", "crisis-collaborates", "crisis-boundaries")


def _safety_group(cli: click.Group) -> click.Group:
    """The ``safety`` command group: the one already added, or a new one."""
    group = cli.commands.get("safety")
    if isinstance(group, click.Group):
        return group

    @cli.group("safety")
    def safety() -> None:
        """Safety: screening client messages and evaluating crisis handling."""

    return safety


def crisis_principles() -> list:
    from psyagents.registry import principles

    found = [p for p in principles().values() if CRISIS_SET in p.sets]
    return sorted(found, key=lambda p: (PRINCIPLE_ORDER.index(p.id) if p.id in PRINCIPLE_ORDER else len(PRINCIPLE_ORDER), p.id))


def select_personas(spec: str | None) -> list:
    """Personas named in a comma-separated list, or every persona at moderate risk or above."""
    from psyagents.errors import PsyagentsError
    from psyagents.registry import get_persona, personas
    from psyagents.risk import at_least

    if spec is None:
        return [p for p in personas().values() if at_least(p.risk.level, "moderate")]
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    if not ids:
        raise PsyagentsError(f"--personas: expected comma-separated persona ids, got {spec!r}")
    return [get_persona(i) for i in dict.fromkeys(ids)]


def _matches(config: dict, wanted: dict) -> bool:
    return all(config.get(k) == v for k, v in wanted.items())


def find_session(store, wanted: dict, statuses: tuple[str, ...]) -> str | None:
    """The newest session in ``store`` whose recorded config matches ``wanted`` and whose status is one of ``statuses``."""
    marks = ",".join("?" for _ in statuses)
    rows = list(store.db.query(  # read it all: an open cursor would hold a read snapshot
        f"select id, config from sessions where persona_id = ? and status in ({marks}) order by created_at desc",
        [wanted["persona"], *statuses],
    ))
    for row in rows:
        try:
            config = json.loads(row["config"] or "{}")
        except json.JSONDecodeError:
            continue
        if _matches(config, wanted):
            return row["id"]
    return None


def latest_verdicts(store, session_id: str, judge: str) -> dict[str, dict]:
    """This judge's newest session-level verdict per principle."""
    out: dict[str, dict] = {}
    for v in store.verdicts(session_id, judge=judge):
        if v["turn_idx"] is None:
            out[v["principle"]] = v  # rows come oldest first, so the newest wins
    return out


def evaluate(
    *, counselor: str, client: str, style: str, judge_spec: str, personas_spec: str | None, max_turns: int, db: str,
    seed: int | None, progress=None,
) -> dict[str, Any]:
    """Run (or reuse) one session per persona, judge each on the crisis principles, and summarise."""
    from psyagents.errors import PsyagentsError
    from psyagents.judging import context_for, get_judge
    from psyagents.models import get_chat_model, parse_model_spec
    from psyagents.registry import get_style
    from psyagents.session import Session, resume_session, run_session
    from psyagents.specs import Persona
    from psyagents.tracing import TraceStore

    say = progress or (lambda _msg: None)
    # Everything that can be wrong with the arguments fails here, before a session runs.
    # A new database means every session must run: the models are built now (local ones stay loaded),
    # so a model that cannot be built leaves no file behind. Over an existing database they are built
    # only if a session has to run, so re-judging stored sessions needs no model (nor its API key).
    new_db = not Path(db).exists()
    for option, value in (("--counselor", counselor), ("--client", client)):
        try:
            get_chat_model(value) if new_db else parse_model_spec(value)
        except PsyagentsError as exc:
            raise PsyagentsError(f"{option}: {exc}") from None
    style_name = get_style(style).name
    principles = crisis_principles()
    if not principles:
        raise PsyagentsError(f"no principles in the '{CRISIS_SET}' set are registered")
    chosen = select_personas(personas_spec)
    if not chosen:
        raise PsyagentsError("--personas: no persona at moderate risk or above is registered")
    judge = get_judge(judge_spec)

    rows = []
    store = TraceStore(db)
    try:
        for persona in chosen:
            wanted = {"persona": persona.id, "style": style_name, "graph": GRAPH, "counselor": counselor, "client": client,
                      "max_turns": max_turns, "seed": seed}
            session_id = find_session(store, wanted, ("completed",))
            ran = "reused"
            if session_id is None:
                interrupted = find_session(store, wanted, ("interrupted",))
                try:
                    if interrupted:
                        say(f"{persona.id}: resuming session {interrupted}")
                        session_id, ran = resume_session(interrupted, db).id, "resumed"
                    else:
                        say(f"{persona.id}: running a session")
                        session_id = run_session(persona, style_name, counselor, client, max_turns=max_turns, db=db, graph=GRAPH, seed=seed).id
                        ran = "ran"
                except PsyagentsError:
                    raise
                except Exception as exc:  # one failed session (a model error) must not lose the others
                    say(f"{persona.id}: session failed: {type(exc).__name__}: {exc}")
                    rows.append(_failed_row(persona, principles, f"{type(exc).__name__}: {exc}"))
                    continue
            else:
                say(f"{persona.id}: session {session_id} already completed")
            session = Session.load(store, session_id)
            recorded = Persona.model_validate(store.session(session_id)["persona"])
            have = latest_verdicts(store, session_id, judge.name)
            todo = [p for p in principles if p.id not in have or have[p.id]["status"] != "ok"]
            if todo:
                say(f"{persona.id}: judging with {judge.name}")
                transcript = [(t.speaker, t.text) for t in session.turns]
                store.add_verdicts(session_id, judge.rate_session(transcript, todo, context=context_for(recorded)))
                have = latest_verdicts(store, session_id, judge.name)
            rows.append({
                "persona": persona.id,
                "risk_level": recorded.risk.level,
                "max_risk": session.max_risk,
                "crisis_path": bool(store.events(session_id, "crisis")),
                "session_id": session_id,
                "session": ran,
                "status": session.status,
                "end_reason": session.end_reason,
                "error": None,
                "scores": {p.id: have[p.id]["score"] if p.id in have else None for p in principles},
                "verdicts": {
                    p.id: {k: have[p.id][k] for k in ("score", "status", "rationale", "error")} for p in principles if p.id in have
                },
            })
    finally:
        store.close()
    means = {}
    for p in principles:
        scores = [r["scores"][p.id] for r in rows if r["scores"][p.id] is not None]
        means[p.id] = round(mean(scores), 3) if scores else None
    return {
        "db": db,
        "judge": judge.name,
        "config": {"counselor": counselor, "client": client, "style": style_name, "graph": GRAPH, "max_turns": max_turns, "seed": seed},
        "principles": [p.id for p in principles],
        "rows": rows,
        "means": means,
    }


def _failed_row(persona, principles, error: str) -> dict[str, Any]:
    return {
        "persona": persona.id, "risk_level": persona.risk.level, "max_risk": None, "crisis_path": None, "session_id": None,
        "session": "failed", "status": "failed", "end_reason": None, "error": error,
        "scores": {p.id: None for p in principles}, "verdicts": {},
    }


def _fmt(score: float | None, digits: int = 0) -> str:
    if score is None:
        return "-"
    return f"{score:.{digits}f}" if digits or score != int(score) else str(int(score))


def _cell(row: dict, principle: str) -> str:
    verdict = row["verdicts"].get(principle)
    return "failed" if verdict and verdict["status"] == "failed" else _fmt(row["scores"][principle])


def print_report(report: dict) -> None:
    from rich.table import Table

    from psyagents.cli import console

    short = [p.removeprefix("crisis-") for p in report["principles"]]
    cfg = report["config"]
    table = Table("persona", "risk", "max risk", "crisis path", *short,
                  title=f"Crisis handling: {cfg['counselor']} ({cfg['style']}) with client {cfg['client']}, judged by {report['judge']}")
    for i, r in enumerate(report["rows"]):
        path = "failed" if r["error"] else ("yes" if r["crisis_path"] else "no")
        table.add_row(r["persona"], r["risk_level"], r["max_risk"] or "-", path,
                      *[_cell(r, p) for p in report["principles"]], end_section=i == len(report["rows"]) - 1)
    table.add_row("mean", "", "", "", *[_fmt(report["means"][p], 2) for p in report["principles"]])
    console.print(table)
    console.print(f"Sessions and verdicts in {report['db']}; '-' means no risk was disclosed, 'failed' a verdict that failed.")


@hookimpl(trylast=True)
def register_commands(cli):
    from psyagents.cli import err_console, json_option

    @_safety_group(cli).command("eval")
    @click.option("--counselor", default="local:smollm2", show_default=True, help="Counsellor model, PROVIDER:NAME.")
    @click.option("--client", default="local:smollm2", show_default=True, help="Client model, PROVIDER:NAME.")
    @click.option("--style", default="integrative", show_default=True, help="Therapy style (psyagents styles list).")
    @click.option("--judge", "judge_spec", default="crisis-heuristic", show_default=True,
                  help="Judge: NAME or NAME:ARG, e.g. crisis-heuristic or rubric:local:smollm2.")
    @click.option("--personas", "personas_spec", metavar="IDS",
                  help="Comma-separated persona ids [default: every persona at moderate risk or above].")
    @click.option("--max-turns", default=6, show_default=True, type=click.IntRange(min=1), help="Counsellor turns at most.")
    @click.option("--db", default="safety-eval.db", show_default=True, type=click.Path(dir_okay=False), help="Database for sessions and verdicts.")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Sampling seed.")
    @json_option
    def safety_eval(counselor, client, style, judge_spec, personas_spec, max_turns, db, seed, as_json):
        """Run the at-risk personas and score the counsellor's crisis handling (in the spirit of VERA-MH)."""
        report = evaluate(
            counselor=counselor, client=client, style=style, judge_spec=judge_spec, personas_spec=personas_spec,
            max_turns=max_turns, db=db, seed=seed, progress=None if as_json else lambda msg: err_console.print(f"[dim]{msg}[/dim]"),
        )
        if as_json:
            click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            print_report(report)
