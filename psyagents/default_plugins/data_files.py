"""Registers the shipped data folders: personas/, principles/ and graphs/."""

from __future__ import annotations

from psyagents.hookspecs import hookimpl
from psyagents.registry import data_dir


@hookimpl(trylast=True)
def register_personas(register):
    register(data_dir("personas"))


@hookimpl(trylast=True)
def register_principles(register):
    register(data_dir("principles"))


@hookimpl(trylast=True)
def register_graphs(register):
    register(data_dir("graphs"))
