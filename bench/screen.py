"""Benchmark: how long the safety screen takes per message, against a bare tokenising pass over the same text.

Every client message goes through the rule layer and the learned classifier before the counsellor
answers, so their cost is part of every turn. Run with ``make bench``; docs/benchmarks.md records results.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path

os.environ.setdefault("PSYAGENTS_LOAD_PLUGINS", "")

from psyagents.default_plugins.basic_safety import LexiconCheck  # noqa: E402
from psyagents.safety_layers import NgramClassifierCheck  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "psyagents" / "safety_data"
WORD = re.compile(r"\w+")


def _messages() -> list[str]:
    rows = []
    for name in ("screen-dev-en.jsonl", "screen-dev-zh.jsonl"):
        rows += [json.loads(line)["text"] for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def _per_item(fn, texts: list[str], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        best = min(best, (time.perf_counter() - start) / len(texts))
    return best


def main() -> None:
    messages = _messages()
    long = [
        ("I went to the shop and bought some bread, then we talked for a while. " * 1500)[:100_000],
        ("今天天气很好，我们去公园散步，聊了很多生活里的事情。" * 4000)[:100_000],
        "x " * 49_980 + " I want to kill myself tonight",
    ]
    lexicon, classifier = LexiconCheck(), NgramClassifierCheck()
    classifier.screen("warm up")  # loads the model once
    print(f"# safety screen, {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"messages: {len(messages)} labelled dev messages (EN+ZH); long: 3 messages of 100,000 characters")
    print("| measure | per message | ratio to a bare \\w+ tokenising pass |")
    print("|---|---|---|")
    for label, texts in (("dev messages", messages), ("100,000 characters", long)):
        base = _per_item(lambda t: WORD.findall(t.lower()), texts)
        for name, check in (("rules (lexicon)", lexicon), ("classifier (n-gram)", classifier)):
            t = _per_item(check.screen, texts)
            print(f"| {name}, {label} | {t * 1000:.2f} ms | {t / base:.0f}x (baseline {base * 1000:.3f} ms) |")


if __name__ == "__main__":
    main()
