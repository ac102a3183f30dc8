"""Hook specifications: the whole plugin surface of psyagents.

Collector hooks receive a ``register`` callback so one plugin can register
several things and the host can check names. Every hook here must be
documented in ``docs/plugins.md`` (``tests/test_docs.py`` checks it).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("psyagents")
hookimpl = pluggy.HookimplMarker("psyagents")


@hookspec
def register_chat_models(register):
    """Register chat-model providers: ``register(provider, factory, description="")``."""


@hookspec
def register_therapy_styles(register):
    """Register therapy styles: ``register(style)`` with a ``TherapyStyle`` instance."""


@hookspec
def register_personas(register):
    """Register personas: ``register(persona_or_path)`` with a ``Persona``, a YAML file or a folder of them."""


@hookspec
def register_principles(register):
    """Register rating principles: ``register(principle_or_path)`` with a ``Principle``, a YAML file or a folder."""


@hookspec
def register_graphs(register):
    """Register session graphs: ``register(graph_spec_or_path)`` with a ``GraphSpec``, a YAML file or a folder."""


@hookspec
def register_node_types(register):
    """Register graph node types: ``register(name, factory, description="")``; ``factory(ctx, name, params)`` returns a node."""


@hookspec
def register_route_conditions(register):
    """Register conditions usable in graph routes: ``register(name, predicate, description="")``."""


@hookspec
def register_safety_checks(register):
    """Register safety checks that screen messages: ``register(check)`` with a ``SafetyCheck``."""


@hookspec
def register_reply_checks(register):
    """Register checks that screen counsellor replies: ``register(check)`` with a ``ReplyCheck``."""


@hookspec
def register_judges(register):
    """Register judges that rate counsellor replies: ``register(name, factory, description="")``."""


@hookspec
def register_embedders(register):
    """Register sentence embedders (client fidelity): ``register(name, factory, description="")``."""


@hookspec
def register_trainers(register):
    """Register trainers that fine-tune models on exported data: ``register(name, factory, description="")``."""


@hookspec
def register_exporters(register):
    """Register exporters that turn traces into datasets: ``register(name, factory, description="")``."""


@hookspec
def register_commands(cli):
    """Add commands to the ``psyagents`` command-line interface (a ``click.Group``)."""
