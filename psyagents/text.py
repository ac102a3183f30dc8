"""Sentence splitting for English and Chinese text."""

from __future__ import annotations

import re

# A run of end marks ("...", "?!") ends one sentence, not several.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])(?![.!?。！？…])[\"'”’)）]*\s*")
_WORD = re.compile(r"\w")


def sentences(text: str) -> list[str]:
    """Split text into sentences on . ! ? and their Chinese forms; keeps the punctuation, drops bare marks."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    return [p for p in parts if _WORD.search(p)]
