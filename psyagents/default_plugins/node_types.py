"""Registers the built-in node types (see psyagents/nodes.py and psyagents/judge_loop.py)."""

from psyagents.hookspecs import hookimpl
from psyagents.judge_loop import make_candidates
from psyagents.nodes import BUILTIN_NODE_TYPES
from psyagents.supervision import make_supervisor


@hookimpl(trylast=True)
def register_node_types(register):
    for name, (factory, description) in BUILTIN_NODE_TYPES.items():
        register(name, factory, description=description)
    register("supervisor", make_supervisor, description="pauses for a human supervisor to approve or replace a crisis reply")
    register(
        "candidates",
        make_candidates,
        description="judge in the loop: the counsellor draws N candidates (params n, models), a judge (params judge, principles) picks the one to send",
    )
