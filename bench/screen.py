"""Benchmark: how long the safety screens take per message, against a bare tokenising pass over the same text.

Every client message goes through the rule layer and the learned classifier before the counsellor
answers, and every counsellor reply through the reply rules, so their cost is part of every turn.
Construction is timed in a fresh process: the first session of a process pays it.
Run with ``make bench``; docs/benchmarks.md records results.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("PSYAGENTS_LOAD_PLUGINS", "")

from psyagents.default_plugins.basic_safety import LexiconCheck  # noqa: E402
from psyagents.reply_safety import ReplyRules  # noqa: E402
from psyagents.safety_layers import NgramClassifierCheck  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "psyagents" / "safety_data"
WORD = re.compile(r"\w+")
# Counsellor replies of the kind a session produces (none of them breaks a rule).
REPLIES = [
    "How has that been for you?",
    "What goes through your mind then?",
    "What would help a little?",
    "That sounds really hard. I'm glad you told me. What was going through your mind when that happened?",
    "It sounds like work has been piling up and you feel you can't keep up. What would make tomorrow a little easier?",
    "You mentioned your doctor changed your medication last month. How have you been feeling since then?",
    "It makes sense that you'd feel anxious before a big presentation. What do you usually notice in your body?",
    "Are you having thoughts of ending your life? I'm asking because I care about your safety.",
    "我听到你最近压力很大，睡得也不好。能多和我说说工作上发生了什么吗？",
    "听起来你在家里感到很孤单。那种时候你通常会做些什么？",
    "谢谢你愿意告诉我这些。你现在有伤害自己的想法吗？",
    "我们下次可以继续聊这个话题。今天结束前，你想再说点什么吗？",
]
FRESH = """
import time
t0 = time.perf_counter()
from psyagents.default_plugins.basic_safety import LexiconCheck
from psyagents.reply_safety import ReplyRules
t1 = time.perf_counter(); check = LexiconCheck(); t2 = time.perf_counter()
check.screen("It has been hard lately, I worry about work a lot."); t3 = time.perf_counter()
rules = ReplyRules(); t4 = time.perf_counter()
rules.check("How has that been for you?"); t5 = time.perf_counter()
print(t2 - t1, t3 - t2, t4 - t3, t5 - t4)
"""


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _per_item(fn, texts: list[str], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        best = min(best, (time.perf_counter() - start) / len(texts))
    return best


def _fresh_process() -> list[float]:
    """Seconds for LexiconCheck(), its first screen, ReplyRules() and its first check, in a new process (best of 3)."""
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, check=True,
                             env={**os.environ, "PSYAGENTS_LOAD_PLUGINS": ""})
        runs.append([float(x) for x in out.stdout.split()])
    return [min(column) for column in zip(*runs)]


def main() -> None:
    dev = _rows("screen-dev-en.jsonl") + _rows("screen-dev-zh.jsonl")
    messages = [r["text"] for r in dev]
    risky = [r["text"] for r in dev if r["risk"] != "none"]
    plain = [r["text"] for r in _rows("train-conversation.jsonl")]
    long = [
        ("I went to the shop and bought some bread, then we talked for a while. " * 1500)[:100_000],
        ("今天天气很好，我们去公园散步，聊了很多生活里的事情。" * 4000)[:100_000],
        "x " * 49_980 + " I want to kill myself tonight",
    ]
    lexicon, classifier, reply_rules = LexiconCheck(), NgramClassifierCheck(), ReplyRules()
    classifier.screen("warm up")  # loads the model once
    for text in messages + plain + REPLIES:  # compiles what the rules compile on first use
        lexicon.screen(text)
        reply_rules.check(text)
    print(f"# safety screen, {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"messages: {len(messages)} labelled dev messages (EN+ZH), {len(risky)} of them with risk; {len(plain)} plain "
          f"conversation messages; {len(REPLIES)} counsellor replies; long: 3 messages of 100,000 characters")
    print("| measure | per message | ratio to a bare \\w+ tokenising pass |")
    print("|---|---|---|")
    rows = [
        ("rules (lexicon), dev messages", lexicon.screen, messages),
        ("rules (lexicon), dev messages with risk", lexicon.screen, risky),
        ("rules (lexicon), plain conversation", lexicon.screen, plain),
        ("classifier (n-gram), dev messages", classifier.screen, messages),
        ("reply rules, counsellor replies", reply_rules.check, REPLIES),
        ("reply rules, dev messages as replies", reply_rules.check, messages),
        ("rules (lexicon), 100,000 characters", lexicon.screen, long),
        ("classifier (n-gram), 100,000 characters", classifier.screen, long),
        ("reply rules, 100,000 characters", reply_rules.check, long),
    ]
    for name, fn, texts in rows:
        base = _per_item(lambda t: WORD.findall(t.lower()), texts)
        t = _per_item(fn, texts, repeats=3 if texts is long else 5)
        print(f"| {name} | {t * 1000:.3f} ms | {t / base:.0f}x (baseline {base * 1000:.4f} ms) |")
    build, first_screen, reply_build, first_check = _fresh_process()
    print(f"| LexiconCheck() in a new process, then its first screen | {build * 1000:.0f} ms + {first_screen * 1000:.0f} ms | |")
    print(f"| ReplyRules() in a new process, then its first check | {reply_build * 1000:.0f} ms + {first_check * 1000:.1f} ms | |")


if __name__ == "__main__":
    main()
