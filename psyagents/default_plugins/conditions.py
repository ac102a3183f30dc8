"""Built-in route conditions for graph files.

A condition in a route reads ``NAME``, ``not NAME`` or ``NAME OP VALUE``
(OP one of >= <= == != > <), e.g. ``ended``, ``risk >= high``, ``turn >= 4``.
A predicate is called as ``predicate(state, ctx, op, value)``; ``op`` and
``value`` are None for a bare name.
"""

from __future__ import annotations

import operator

from psyagents.hookspecs import hookimpl
from psyagents.risk import level_index

OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}


def _compare(left, op, right) -> bool:
    if op is None:
        return bool(left)
    return OPS[op](left, right)


def ended(state, ctx, op, value) -> bool:
    return bool(state.get("end_reason"))


def closing(state, ctx, op, value) -> bool:
    if op is None:
        return bool(state.get("closing"))
    return _compare(state.get("closing") or "", op, value)


def risk(state, ctx, op, value) -> bool:
    level = (state.get("risk") or {}).get("level", "none")
    if op is None:
        return level != "none"
    return _compare(level_index(level), op, level_index(value))


def max_risk(state, ctx, op, value) -> bool:
    level = state.get("max_risk", "none")
    if op is None:
        return level != "none"
    return _compare(level_index(level), op, level_index(value))


def turn(state, ctx, op, value) -> bool:
    if op is None:
        return state.get("turn", 0) > 0
    return _compare(state.get("turn", 0), op, int(value))


def _level(value: str) -> None:
    level_index(value)


def _whole_number(value: str) -> None:
    if not value.isdigit():
        raise ValueError(f"turn compares with a whole number, not '{value}'")


CONDITIONS = {
    "ended": (ended, "the session has an end reason", None),
    "closing": (closing, "a side has closed and awaits the other's last word (compare with client/counselor)", None),
    "risk": (risk, "risk level of the last client message (compare with none..imminent)", _level),
    "max_risk": (max_risk, "highest risk level seen this session", _level),
    "turn": (turn, "counsellor turns completed (compare with a number)", _whole_number),
}


@hookimpl(trylast=True)
def register_route_conditions(register):
    for name, (fn, description, validate) in CONDITIONS.items():
        register(name, fn, description=description, validate=validate)
