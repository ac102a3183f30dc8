"""Session checkpoints: LangGraph's ``SqliteSaver``, written at the steps that matter.

LangGraph checkpoints a graph after every step. A counselling turn is four steps (client,
safety screen, technique, counsellor), and writing each one serialises the whole state and
commits it: about three quarters of the framework's cost per turn on a fast model. Only two
of those steps change what was said, so ``TurnSaver`` writes a checkpoint

- after every step that adds to the dialogue (a step that wrote ``messages``),
- at the start (the input) and after ``update_state`` calls,
- at the end of the graph (no node left to run),
- and, with the step it belongs to, whenever a node pauses (``interrupt()``) or fails,

and keeps the steps in between (the screen, the plan) in memory only. A session that is
killed between two messages resumes from the last one: the screen or plan step runs again
(the trace store's writes are keyed by turn, so a re-run rewrites its own rows). Nothing a
speaker said is lost, and a paused or failed step is saved exactly as LangGraph would save it.

Checkpoints of subgraphs (a non-empty ``checkpoint_ns``) are always written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.checkpoint.base import WRITES_IDX_MAP
from langgraph.checkpoint.sqlite import SqliteSaver

BRANCH_PREFIX = "branch:to:"  # LangGraph's trigger channel for the next node
DIALOGUE_CHANNELS = ("messages",)


def _next_nodes(checkpoint: dict) -> list[str]:
    return [k[len(BRANCH_PREFIX):] for k in checkpoint.get("channel_values", {}) if k.startswith(BRANCH_PREFIX)]


class TurnSaver(SqliteSaver):
    """``SqliteSaver`` that skips the checkpoints between two messages (see the module docstring).

    ``persist_on`` names the state channels whose update makes a step worth a checkpoint.
    """

    def __init__(self, conn: Any, *, persist_on: Iterable[str] = DIALOGUE_CHANNELS, **kwargs: Any) -> None:
        super().__init__(conn, **kwargs)
        self.persist_on = frozenset(persist_on)
        # thread key -> [config, checkpoint, metadata, new_versions, buffered writes]
        self._held: dict[tuple[str, str], list[Any]] = {}
        self.skipped = 0  # checkpoints kept in memory only (for tests and benchmarks)

    @staticmethod
    def _key(config: dict) -> tuple[str, str]:
        conf = config["configurable"]
        return str(conf["thread_id"]), conf.get("checkpoint_ns", "")

    def _worth_writing(self, config: dict, checkpoint: dict, metadata: dict, new_versions: Sequence[str]) -> bool:
        if config["configurable"].get("checkpoint_ns") or metadata.get("source") != "loop":
            return True
        if not _next_nodes(checkpoint):  # the end of the graph (or a layout this class does not know)
            return True
        return any(ch in self.persist_on for ch in new_versions)

    def put(self, config, checkpoint, metadata, new_versions):
        key = self._key(config)
        if self._worth_writing(config, checkpoint, metadata, new_versions):
            self._held.pop(key, None)
            return super().put(config, checkpoint, metadata, new_versions)
        self._held[key] = [config, checkpoint, metadata, new_versions, []]
        self.skipped += 1
        conf = config["configurable"]
        return {"configurable": {"thread_id": conf["thread_id"], "checkpoint_ns": conf.get("checkpoint_ns", ""), "checkpoint_id": checkpoint["id"]}}

    def put_writes(self, config, writes, task_id, task_path=""):
        key = self._key(config)
        held = self._held.get(key)
        if held is None or held[1]["id"] != config["configurable"].get("checkpoint_id"):
            return super().put_writes(config, writes, task_id, task_path)
        held[4].append((writes, task_id, task_path))
        if any(channel in WRITES_IDX_MAP for channel, _ in writes):  # a pause or an error: keep the step
            self.flush(key)

    def flush(self, key: tuple[str, str] | None = None) -> None:
        """Write the checkpoint held for ``key`` (every thread's without one), with its writes."""
        for k in [key] if key is not None else list(self._held):
            held = self._held.pop(k, None)
            if held is None:
                continue
            config, checkpoint, metadata, new_versions, writes = held
            saved = super().put(config, checkpoint, metadata, new_versions)
            for w, task_id, task_path in writes:
                super().put_writes(saved, w, task_id, task_path)
