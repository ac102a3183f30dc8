"""Session checkpoints: LangGraph's ``SqliteSaver``, written at the steps that matter.

LangGraph checkpoints a graph after every step. A counselling turn is four steps (client,
safety screen, technique, counsellor), and writing each one serialises the whole state and
commits it: about three quarters of the framework's cost per turn on a fast model. Only two
of those steps change what was said, so ``TurnSaver`` writes a checkpoint

- after every step that adds to the dialogue (a step that wrote ``messages``),
- at the start (the input) and after ``update_state`` calls,
- at the end of the graph (no node left to run),
- and, with the step it belongs to, whenever a node pauses (``interrupt()``) or fails,

and keeps the steps in between (the screen, the plan) in memory only. A step's own writes
(what its nodes returned, which LangGraph saves as they finish so that a crash mid-step does
not run them again) are kept in memory too: the next checkpoint holds them. A session that is
killed between two messages resumes from the last one, and the in-between steps whose writes
were not kept run again (a re-run screen rewrites its turn's risk level and logs its event once
more). Nothing a speaker said is lost, and a paused or failed step is saved with its writes as
LangGraph would save it. A written checkpoint's parent is the last written one, so the
history (``get_state_history``) is a chain of the written checkpoints.

Checkpoints of subgraphs (a non-empty ``checkpoint_ns``) are always written.

Sessions stream with ``durability="sync"``: LangGraph then hands the saver each checkpoint
before the writes of the step that follows it. (With "async" a step's pause or failure can
reach the saver before the checkpoint it belongs to, which is then not kept.)
"""

from __future__ import annotations

import threading
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
        # thread key -> (config of the last written checkpoint, writes of the step after it kept in
        # memory, [whether that step has paused or failed: its writes are then written at once])
        self._pending: dict[tuple[str, str], tuple[dict, list[Any], list[bool]]] = {}
        self._written: dict[tuple[str, str], str] = {}  # thread key -> id of the last checkpoint written
        self._skipped_ids: dict[tuple[str, str], set[str]] = {}  # ids held since then (never written)
        self.skipped = 0  # checkpoints kept in memory only (for tests and benchmarks)
        # On the sync API LangGraph calls put and put_writes from its background threads, and the
        # tasks of one step finish together: the bookkeeping above changes under this lock.
        self._books = threading.RLock()

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

    def get_tuple(self, config):
        found = super().get_tuple(config)
        if found is not None:  # a run that resumes from here: its first written checkpoint's parent
            with self._books:
                self._written.setdefault(self._key(found.config), found.config["configurable"]["checkpoint_id"])
        return found

    def _write(self, key, config, checkpoint, metadata, new_versions):
        """``SqliteSaver.put``, with a skipped parent replaced by the last checkpoint written."""
        parent = config["configurable"].get("checkpoint_id")
        last = self._written.get(key)
        if parent is not None and last is not None and parent in self._skipped_ids.get(key, ()):
            config = {**config, "configurable": {**config["configurable"], "checkpoint_id": last}}
        saved = super().put(config, checkpoint, metadata, new_versions)
        self._written[key] = checkpoint["id"]
        self._skipped_ids.pop(key, None)
        return saved

    def put(self, config, checkpoint, metadata, new_versions):
        with self._books:
            return self._put(config, checkpoint, metadata, new_versions)

    def _put(self, config, checkpoint, metadata, new_versions):
        key = self._key(config)
        self._pending.pop(key, None)  # the step's writes are in this checkpoint now
        if self._worth_writing(config, checkpoint, metadata, new_versions):
            self._held.pop(key, None)
            return self._write(key, config, checkpoint, metadata, new_versions)
        self._held[key] = [config, checkpoint, metadata, new_versions, []]
        self._skipped_ids.setdefault(key, set()).add(checkpoint["id"])
        self.skipped += 1
        conf = config["configurable"]
        return {"configurable": {"thread_id": conf["thread_id"], "checkpoint_ns": conf.get("checkpoint_ns", ""), "checkpoint_id": checkpoint["id"]}}

    def put_writes(self, config, writes, task_id, task_path=""):
        with self._books:
            return self._put_writes(config, writes, task_id, task_path)

    def _put_writes(self, config, writes, task_id, task_path=""):
        key = self._key(config)
        special = any(channel in WRITES_IDX_MAP for channel, _ in writes)  # a pause or an error
        held = self._held.get(key)
        if held is not None and held[1]["id"] == config["configurable"].get("checkpoint_id"):
            held[4].append((writes, task_id, task_path))
            if special:  # keep the step
                self._flush(key)
            return
        checkpoint_id = config["configurable"].get("checkpoint_id")
        if config["configurable"].get("checkpoint_ns") or checkpoint_id != self._written.get(key):
            return super().put_writes(config, writes, task_id, task_path)
        pending = self._pending.get(key)
        if pending is None or pending[0]["configurable"].get("checkpoint_id") != checkpoint_id:
            pending = self._pending[key] = (config, [], [False])
        if pending[2][0]:  # this step already paused or failed: the rest of it goes straight to disk
            return super().put_writes(config, writes, task_id, task_path)
        pending[1].append((writes, task_id, task_path))
        if special:
            pending[2][0] = True
            for w, t, path in pending[1]:
                super().put_writes(config, w, t, path)
            pending[1].clear()

    def forget(self, thread_id: str) -> None:
        """Drop what this saver remembers of a thread whose run has ended (a batch's finished or failed session).

        Anything still held in memory is dropped as a crash would drop it: those steps run again
        if the session is resumed, and a resumed run finds its last written checkpoint afresh
        (``get_tuple``). Without this, a long batch would keep each session's bookkeeping, and a
        session that failed outside its nodes its whole held checkpoint, until the batch ends.
        """
        with self._books:
            for books in (self._held, self._pending, self._written, self._skipped_ids):
                for key in [k for k in books if k[0] == thread_id]:
                    del books[key]

    def flush(self, key: tuple[str, str] | None = None) -> None:
        """Write what is kept in memory for ``key`` (for every thread without one): the held checkpoint and the writes."""
        with self._books:
            self._flush(key)

    def _flush(self, key: tuple[str, str] | None) -> None:
        for k in [key] if key is not None else list({*self._held, *self._pending}):
            pending = self._pending.pop(k, None)
            if pending is not None:
                for w, task_id, task_path in pending[1]:
                    super().put_writes(pending[0], w, task_id, task_path)
            held = self._held.pop(k, None)
            if held is None:
                continue
            config, checkpoint, metadata, new_versions, writes = held
            self._skipped_ids.get(k, set()).discard(checkpoint["id"])
            saved = self._write(k, config, checkpoint, metadata, new_versions)
            for w, task_id, task_path in writes:
                super().put_writes(saved, w, task_id, task_path)
