"""``psyagents simulate`` (concurrent, resumable batches) and ``psyagents runs list|show`` (see ``psyagents.simulate``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from psyagents.hookspecs import hookimpl

DB_HELP = "Trace database."


def _bad(param: click.Parameter, exc: Exception) -> click.BadParameter:
    return click.BadParameter(str(exc), param=param)


def _names(param: click.Parameter, value: str, get: str, what: str) -> str:
    """A comma-separated list of names, each checked with ``registry.<get>`` (which raises on an unknown one)."""
    from psyagents import registry
    from psyagents.errors import PsyagentsError

    try:
        names = [v.strip() for v in value.split(",") if v.strip()]
        if not names:
            raise PsyagentsError(f"give {what} separated by commas")
        for name in names:
            getattr(registry, get)(name)
    except PsyagentsError as exc:
        raise _bad(param, exc) from None
    return ",".join(names)


def _check_personas(ctx, param, value: str) -> str:
    return "all" if value.strip() == "all" else _names(param, value, "get_persona", "'all' or persona ids")


def _check_styles(ctx, param, value: str) -> str:
    return _names(param, value, "get_style", "style names")


def _check_model(ctx, param, value: str) -> str:
    from psyagents.errors import PsyagentsError, unknown
    from psyagents.models import parse_model_spec, providers

    try:
        spec = parse_model_spec(value)
        available = providers()
        if spec.provider not in available:
            raise unknown("model provider", spec.provider, available)
    except PsyagentsError as exc:
        raise _bad(param, exc) from None
    return value


def _check_graph(ctx, param, value: str) -> str:
    from psyagents.errors import PsyagentsError
    from psyagents.registry import get_graph_spec

    try:
        get_graph_spec(value)
    except PsyagentsError as exc:
        raise _bad(param, exc) from None
    return value


def _check_limits(ctx, param, value: tuple[str, ...]) -> dict[str, int]:
    from psyagents.errors import PsyagentsError
    from psyagents.simulate import parse_limits

    try:
        return parse_limits(list(value))
    except PsyagentsError as exc:
        raise _bad(param, str(exc).removeprefix("limits: ")) from None


class _Bar:
    """The live progress bar: sessions done/failed, turns per second, ETA."""

    def __init__(self, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("failed [red]{task.fields[failed]}[/red]"), TextColumn("{task.fields[rate]:.1f} turns/s"),
            TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
            console=console, disable=not console.is_terminal, refresh_per_second=4,
        )
        self.task = None
        self.started = False

    # The bar (and rich's refresh thread) starts with the first report, not on entry: by then
    # simulate(workers=N) has forked its workers, which is only safe while no other thread runs.
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc) if self.started else None

    def __call__(self, p) -> None:
        if not self.started:
            self.progress.__enter__()
            self.started = True
        if self.task is None:
            self.task = self.progress.add_task(f"run {p.run_id}", total=p.total, failed=0, rate=0.0, eta="-")
        finished_here = p.completed + p.failed
        left = p.total - p.done
        eta = "-"
        if finished_here and left:
            seconds = p.elapsed / finished_here * left  # the observed pace already reflects the concurrency
            eta = f"{int(seconds // 60)}:{int(seconds % 60):02d}"
        elif not left:
            eta = "0:00"
        self.progress.update(self.task, completed=p.done, failed=p.failed, rate=p.turns_per_second, eta=eta)


@hookimpl(trylast=True)
def register_commands(cli):
    from psyagents.cli import command_group, err_console

    @cli.command("simulate")
    @click.option("--personas", default="all", show_default=True, callback=_check_personas,
                  help="'all' or persona ids separated by commas.")
    @click.option("--styles", default="integrative", show_default=True, callback=_check_styles,
                  help="Therapy styles separated by commas.")
    @click.option("--sessions-per-persona", default=1, show_default=True, type=click.IntRange(min=1),
                  help="Sessions for each persona and style.")
    @click.option("--concurrency", default=8, show_default=True, type=click.IntRange(min=1), help="Sessions running at once.")
    @click.option("--counselor", default="local:smollm2", show_default=True, callback=_check_model, help="Counsellor model, PROVIDER:NAME.")
    @click.option("--client", default="local:smollm2", show_default=True, callback=_check_model, help="Client model, PROVIDER:NAME.")
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help=DB_HELP)
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
                  help="Base seed; each session's seed derives from it and the session's key.")
    @click.option("--max-turns", default=8, show_default=True, type=click.IntRange(min=1), help="Counsellor turns at most per session.")
    @click.option("--graph", default="default", show_default=True, callback=_check_graph, help="Session graph id or path.")
    @click.option("--retries", default=2, show_default=True, type=click.IntRange(min=0),
                  help="Retries of a failing session (from its last checkpoint) before it is recorded as failed.")
    @click.option("--limit", "limits", multiple=True, metavar="SPEC=N", callback=_check_limits,
                  help="At most N model requests in flight for a provider (openai=16) or a model string; repeatable.")
    @click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
                  help="Processes to split the batch between (one core each); --concurrency and --limit are divided between them.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def simulate_cmd(personas, styles, sessions_per_persona, concurrency, counselor, client, db, seed, max_turns, graph,
                     retries, limits, workers, as_json):
        """Run many sessions concurrently; re-running the same command resumes the batch."""
        from psyagents.simulate import simulate

        bar = _Bar(err_console)
        try:
            with bar:
                result = simulate(
                    personas, styles, sessions_per_persona, concurrency=concurrency, counselor=counselor, client=client,
                    db=db, seed=seed, max_turns=max_turns, graph=graph, retries=retries, limits=limits, on_progress=bar,
                    workers=workers,
                )
        except KeyboardInterrupt:
            err_console.print("\nInterrupted. Every finished turn is saved; run the same command again to resume the batch.")
            sys.exit(130)
        if as_json:
            from psyagents.cli import _json

            _json({k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()})
        else:
            rate = result.turns / result.elapsed if result.elapsed else 0.0
            click.echo(
                f"Run {result.run_id}: {result.total} sessions: {result.completed} completed now, {result.skipped} already done, "
                f"{result.failed} failed; {result.turns} turns in {result.elapsed:.1f} s ({rate:.1f} turns/s). "
                f"Database: {Path(db).resolve()}"
            )
            for s in [s for s in result.sessions if s["status"] == "failed"][:5]:
                click.echo(f"  failed {s['id']} ({s['key']}): {s['error'] or ''}")
            if result.failed:
                click.echo(f"Re-run the same command to retry the failed sessions; details: psyagents runs show {result.run_id} --db {db}")
        if result.failed:
            sys.exit(1)

    runs = command_group(cli, "runs", "Batch runs recorded in the trace store (simulate, arena, judge ...).")

    @runs.command("list")
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help=DB_HELP)
    @click.option("--kind", default=None, help="Only runs of this kind (simulate, arena ...).")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def runs_list(db, kind, as_json):
        """List batch runs, newest first."""
        from psyagents.cli import _json, _table
        from psyagents.tracing import open_existing

        store = open_existing(db)
        try:
            rows = store.runs(kind)
        finally:
            store.close()
        if as_json:
            _json(rows)
            return
        _table(["id", "kind", "status", "created", "sessions", "summary"],
               [[r["id"], r["kind"], r["status"], (r["created_at"] or "")[:19], r["n_sessions"],
                 ", ".join(f"{k} {v}" for k, v in r["summary"].items() if k in ("completed", "skipped", "failed", "turns"))]
                for r in rows])

    @runs.command("show")
    @click.argument("run_id")
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help=DB_HELP)
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def runs_show(run_id, db, as_json):
        """Show one run: its configuration, how many sessions are in each status, and the sessions."""
        from psyagents.cli import _json, _table, console
        from psyagents.tracing import open_existing

        store = open_existing(db)
        try:
            run = store.run(run_id)
            sessions = [dict(r) for r in store.db.query(
                "select s.id, s.key, s.persona_id, s.style, s.status, s.end_reason, s.error, s.seed, "
                "(select count(*) from turns t where t.session_id = s.id) as n_turns "
                "from sessions s where s.run_id = ? order by s.created_at", [run_id])]
        finally:
            store.close()
        counts: dict[str, int] = {}
        for s in sessions:
            counts[s["status"]] = counts.get(s["status"], 0) + 1
        if as_json:
            _json({"run": run, "status_counts": counts, "sessions": sessions})
            return
        console.print(f"[bold]Run {run['id']}[/bold] · {run['kind']} · {run['status']} · created {run['created_at'][:19]} · updated {run['updated_at'][:19]}")
        for key, value in (run["config"] or {}).items():
            console.print(f"  {key}: {value}")
        for resume in run["resumes"]:
            changed = [f"{k} {a} -> {b}" for part in ("config", "versions") for k, (a, b) in resume[part].items()]
            console.print(f"  resumed {resume['at'][:19]}: " + ("; ".join(changed) or "same configuration"))
        console.print("sessions: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
        if run["summary"]:
            console.print("last summary: " + ", ".join(f"{k} {v}" for k, v in run["summary"].items()))
        _table(["id", "persona", "style", "status", "end", "turns", "error"],
               [[s["id"], s["persona_id"], s["style"], s["status"], s["end_reason"], s["n_turns"], (s["error"] or "")[:60]] for s in sessions])
