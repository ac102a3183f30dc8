"""Registers the built-in node types (see psyagents/nodes.py)."""

from psyagents.hookspecs import hookimpl
from psyagents.nodes import BUILTIN_NODE_TYPES


@hookimpl(trylast=True)
def register_node_types(register):
    for name, (factory, description) in BUILTIN_NODE_TYPES.items():
        register(name, factory, description=description)
