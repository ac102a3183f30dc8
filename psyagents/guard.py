"""The response guard: catch replies that break a style's limits, and repair them as a last resort.

As in Interactive Agents, a counsellor reply that is too long, is formatted as
a list or breaks role is regenerated; the session nodes retry a few times and
then fall back to ``repair``. Every rejected draft is logged by the caller.
"""

from __future__ import annotations

import re

from .styles import StyleLimits
from .text import sentences

_LIST_LINE = re.compile(r"^\s*(?:[-*•·]|\d+[.)、]|[一二三四五六七八九十]+[、.])\s+\S", re.MULTILINE)
_INLINE_NUMBERED = re.compile(r"(?:^|\s)[1-9][.)]\s+\S.*?(?:\s)[2-9][.)]\s+\S", re.DOTALL)
_MARKDOWN = re.compile(r"(\*\*[^*]+\*\*|^#{1,6}\s)", re.MULTILINE)
_AI_SELF = re.compile(
    r"\b(as an? (ai|artificial intelligence|language model|chatbot|virtual assistant)|i'?m (just )?an? (ai|language model|chatbot)|"
    r"i am (just )?an? (ai|language model|chatbot)|openai|smollm|hugging ?face)\b"
    r"|(作为(一个)?(AI|人工智能|语言模型)|我是(一个)?(AI|人工智能|语言模型|聊天机器人))",
    re.IGNORECASE,
)
# Taking the other side's part ("Okay, I'm the client now"): what a prompt injection that worked looks like.
_ROLE_SWAP = {
    "counselor": re.compile(
        r"\b(?:i'?m|i am|i'll be|i will be|let me be|i can be)\s+(?:now\s+)?(?:the|your)\s+(?:client|patient)\b(?!['’]s)"
        r"|\b(?:i'?m|i am)\s+(?:now\s+)?playing\s+(?:the\s+)?(?:client|patient)\b"
        r"|\byou(?:'re| are)\s+(?:now\s+)?(?:the|my)\s+(?:counsel+or|therapist)\b"
        r"|我(?:现在是|来当|来扮演|扮演|当)(?:你的)?(?:来访者|求助者|病人|患者)|我是(?:你的|一个|一名)?(?:来访者|求助者)"
        r"|你(?:现在是|来当|当)(?:我的)?(?:咨询师|治疗师)",
        re.IGNORECASE,
    ),
    "client": re.compile(
        r"\b(?:i'?m|i am|i'll be|i will be|let me be)\s+(?:now\s+)?(?:the|your)\s+(?:counsel+or|therapist)\b(?!['’]s)"
        r"|\b(?:i'?m|i am)\s+(?:now\s+)?playing\s+(?:the\s+)?(?:counsel+or|therapist)\b"
        r"|\byou(?:'re| are)\s+(?:now\s+)?(?:the|my)\s+(?:client|patient)\b"
        r"|我(?:现在是|来当|来扮演|扮演|当)(?:你的)?(?:咨询师|治疗师)|我是你的(?:咨询师|治疗师)"
        r"|你(?:现在是|来当|当)(?:我的)?(?:来访者|求助者)",
        re.IGNORECASE,
    ),
}
SPEAKER_LABELS = {
    "counselor": r"(counsel+or|therapist|assistant|咨询师|心理咨询师)",
    "client": r"(client|patient|user|来访者|访客|求助者)",
}


def _label_re(role: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*\**{SPEAKER_LABELS[role]}\**\s*[:：]\s*", re.IGNORECASE | re.MULTILINE)


def _turn_re(role: str) -> re.Pattern[str]:
    """A label opening a line or following a sentence: where a model starts writing ``role``'s lines."""
    return re.compile(rf"(?:^\s*|(?<=[.!?。！？…])[ \t]*)\**{SPEAKER_LABELS[role]}\**\s*[:：]\s*", re.IGNORECASE | re.MULTILINE)


def clean(text: str, role: str) -> str:
    """Strip a leading own-speaker label and wrapping quotes; cut where the model starts writing the other side."""
    other = "client" if role == "counselor" else "counselor"
    text = text.replace("\r", "")
    m = _turn_re(other).search(text)
    if m and m.start() > 0:
        text = text[: m.start()]
    text = _label_re(role).sub("", text, count=1).strip()
    if len(text) >= 2 and text[0] in "\"“「" and text[-1] in "\"”」":
        text = text[1:-1].strip()
    return text


def violations(text: str, limits: StyleLimits, role: str = "counselor") -> list[str]:
    """Names of the limits ``text`` breaks: empty, too_long, list, role_break."""
    found: list[str] = []
    if not text.strip():
        return ["empty"]
    if len(sentences(text)) > limits.max_sentences or len(text) > limits.max_chars:
        found.append("too_long")
    if not limits.allow_lists and (_LIST_LINE.search(text) or _INLINE_NUMBERED.search(text) or _MARKDOWN.search(text)):
        found.append("list")
    other = "client" if role == "counselor" else "counselor"
    swap = _ROLE_SWAP.get(role)
    if _AI_SELF.search(text) or _turn_re(other).search(text) or (swap and swap.search(text)):
        found.append("role_break")
    return found


def repair(text: str, limits: StyleLimits, role: str | None = None) -> str:
    """Make a reply fit: list items become sentences, role-breaking sentences go, length is cut."""
    text = _MARKDOWN.sub(lambda m: m.group(0).strip("*#").strip(), text)
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•·]|\d+[.)、]|[一二三四五六七八九十]+[、.])\s+", "", line).strip()
        line = line.rstrip(":：").strip()  # a list's lead-in ("Here are some ideas:") becomes a sentence
        if line:
            lines.append(line if re.search(r"[.!?。！？]$", line) else line + ("。" if re.search(r"[\u4e00-\u9fff]", line) else "."))
    swap = _ROLE_SWAP.get(role or "")
    kept = [s for s in sentences(" ".join(lines)) if not _AI_SELF.search(s) and not (swap and swap.search(s))]
    out: list[str] = []
    for s in kept[: limits.max_sentences]:
        if len(" ".join(out + [s])) > limits.max_chars:
            break
        out.append(s)
    return " ".join(out).strip()
