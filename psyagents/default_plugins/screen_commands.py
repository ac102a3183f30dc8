"""``psyagents safety screen``: screen one message, or measure the screen on a labelled file.

Both forms run every registered safety check (``psyagents.safety.safety_checks()``):
the rules always, plus the classifier and LLM assessor when their environment
variables switch them on. The highest level wins, as in a session.

Labelled files are JSON lines ``{"text": ..., "risk": LEVEL}`` (other keys are
ignored), like ``psyagents/safety_data/screen-*.jsonl``. The figures:

* ``recall_high`` - of the messages labelled high or imminent, the share screened high or above;
* ``recall_moderate`` - of those labelled moderate or above, the share screened moderate or above;
* ``fpr_none`` - of those labelled none, the share screened anything above none;
* ``confusion`` - ``confusion[label][screened]`` counts;
* ``per_level`` - for each label: how many, screened exactly, at least, and below it.

A figure whose denominator is empty is ``null`` in JSON and ``n/a`` in the table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from psyagents.hookspecs import hookimpl

LANGUAGES = ("en", "zh")


def screen_all(text: str, language: str | None = None) -> tuple[Any, list[tuple[Any, Any]]]:
    """(combined assessment, [(check, its own assessment), ...]) for one message."""
    from psyagents.risk import RiskAssessment
    from psyagents.safety import safety_checks

    results = [(check, check.screen(text, language=language)) for check in safety_checks()]
    return RiskAssessment.combine([r for _, r in results]), results


def read_labelled(path: Path) -> list[dict[str, str]]:
    """The ``text`` and ``risk`` of every line; a bad line is a one-line error naming file, line and field."""
    from psyagents.errors import PsyagentsError
    from psyagents.risk import RISK_LEVELS

    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PsyagentsError(f"labelled file '{path}' not found") from None
    except IsADirectoryError:
        raise PsyagentsError(f"labelled file '{path}' is a directory") from None
    except UnicodeDecodeError as exc:
        raise PsyagentsError(f"labelled file '{path}' is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise PsyagentsError(f"labelled file '{path}' cannot be read: {exc.strerror}") from None
    rows = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PsyagentsError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise PsyagentsError(f"{where}: expected a JSON object with 'text' and 'risk', got {type(row).__name__}")
        text, risk = row.get("text"), row.get("risk")
        if not isinstance(text, str):
            problem = "missing" if "text" not in row else f"must be a string, got {type(text).__name__}"
            raise PsyagentsError(f"{where}: field 'text' {problem}")
        if risk not in RISK_LEVELS:
            problem = "missing" if "risk" not in row else f"is {risk!r}"
            raise PsyagentsError(f"{where}: field 'risk' {problem}; expected one of {', '.join(RISK_LEVELS)}")
        rows.append({"text": text, "risk": risk})
    if not rows:
        raise PsyagentsError(f"labelled file '{path}' has no labelled lines")
    return rows


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def metrics(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Figures for (label, screened level) pairs; see the module docstring."""
    from psyagents.risk import RISK_LEVELS, level_index

    idx = level_index
    confusion = {gold: {got: 0 for got in RISK_LEVELS} for gold in RISK_LEVELS}
    for gold, got in pairs:
        confusion[gold][got] += 1
    high = [got for gold, got in pairs if idx(gold) >= idx("high")]
    moderate = [got for gold, got in pairs if idx(gold) >= idx("moderate")]
    none = [got for gold, got in pairs if gold == "none"]
    per_level = {}
    for level in RISK_LEVELS:
        got = [g for gold, g in pairs if gold == level]
        per_level[level] = {
            "n": len(got),
            "exact": sum(g == level for g in got),
            "at_least": sum(idx(g) >= idx(level) for g in got),
            "below": sum(idx(g) < idx(level) for g in got),
        }
    return {
        "n": len(pairs),
        "recall_high": _share(sum(idx(g) >= idx("high") for g in high), len(high)),
        "recall_moderate": _share(sum(idx(g) >= idx("moderate") for g in moderate), len(moderate)),
        "fpr_none": _share(sum(g != "none" for g in none), len(none)),
        "confusion": confusion,
        "per_level": per_level,
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_metrics(figures: dict[str, Any], files: list[str]) -> None:
    from rich.table import Table

    from psyagents.cli import console
    from psyagents.risk import RISK_LEVELS

    per = figures["per_level"]
    high_n = per["high"]["n"] + per["imminent"]["n"]
    moderate_n = high_n + per["moderate"]["n"]
    click.echo(f"{', '.join(files)}: n={figures['n']}")
    click.echo(f"recall high+imminent (screened high or above): {_fmt(figures['recall_high'])} of {high_n}")
    click.echo(f"recall moderate and above (screened moderate or above): {_fmt(figures['recall_moderate'])} of {moderate_n}")
    click.echo(f"false-positive rate on none (screened above none): {_fmt(figures['fpr_none'])} of {per['none']['n']}")
    table = Table("label \\ screened", *RISK_LEVELS, "n", title="Confusion matrix")
    for gold in RISK_LEVELS:
        row = figures["confusion"][gold]
        table.add_row(gold, *[str(row[got]) for got in RISK_LEVELS], str(per[gold]["n"]))
    console.print(table)


@hookimpl(trylast=True)
def register_commands(cli):
    from psyagents.cli import command_group

    group = command_group(cli, "safety", "Risk screening and crisis-handling evaluation.")

    @group.command("screen")
    @click.argument("text", required=False)
    @click.option("--labelled", "labelled", multiple=True, type=click.Path(path_type=Path, dir_okay=True),
                  metavar="FILE.jsonl", help='Measure the screen on JSON lines {"text": ..., "risk": LEVEL} (repeatable; files are pooled).')
    @click.option("--language", type=click.Choice(LANGUAGES), help="Language hint passed to the checks.")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def screen_cmd(text, labelled, language, as_json):
        """Screen TEXT for risk with every registered check, or measure the screen on --labelled files."""
        if text is not None and labelled:
            raise click.UsageError("give either TEXT or --labelled, not both")
        if text is None and not labelled:
            raise click.UsageError("give TEXT to screen, or --labelled FILE.jsonl")
        if labelled:
            rows = [row for path in labelled for row in read_labelled(path)]
            pairs = [(row["risk"], screen_all(row["text"], language)[0].level) for row in rows]
            figures = metrics(pairs)
            if as_json:
                click.echo(json.dumps(figures, ensure_ascii=False, indent=2))
            else:
                _print_metrics(figures, [str(p) for p in labelled])
            return
        combined, results = screen_all(text, language)
        if as_json:
            data = combined.model_dump()
            data["layers"] = [{"check": check.name, **r.model_dump()} for check, r in results]
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        click.echo(f"level: {combined.level}")
        click.echo(f"categories: {', '.join(combined.categories) or '-'}")
        if combined.level == "none":
            click.echo(f"decided by: no layer found risk ({len(results)} checks ran)")
        else:
            click.echo(f"decided by: {combined.layer}")
        click.echo("evidence: " + ("; ".join(f'"{e}"' for e in combined.evidence) or "-"))
        for check, r in results:
            click.echo(f"  {check.name} ({check.layer}): {r.level}" + (f" - {', '.join(r.categories)}" if r.categories else ""))
