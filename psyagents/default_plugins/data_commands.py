"""``psyagents export sft`` and ``psyagents import sharegpt``: training data from and into traces (see ``psyagents.export``)."""

from __future__ import annotations

from pathlib import Path

import click

from psyagents.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_exporters(register):
    from psyagents.export import export_sft

    register("sft", export_sft, description="SFT dataset (LLaMA-Factory ShareGPT or TRL messages) with train/validation/test splits")


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
    def export_sft_cmd(db, fmt, out, min_turns, end_reasons, styles, personas, exclude_flagged, no_dedupe, scrub, seed):
        """Export completed sessions as a supervised fine-tuning dataset (train/validation/test JSON lines)."""
        from psyagents.export import export_sft

        card = export_sft(
            db, out, format=fmt, min_turns=min_turns, end_reasons=list(end_reasons) or None, styles=list(styles) or None,
            personas=list(personas) or None, safety="exclude" if exclude_flagged else "keep", dedupe=not no_dedupe,
            scrub=scrub, seed=seed,
        )
        counts = card["counts"]
        skipped = ", ".join(f"{k} {n}" for k, n in card["skipped"].items()) or "none"
        click.echo(f"Exported {card['sessions_exported']} of {card['sessions_total']} sessions ({fmt}): "
                   f"train {counts['train']}, validation {counts['validation']}, test {counts['test']}; skipped: {skipped}")
        names = ", ".join(f"{s}.jsonl" for s in ("train", "validation", "test"))
        click.echo(f"Files in {Path(card['out_dir'])}: {names}, dataset_info.json, README.md (dataset card)")

    @import_group.command("sharegpt")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")
    def import_sharegpt_cmd(file, db):
        """Import a ShareGPT JSON file (messages role/content, or conversations from/value) as completed sessions."""
        from psyagents.export import import_sharegpt

        n = import_sharegpt(file, db)
        click.echo(f"Imported {n} dialogues from {file} into {Path(db).resolve()}")
