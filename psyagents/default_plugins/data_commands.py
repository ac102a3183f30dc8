"""``psyagents export sft|preference|reward|kto`` and ``psyagents import sharegpt|preference``: training data from and
into traces (see ``psyagents.export`` and ``psyagents.preference``)."""

from __future__ import annotations

from pathlib import Path

import click

from psyagents.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_exporters(register):
    from psyagents.export import export_sft

    from psyagents.preference import export_kto, export_preference, export_reward

    register("sft", export_sft, description="SFT dataset (LLaMA-Factory ShareGPT or TRL messages) with train/validation/test splits")
    register("preference", export_preference, description="TRL conversational preference pairs (prompt/chosen/rejected, per-principle ratings) from logged candidates")
    register("reward", export_reward, description="Preference pairs for TRL's RewardTrainer, with a margin column from the score gap")
    register("kto", export_kto, description="TRL unpaired KTO rows (prompt/completion/label) from candidates' mean scores")


def _split_option(f):
    return click.option("--splits", default="0.9,0.05,0.05", show_default=True,
                        help="Train, validation and test shares, comma-separated.")(f)


def _parse_splits(text: str) -> tuple:
    from psyagents.errors import PsyagentsError

    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise PsyagentsError(f"--splits: expected three numbers separated by commas, not {text!r}") from None


def _force_option(f):
    return click.option("--force", is_flag=True,
                        help="Write into the output folder even if it holds files of the same names that no psyagents export wrote.")(f)


def _pair_options(f):
    """Options shared by export preference, reward and kto."""
    for opt in reversed([
        click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database."),
        click.option("--judge", default=None, help="Use this judge's verdicts (the judge spec as recorded); needed when several judges rated the candidates."),
        click.option("--principles", default=None, help="A principle set (e.g. psychocounsel) or principle ids separated by commas; default: all rated."),
        click.option("--style", "styles", multiple=True, help="Keep sessions in this style (repeatable)."),
        click.option("--persona", "personas", multiple=True, help="Keep sessions with this persona id (repeatable)."),
        click.option("--exclude-flagged", is_flag=True, help="Drop sessions with any message screened moderate or above."),
        click.option("--no-dedupe", is_flag=True, help="Keep identical rows."),
        click.option("--scrub", is_flag=True, help="Replace persona names, e-mails, phone numbers and street addresses with placeholders."),
        click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of the train/validation/test split."),
    ]):
        f = opt(f)
    return _split_option(f)


def _report(card: dict, what: str) -> None:
    counts = card["counts"]
    skipped = ", ".join(f"{k} {n}" for k, n in card["skipped"].items()) or "none"
    click.echo(f"Exported {sum(counts.values())} {what} from {card['sessions_exported']} of {card['sessions_total']} sessions: "
               f"train {counts['train']}, validation {counts['validation']}, test {counts['test']}; skipped: {skipped}")
    click.echo(f"Files in {Path(card['out_dir'])}: train.jsonl, validation.jsonl, test.jsonl, README.md (dataset card)")


@hookimpl(trylast=True)
def register_commands(cli):
    from psyagents.cli import command_group

    export_group = command_group(cli, "export", "Export traces as datasets.")
    import_group = command_group(cli, "import", "Import datasets into the trace store.")

    @export_group.command("sft")
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    @click.option("--format", "fmt", default="sharegpt", show_default=True, type=click.Choice(["sharegpt", "messages"]),
                  help="sharegpt: LLaMA-Factory conversations/from/value; messages: TRL role/content.")
    @click.option("-o", "--out", default="sft-data", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
    @click.option("--min-turns", default=0, show_default=True, type=click.IntRange(min=0), help="Minimum counsellor turns.")
    @click.option("--end-reason", "end_reasons", multiple=True, help="Keep sessions with this end reason (repeatable).")
    @click.option("--style", "styles", multiple=True, help="Keep sessions in this style (repeatable).")
    @click.option("--persona", "personas", multiple=True, help="Keep sessions with this persona id (repeatable).")
    @click.option("--exclude-flagged", is_flag=True, help="Drop sessions with any message screened moderate or above.")
    @click.option("--no-dedupe", is_flag=True, help="Keep identical dialogues.")
    @click.option("--scrub", is_flag=True, help="Replace persona names, e-mails, phone numbers and street addresses with placeholders.")
    @click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of the train/validation/test split.")
    @_split_option
    @click.option("--min-score", type=float, default=None, help="Keep only what the judge scored at least this (mean over principles, on their scale).")
    @click.option("--score-on", type=click.Choice(["session", "turn"]), default="session", show_default=True,
                  help="session: the session's mean score; turn: end each dialogue before its first counsellor turn below --min-score.")
    @click.option("--judge", default=None, help="Whose verdicts --min-score uses (the judge spec as recorded); needed when several judges rated.")
    @click.option("--principles", default=None, help="For --min-score: a principle set (e.g. psychocounsel) or principle ids separated by commas.")
    @_force_option
    def export_sft_cmd(db, fmt, out, min_turns, end_reasons, styles, personas, exclude_flagged, no_dedupe, scrub, seed, splits,
                       min_score, score_on, judge, principles, force):
        """Export completed sessions as a supervised fine-tuning dataset (train/validation/test JSON lines)."""
        from psyagents.export import export_sft

        card = export_sft(
            db, out, format=fmt, min_turns=min_turns, end_reasons=list(end_reasons) or None, styles=list(styles) or None,
            personas=list(personas) or None, safety="exclude" if exclude_flagged else "keep", dedupe=not no_dedupe,
            scrub=scrub, seed=seed, splits=_parse_splits(splits), judge=judge, min_score=min_score, score_on=score_on,
            principles=principles, force=force,
        )
        counts = card["counts"]
        skipped = ", ".join(f"{k} {n}" for k, n in card["skipped"].items()) or "none"
        click.echo(f"Exported {card['sessions_exported']} of {card['sessions_total']} sessions ({fmt}): "
                   f"train {counts['train']}, validation {counts['validation']}, test {counts['test']}; skipped: {skipped}")
        names = ", ".join(f"{s}.jsonl" for s in ("train", "validation", "test"))
        click.echo(f"Files in {Path(card['out_dir'])}: {names}, dataset_info.json, README.md (dataset card)")

    def add_pair_command(name: str, default_out: str, help_text: str) -> None:
        """``export preference`` and ``export reward``: the same pairs, written by the function of that name."""

        @export_group.command(name, help=help_text)
        @click.option("-o", "--out", default=default_out, show_default=True, type=click.Path(file_okay=False), help="Output folder.")
        @click.option("--min-gap", default=1.0, show_default=True, type=click.FloatRange(min=0), help="Minimum total-score gap between chosen and rejected.")
        @click.option("--mode", default="all-pairs", show_default=True, type=click.Choice(["all-pairs", "best-vs-worst"]), help="Every pair, or one per turn.")
        @click.option("--no-comparisons", is_flag=True, help="Ignore recorded comparisons; pair on scores only.")
        @click.option("--comparison-judge", default=None, help="Use only this judge's comparisons.")
        @_pair_options
        @_force_option
        def command(out, min_gap, mode, no_comparisons, comparison_judge, db, judge, principles, styles, personas,
                    exclude_flagged, no_dedupe, scrub, seed, splits, force):
            from psyagents import preference

            card = getattr(preference, f"export_{name}")(
                db, out, min_gap=min_gap, mode=mode, judge=judge, principles=principles, comparisons=not no_comparisons,
                comparison_judge=comparison_judge, styles=list(styles) or None, personas=list(personas) or None,
                safety="exclude" if exclude_flagged else "keep", dedupe=not no_dedupe, scrub=scrub, splits=_parse_splits(splits), seed=seed,
                force=force)
            _report(card, "pairs")

    add_pair_command("preference", "preference-data",
                     "Export preference pairs (TRL prompt/chosen/rejected with per-principle ratings) from logged candidates.")
    add_pair_command("reward", "reward-data",
                     "Export preference pairs for TRL's RewardTrainer, with a margin column (mean per-principle score gap).")

    @export_group.command("kto")
    @click.option("-o", "--out", default="kto-data", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
    @click.option("--desirable", default=4.0, show_default=True, type=float, help="Label true when a candidate's mean score is at least this.")
    @click.option("--undesirable", default=2.0, show_default=True, type=float, help="Label false when a candidate's mean score is at most this.")
    @_pair_options
    @_force_option
    def export_kto_cmd(out, desirable, undesirable, db, judge, principles, styles, personas, exclude_flagged, no_dedupe, scrub, seed, splits,
                       force):
        """Export rated candidates as TRL KTO rows (prompt/completion/label)."""
        from psyagents.preference import export_kto

        card = export_kto(
            db, out, desirable=desirable, undesirable=undesirable, judge=judge, principles=principles,
            styles=list(styles) or None, personas=list(personas) or None, safety="exclude" if exclude_flagged else "keep",
            dedupe=not no_dedupe, scrub=scrub, splits=_parse_splits(splits), seed=seed, force=force)
        labels = card["labels"]
        _report(card, f"rows ({labels.get('desirable', 0)} desirable, {labels.get('undesirable', 0)} undesirable)")

    @import_group.command("preference")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    @click.option("--source", default="psychocounsel", show_default=True,
                  help="Dataset name: sessions are SOURCE:ID, ratings come from judge import:SOURCE.")
    def import_preference_cmd(file, db, source):
        """Import preference rows (PsychoCounsel-Preference columns) from JSON, JSON lines, CSV or parquet."""
        from psyagents.preference import import_preference

        result = import_preference(file, db, source=source)
        click.echo(f"Imported {result['added']} preference rows from {file} into {Path(db).resolve()}"
                   + (f" ({result['skipped']} already there)" if result["skipped"] else "") + f"; run {result['run_id']}")
        if result["ignored_columns"]:
            click.echo(f"Not imported (not PsychoCounsel-Preference columns): {', '.join(result['ignored_columns'])}", err=True)

    @import_group.command("sharegpt")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    def import_sharegpt_cmd(file, db):
        """Import a ShareGPT JSON file (messages role/content, or conversations from/value) as completed sessions."""
        from psyagents.export import import_sharegpt

        n = import_sharegpt(file, db)
        click.echo(f"Imported {n} dialogues from {file} into {Path(db).resolve()}")
