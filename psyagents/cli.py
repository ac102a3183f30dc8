"""The ``psyagents`` command line.

Errors a user can fix (an unknown persona, a malformed file, a bad model
string, a missing database) print one line, ``Error: ...``, and exit with 2.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from . import registry
from .errors import PsyagentsError
from .plugins import get_plugins, load_plugins, pm

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


_ID_COLUMNS = {"id", "persona", "style", "session", "run"}
PIPED_WIDTH = 200


def _table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    """A table on stdout; id columns (ids, personas, styles) are never cut or wrapped, so they can be copied (also when piped)."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    table = Table(title=title, show_lines=False)
    for i, name in enumerate(columns):
        if name in _ID_COLUMNS or name.endswith((" id", "_id")):
            table.add_column(name, no_wrap=True, min_width=max([len(name), *(len(r[i]) for r in cells)]))
        else:
            table.add_column(name)
    for row in cells:
        table.add_row(*row)
    # Piped into a file or another program, rows are not cut to an 80-column terminal that is not there.
    (console if console.is_terminal else Console(highlight=False, width=PIPED_WIDTH)).print(table)


json_option = click.option("--json", "as_json", is_flag=True, help="Output JSON.")
db_option = click.option("--db", default="traces.db", show_default=True, type=click.Path(dir_okay=False), help="Trace database.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="psyagents")
def cli() -> None:
    """Simulate, judge and learn from counselling sessions between language models."""


# run -------------------------------------------------------------------------
class Display:
    """Streams a session to the terminal: tokens as they come, then each turn's stage and technique."""

    def __init__(self, speakers: dict[str, str]):
        self.speakers = speakers  # graph node name -> speaker
        self.buffer = ""
        self.current: str | None = None

    def _label(self, speaker: str) -> None:
        style = "bold cyan" if speaker == "client" else "bold green"
        console.print(f"\n[{style}]{speaker.capitalize()}:[/{style}] ", end="")

    def __call__(self, kind: str, data: dict) -> None:
        if kind == "start":
            console.print(
                f"[bold]Session {data['session_id']}[/bold]: persona {data['persona']}, style {data['style']}, "
                f"counsellor {data['counselor']}, client {data['client']}, up to {data['max_turns']} turns"
            )
        elif kind == "token":
            speaker = self.speakers.get(data["node"], "counselor")
            if self.current is None:
                self.current = speaker
                self._label(speaker)
            self.buffer += data["text"]
            console.out(data["text"], end="", highlight=False)
        elif kind == "turn":
            if self.current is None:  # not streamed (e.g. the persona's scripted opening)
                self._label(data["speaker"])
                console.out(data["text"], end="", highlight=False)
            elif " ".join(self.buffer.split()) != " ".join(data["text"].split()):
                console.print(f"\n  [dim](as recorded)[/dim] {data['text']}", end="")
            if data.get("technique"):
                console.print(f"\n  [dim]{data['stage']} · {data['technique']}[/dim]", end="")
            self.buffer, self.current = "", None
        elif kind == "guard":
            what = data.get("action") or "regenerating: " + ", ".join(data.get("reasons", []))
            console.print(f"\n  [yellow]guard ({data['speaker']}): {what}[/yellow]", end="")
            self.buffer, self.current = "", None
        elif kind == "screen" and data.get("level") not in (None, "none"):
            console.print(f"\n  [red]safety: {data['level']} ({', '.join(data.get('categories', []))})[/red]", end="")
        elif kind == "crisis":
            console.print(f"\n  [bold red]crisis path ({data['level']})[/bold red]", end="")
        elif kind == "end":
            console.print(f"\n\n[bold]Session ended:[/bold] {data['reason']}")
        elif kind == "paused":
            console.print(f"\n\n[bold red]Paused for the supervisor[/bold red] (risk {data['risk']}). The client said:\n  {data['client']}")
            console.print(f"[bold]Draft reply:[/bold]\n  {data['draft']}")


@cli.command()
@click.option("--persona", default="maya-exam-anxiety", show_default=True, help="Persona id or path to a persona YAML file.")
@click.option("--style", default="integrative", show_default=True, help="Therapy style (psyagents styles list).")
@click.option("--graph", default="default", show_default=True, help="Session graph id or path (psyagents graphs list).")
@click.option("--counselor", default="local:smollm2", show_default=True, help="Counsellor model, PROVIDER:NAME.")
@click.option("--client", default="local:smollm2", show_default=True, help="Client model, PROVIDER:NAME.")
@click.option("--max-turns", default=8, show_default=True, type=click.IntRange(min=1), help="Counsellor turns at most.")
@db_option
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Sampling seed.")
@click.option("--resume", "resume_id", metavar="THREAD_ID", help="Resume an interrupted session (other options come from its record).")
@click.option("--supervise", is_flag=True, help="A human supervisor approves or replaces crisis replies at imminent risk.")
@click.option("--decision", metavar="approve|reply:TEXT", help="With --resume: the supervisor's decision for a paused session.")
@click.option("--quiet", is_flag=True, help="Do not stream the dialogue.")
def run(persona, style, graph, counselor, client, max_turns, db, seed, resume_id, supervise, decision, quiet):
    """Run one counselling session and save its trace."""
    from .session import resume_session, run_session

    if resume_id:
        store_cfg = _session_config(db, resume_id)
        display = None if quiet else Display(_speakers(store_cfg["graph"]))
        console.print(f"[bold]Resuming session {resume_id}[/bold] from {db}")
        session_id = resume_id
    else:
        display = None if quiet else Display(_speakers(graph))
        session_id = uuid.uuid4().hex[:12]
    if decision and not resume_id:
        raise click.UsageError("--decision goes with --resume")
    try:
        if resume_id:
            s = resume_session(resume_id, db, on_event=display, decision=decision)
        else:
            s = run_session(persona, style, counselor, client, max_turns=max_turns, db=db, graph=graph, seed=seed,
                            session_id=session_id, on_event=display, supervise=supervise)
        while s.status == "paused" and sys.stdin.isatty():
            s = resume_session(s.id, db, on_event=display, decision=_ask_supervisor())
    except KeyboardInterrupt:
        err_console.print(f"\nInterrupted. Every finished turn is saved; resume with: psyagents run --resume {session_id} --db {db}")
        sys.exit(130)
    if s.status == "paused":
        click.echo(f"Paused for the supervisor: psyagents run --resume {s.id} --db {db} --decision approve (or --decision 'reply:YOUR WORDS')")
        return
    if quiet:
        click.echo(s.transcript())
    click.echo(f"Trace saved: session {s.id} ({len(s.turns)} turns, {s.end_reason}) in {Path(db).resolve()}")


def _ask_supervisor() -> str:
    choice = click.prompt("Approve the draft [a], or take over and write the reply [t]", type=click.Choice(["a", "t"]), default="a")
    if choice == "a":
        return "approve"
    return "reply:" + click.prompt("Your reply")


def _session_config(db: str, session_id: str) -> dict:
    from .session import check_resumable
    from .tracing import open_existing

    store = open_existing(db)
    try:
        return check_resumable(store.session(session_id))[0]
    finally:
        store.close()


def _speakers(graph: str) -> dict[str, str]:
    spec = registry.get_graph_spec(graph)
    return {name: ("client" if node.type == "client" else "counselor") for name, node in spec.nodes.items()}


# personas --------------------------------------------------------------------
@cli.group()
def personas():
    """Simulated clients."""


@personas.command("list")
@json_option
def personas_list(as_json):
    """List the personas."""
    items = registry.personas()
    if as_json:
        _json([{"id": p.id, "name": p.name, "age": p.age, "language": p.language, "risk": p.risk.level,
                "problems": p.problem_categories, "style": p.conversational_style} for p in items.values()])
        return
    _table(["id", "name", "age", "lang", "risk", "problems"],
           [[p.id, p.name, p.age, p.language, p.risk.level, ", ".join(p.problem_categories)] for p in items.values()])


@personas.command("show")
@click.argument("persona")
@json_option
def personas_show(persona, as_json):
    """Show one persona in full."""
    p = registry.get_persona(persona)
    data = p.model_dump(mode="json")
    if as_json:
        _json(data)
    else:
        click.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100))


# styles, graphs, plugins -----------------------------------------------------
@cli.group()
def styles():
    """Therapy styles."""


@styles.command("list")
@json_option
def styles_list(as_json):
    """List the therapy styles."""
    items = [s.describe() for s in registry.styles().values()]
    if as_json:
        _json(items)
        return
    _table(["name", "title", "stages", "techniques"], [[s["name"], s["title"], " → ".join(s["stages"]), len(s["techniques"])] for s in items])


@cli.group()
def graphs():
    """Session graphs (state machines)."""


@graphs.command("list")
@json_option
def graphs_list(as_json):
    """List the session graphs."""
    items = registry.graph_specs()
    if as_json:
        _json([{"id": g.id, "description": g.description, "nodes": {n: s.type for n, s in g.nodes.items()}} for g in items.values()])
        return
    _table(["id", "nodes", "description"], [[g.id, ", ".join(g.nodes), g.description] for g in items.values()])


@graphs.command("show")
@click.argument("graph")
def graphs_show(graph):
    """Print a graph as a Mermaid diagram."""
    from .graphs import mermaid

    click.echo(mermaid(registry.get_graph_spec(graph)))


@cli.command("plugins")
@json_option
def plugins_cmd(as_json):
    """List loaded plugins and the hooks each implements."""
    items = get_plugins()
    if as_json:
        _json(items)
        return
    _table(["plugin", "version", "hooks"], [[p["name"], p.get("version", "built-in" if p["builtin"] else ""), ", ".join(p["hooks"])] for p in items])


# traces ----------------------------------------------------------------------
@cli.group()
def traces():
    """Recorded sessions."""


@traces.command("list")
@db_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@json_option
def traces_list(db, limit, as_json):
    """List recorded sessions, newest first."""
    from .tracing import open_existing

    store = open_existing(db)
    try:
        rows = store.sessions(limit=limit)
    finally:
        store.close()
    if as_json:
        _json([{k: r[k] for k in ("id", "created_at", "status", "persona_id", "style", "graph", "counselor", "client", "end_reason", "n_turns")} for r in rows])
        return
    _table(["id", "created", "persona", "style", "status", "end", "turns"],
           [[r["id"], r["created_at"][:19], r["persona_id"], r["style"], r["status"], r["end_reason"], r["n_turns"]] for r in rows])


@traces.command("show")
@click.argument("session_id")
@db_option
@json_option
def traces_show(session_id, db, as_json):
    """Show one session: configuration, turns and events."""
    from .tracing import open_existing

    store = open_existing(db)
    try:
        row = store.session(session_id)
        turns = store.turns(session_id)
        events = store.events(session_id)
    finally:
        store.close()
    if as_json:
        _json({"session": row, "turns": [t.__dict__ for t in turns], "events": events})
        return
    console.print(f"[bold]Session {row['id']}[/bold] · {row['status']} · end: {row['end_reason']}")
    console.print(f"persona {row['persona_id']} · style {row['style']} · graph {row['graph']} · counsellor {row['counselor']} · client {row['client']} · seed {row['seed']}")
    for t in turns:
        meta = " · ".join(x for x in (t.stage, t.technique, f"risk {t.risk_level}" if t.risk_level else None) if x)
        console.print(f"\n[bold]{t.idx:>3} {t.speaker}:[/bold] {t.text}" + (f"\n    [dim]{meta}[/dim]" if meta else ""))
    notable = [e for e in events if e["kind"] != "screen" or e["level"] not in (None, "none")]
    if notable:
        console.print("\n[bold]Events[/bold]")
        for e in notable:
            console.print(f"  {e['turn_idx']!s:>3} {e['kind']}{' ' + e['level'] if e['level'] else ''}: {json.dumps(e['detail'], ensure_ascii=False)[:160]}")


def command_group(parent: click.Group, name: str, help: str) -> click.Group:
    """The sub-group ``name`` of ``parent``, created if no plugin has added it yet (plugins share groups)."""
    existing = parent.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name, help=help)
    parent.add_command(group)
    return group


# entry point -----------------------------------------------------------------
_commands_added = False


def _add_plugin_commands() -> None:
    global _commands_added
    if not _commands_added:
        load_plugins()
        pm.hook.register_commands(cli=cli)
        _commands_added = True


def run_group(group: click.Group, argv: list[str] | None, prog_name: str) -> None:
    """Run a click group the way ``psyagents`` does: user errors become one line on stderr and exit code 2,
    Ctrl-C exits 130. Plugins with their own entry point (``python -m psyagents_trl``) use it too."""
    try:
        group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("Aborted.")
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(2)
    except PsyagentsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    # Model loading progress bars and warnings would interleave with the streamed dialogue.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        _add_plugin_commands()
    except KeyboardInterrupt:  # Ctrl-C while the plugins load, before any command runs
        err_console.print("Aborted.")
        sys.exit(130)
    except PsyagentsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    run_group(cli, argv, "psyagents")


if __name__ == "__main__":
    main()
