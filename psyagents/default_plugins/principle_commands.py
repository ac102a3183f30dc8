"""``psyagents principles list|show|sets`` and ``psyagents judges``: the rating principles, their named sets and the judges."""

from __future__ import annotations

import click

from psyagents.hookspecs import hookimpl


def _principle_row(p) -> dict:
    return {"id": p.id, "name": p.name, "sets": list(p.sets), "kind": p.kind, "scale_min": p.scale_min, "scale_max": p.scale_max,
            "source": p.source}


@hookimpl(trylast=True)
def register_commands(cli):
    from psyagents.cli import _json, _table, command_group, json_option

    group = command_group(cli, "principles", "Rating principles and their named sets.")

    @group.command("list")
    @click.option("--set", "set_names", multiple=True, help="Only principles in this set (repeatable).")
    @json_option
    def principles_list(set_names, as_json):
        """List the principles (id, sets, kind, scale)."""
        from psyagents.judging import resolve_principles
        from psyagents.registry import principles

        items = resolve_principles(list(set_names)) if set_names else sorted(principles().values(), key=lambda p: p.id)
        if as_json:
            _json([_principle_row(p) for p in items])
            return
        _table(["id", "name", "sets", "kind", "scale"],
               [[p.id, p.name, ", ".join(p.sets), p.kind, f"{p.scale_min}..{p.scale_max}"] for p in items])

    @group.command("show")
    @click.argument("principle")
    @json_option
    def principles_show(principle, as_json):
        """Show one principle in full: description, scale, anchors (behaviour codes and ratio for MITI-style ones)."""
        import yaml

        from psyagents.registry import get_principle

        data = get_principle(principle).model_dump(mode="json", exclude_none=True)
        if not data.get("behaviours"):
            data.pop("behaviours", None)
        if as_json:
            _json(data)
        else:
            click.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100))

    @group.command("sets")
    @json_option
    def principles_sets(as_json):
        """List the named sets and the principles in each."""
        from psyagents.judging import principle_sets

        sets = principle_sets()
        if as_json:
            _json({name: [p.id for p in items] for name, items in sets.items()})
            return
        _table(["set", "n", "principles"], [[name, len(items), ", ".join(p.id for p in items)] for name, items in sets.items()])

    if "judges" in cli.commands:  # another plugin lists judges already
        return

    @cli.command("judges")
    @json_option
    def judges_cmd(as_json):
        """List the registered judges (spec NAME or NAME:ARG) and what each does."""
        from psyagents.judging import judges

        items = [{"name": name, "description": meta.get("description", "")} for name, (_, meta) in sorted(judges().items())]
        if as_json:
            _json(items)
            return
        _table(["judge", "description"], [[j["name"], j["description"]] for j in items])
