"""Sentence splitting for English and Chinese text."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])[\"'”’)）]*\s*")


def sentences(text: str) -> list[str]:
    """Split text into sentences on . ! ? and their Chinese forms; keeps the punctuation."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    return [p for p in parts if p]
