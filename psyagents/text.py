"""Text helpers: sentence splitting (English and Chinese), sanitising untrusted text, capping prompt messages."""

from __future__ import annotations

import re

# A run of end marks ("...", "?!") ends one sentence, not several.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])(?![.!?。！？…])[\"'”’)）]*\s*")
_WORD = re.compile(r"\w")


def sentences(text: str) -> list[str]:
    """Split text into sentences on . ! ? and their Chinese forms; keeps the punctuation, drops bare marks."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    return [p for p in parts if _WORD.search(p)]



# Control characters (C0, DEL, C1) except tab and newline: noise in a dialogue that can break
# terminals, JSON consumers and tokenizers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates (what ``surrogateescape`` makes of invalid UTF-8) cannot be encoded, so SQLite
# refuses them; noncharacters (U+FDD0-U+FDEF and the last two code points of every plane) are not text.
_INVALID = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef" + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(17)) + "]"
)
PROMPT_CHAR_LIMIT = 4000


def sanitize(text: str | bytes) -> str:
    """Make untrusted text safe to store and show.

    CRLF and CR become newlines, control characters other than newline and tab go, and lone
    surrogates, noncharacters and undecodable bytes become U+FFFD.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _INVALID.sub("\ufffd", text))


def cap(text: str, limit: int = PROMPT_CHAR_LIMIT) -> str:
    """Cut one message for a model prompt, keeping its start and end around "[... N characters cut]".

    Only prompts are capped: the trace keeps the full text.
    """
    if len(text) <= limit:
        return text
    head, tail = limit * 3 // 4, limit // 4
    cut = len(text) - head - tail
    return f"{text[:head]} [... {cut} characters cut] {text[len(text) - tail:] if tail else ''}".rstrip()
