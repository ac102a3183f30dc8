"""The plugin manager: built-in plugins, entry-point plugins and collection of what they register."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
from collections.abc import Callable
from typing import Any

import pluggy

from . import hookspecs

DEFAULT_PLUGINS = (
    "psyagents.default_plugins.scripted_models",
    "psyagents.default_plugins.openai_models",
    "psyagents.default_plugins.local_models",
    "psyagents.default_plugins.styles",
    "psyagents.default_plugins.data_files",
    "psyagents.default_plugins.node_types",
    "psyagents.default_plugins.conditions",
    "psyagents.default_plugins.basic_safety",
    "psyagents.default_plugins.safety_layers",
    "psyagents.default_plugins.reply_safety",
    "psyagents.default_plugins.judges",
    "psyagents.default_plugins.principle_commands",
    "psyagents.default_plugins.safety_commands",
    "psyagents.default_plugins.screen_commands",
    "psyagents.default_plugins.data_commands",
    "psyagents.default_plugins.simulate_commands",
    "psyagents.default_plugins.llamacpp_models",
    "psyagents.default_plugins.eval_commands",
)

ENTRY_POINT_GROUP = "psyagents"
LOAD_PLUGINS_ENV = "PSYAGENTS_LOAD_PLUGINS"

pm = pluggy.PluginManager("psyagents")
pm.add_hookspecs(hookspecs)

_loaded = False
_lock = threading.Lock()


def load_plugins() -> None:
    """Load built-in and installed plugins once.

    ``PSYAGENTS_LOAD_PLUGINS`` restricts the installed ones: a comma-separated list
    of distribution or entry-point names; empty loads none. Built-ins always load.
    """
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        wanted = os.environ.get(LOAD_PLUGINS_ENV)
        if wanted is None:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        else:
            names = {n.strip() for n in wanted.split(",") if n.strip()}
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = ep.dist.name if ep.dist else None
                if (ep.name in names or dist in names) and pm.get_plugin(ep.name) is None:
                    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
        for module_name in DEFAULT_PLUGINS:
            if pm.get_plugin(module_name) is None:
                pm.register(importlib.import_module(module_name), name=module_name)
        _loaded = True


def get_plugins() -> list[dict[str, Any]]:
    """Describe every loaded plugin: name, hooks, and distribution version if any."""
    load_plugins()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        info: dict[str, Any] = {"name": name, "hooks": hooks, "builtin": name in DEFAULT_PLUGINS}
        dist = dists.get(id(plugin))
        if dist is not None:
            info["distribution"] = dist.metadata["Name"]
            info["version"] = dist.version
        out.append(info)
    return sorted(out, key=lambda p: (p["builtin"], p["name"]))


def collect(hook_name: str, *, key: Callable[[Any], str] | None = None, keyed: bool = True) -> Any:
    """Call a collector hook and gather what plugins register.

    Plugins run before built-ins (built-ins are ``trylast``) and the first
    registration of a name wins, so a plugin can replace a built-in by name.
    Returns ``{name: (obj, kwargs)}`` for ``register(name, obj, **kwargs)``;
    with ``key`` the hook calls ``register(obj)`` and the name is ``key(obj)``;
    with ``keyed=False`` a plain list of what was registered.
    """
    load_plugins()
    items: dict[str, Any] = {}
    seq: list[Any] = []

    def register(*args: Any, **kwargs: Any) -> None:
        if not keyed:
            seq.append(args[0])
        elif key is not None:
            items.setdefault(key(args[0]), (args[0], kwargs))
        else:
            items.setdefault(args[0], (args[1], kwargs))

    getattr(pm.hook, hook_name)(register=register)
    return items if keyed else seq


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object (module or instance) at run time; returns its name."""
    load_plugins()
    return pm.register(plugin, name=name)


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with ``register_plugin``."""
    pm.unregister(name=name)

