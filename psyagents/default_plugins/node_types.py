"""Registers the built-in node types (see psyagents/nodes.py)."""

from psyagents.hookspecs import hookimpl
from psyagents.nodes import BUILTIN_NODE_TYPES
from psyagents.supervision import make_supervisor


@hookimpl(trylast=True)
def register_node_types(register):
    for name, (factory, description) in BUILTIN_NODE_TYPES.items():
        register(name, factory, description=description)
    register("supervisor", make_supervisor, description="pauses for a human supervisor to approve or replace a crisis reply")
