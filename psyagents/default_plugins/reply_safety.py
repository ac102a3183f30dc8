"""The built-in reply screen: English and Chinese rules for what a counsellor must not say."""

from __future__ import annotations

import functools

from psyagents.hookspecs import hookimpl
from psyagents.reply_safety import ReplyRules


@functools.lru_cache(maxsize=1)
def default_rules() -> ReplyRules:
    """The shared check with the default rules (it holds no state)."""
    return ReplyRules()


@hookimpl(trylast=True)
def register_reply_checks(register):
    register(default_rules())
