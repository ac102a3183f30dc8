"""Errors a user can act on. The CLI prints them as one line and exits with 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PsyagentsError(Exception):
    """A problem with the user's input or data, explained in one line."""


class NotFoundError(PsyagentsError, LookupError):
    """An unknown name (persona, style, graph, model provider, session...)."""


class SessionBusy(PsyagentsError):
    """The session is being run right now by another live process on this machine."""


class SessionExists(PsyagentsError):
    """A new session's id (or batch key) is already in the trace store."""


class DataFileError(PsyagentsError, ValueError):
    """A data file (persona, principle, graph) that cannot be parsed or validated."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest choice, or ''.

    Ids are kebab-case ("maya-exam-anxiety"), so a choice also matches on its
    first word ("maya") or when it starts with what was typed.
    """
    if not isinstance(name, str):  # a Python caller passed None or a number: nothing to compare
        return ""
    choices = [c for c in choices if isinstance(c, str)]
    heads = {c.split("-")[0]: c for c in choices}
    close = [c for c in choices if c.startswith(name)][:1] or ([heads[name]] if name in heads else [])
    if not close:
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if not close:
        head = difflib.get_close_matches(name, list(heads), n=1, cutoff=0.6)
        close = [heads[head[0]]] if head else []
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> NotFoundError:
    """An error for an unknown name, with a suggestion and the available names."""
    choices = sorted(str(c) for c in choices)
    available = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    if not isinstance(name, str):
        return NotFoundError(f"{kind} must be a name (a string), not {name!r}; available: {available or 'none'}")
    hint = did_you_mean(name, choices)
    return NotFoundError(f"unknown {kind} '{name}'{hint}; available: {available or 'none'}")


def malformed_yaml(where: str, exc: Exception) -> DataFileError:
    """``FILE: malformed YAML at line L, column C: problem`` for a PyYAML error."""
    mark = getattr(exc, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return DataFileError(f"{where}: malformed YAML{at}: {problem}")
