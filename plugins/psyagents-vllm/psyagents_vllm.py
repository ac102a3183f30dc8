"""vLLM for psyagents: fast batched generation on CUDA GPUs, in-process or through a server.

Two ways to use it:

- ``vllm:MODEL?options`` runs vLLM's in-process engine (``vllm.LLM``). Calls arriving
  from several threads (sessions run side by side) within a short window are gathered
  into one ``LLM.chat`` call, so a GPU serves many sessions at the batch cost of one.
- ``psyagents vllm serve MODEL`` starts ``vllm serve`` and prints the
  ``openai:MODEL?base_url=...`` string to use; ``psyagents vllm attach URL`` prints the
  strings for a server already running. The ``openai`` provider then streams tokens.

vLLM is imported only when a ``vllm:`` model is built, so this module imports, and its
commands run, without it. vLLM needs CUDA and pins its own torch and transformers, so it
usually lives in an environment of its own (``pip install 'psyagents-vllm[gpu]'``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import queue
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlsplit
from urllib.request import Request, urlopen

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from psyagents.errors import PsyagentsError, unknown
from psyagents.hookspecs import hookimpl
from psyagents.models import ModelSpecError, to_chat_messages

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_BATCH_WINDOW_MS = 10.0
SERVER_MODULE = "vllm.entrypoints.openai.api_server"
VLLM_ENV = "PSYAGENTS_VLLM"  # the `vllm` executable of another environment, for `psyagents vllm serve`
POLL_INTERVAL = 1.0  # seconds between readiness checks while `vllm serve` starts

DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")

# name -> (converter, valid?, what a valid value looks like), as in the local provider.
_Check = tuple[type, Callable[[Any], bool], str]
# Options of the one engine a process loads per model: they cannot differ between model strings.
ENGINE_OPTIONS: dict[str, _Check] = {
    "tensor_parallel_size": (int, lambda v: v >= 1, "an integer >= 1, the number of GPUs to shard the model over"),
    "gpu_memory_utilization": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "max_model_len": (int, lambda v: v >= 1, "an integer >= 1"),
    "dtype": (str, lambda v: v in DTYPES, f"one of {', '.join(DTYPES)}"),
    "batch_window_ms": (float, lambda v: 0 <= v <= 1000, "milliseconds in [0, 1000]"),
}
# Sampling settings: per model string, and overridable per call (model.invoke(messages, seed=3)).
SAMPLING_OPTIONS: dict[str, _Check] = {
    "temperature": (float, lambda v: 0 <= v < math.inf, "a number >= 0; 0 is greedy"),
    "top_p": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "max_tokens": (int, lambda v: v >= 1, "an integer >= 1"),
    "seed": (int, lambda v: v >= 0, "an integer >= 0"),
}

ALTERNATIVES = "on this machine use local:PATH, or openai:NAME?base_url=http://HOST:8000/v1 against a running `vllm serve`"


def _no_vllm(name: str) -> str:
    return f"vllm:{name} needs vLLM on a CUDA GPU (pip install 'psyagents-vllm[gpu]' in an environment with CUDA); {ALTERNATIVES}"


def _no_cuda(name: str) -> str:
    return f"vllm:{name} needs a CUDA GPU and torch finds none; {ALTERNATIVES}"


NO_VLLM_SERVE = (
    "`psyagents vllm serve` needs vLLM, which is not installed here: install it where there is CUDA "
    "(pip install 'psyagents-vllm[gpu]') and pass its `vllm` executable with --vllm PATH (or PSYAGENTS_VLLM), "
    "or use `psyagents vllm attach URL` for a server running elsewhere"
)


# -- the provider ---------------------------------------------------------------------------------


@hookimpl
def register_chat_models(register):
    register(
        "vllm",
        vllm_chat_model,
        description="vLLM in-process on a CUDA GPU, batching concurrent calls: vllm:MODEL?tensor_parallel_size=2",
    )


def vllm_chat_model(name: str, options: dict[str, str]) -> VLLMChatModel:
    """Build a chat model for ``vllm:NAME?options``; starts the engine for NAME on first use."""
    # Options are checked before vLLM is imported, so a typo fails at once and everywhere.
    engine_options, sampling = parse_options(options)
    return VLLMChatModel(engine=_engine(name, engine_options), model_name=name, **sampling)


def parse_options(options: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split model-string options into engine options and sampling settings, checking each."""
    engine: dict[str, Any] = {}
    sampling: dict[str, Any] = {}
    for name, value in options.items():
        if name in ENGINE_OPTIONS:
            engine[name] = _convert(name, value, ENGINE_OPTIONS[name])
        elif name in SAMPLING_OPTIONS:
            sampling[name] = _convert(name, value, SAMPLING_OPTIONS[name])
        else:
            raise unknown("vllm model option", name, [*ENGINE_OPTIONS, *SAMPLING_OPTIONS])
    return engine, sampling


def _convert(name: str, value: Any, check: _Check) -> Any:
    kind, valid, expected = check
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        converted = None
    if converted is None or not valid(converted):
        raise ModelSpecError(f"bad value for vllm model option '{name}': {value!r} (expected {expected})")
    return converted


def _require_vllm(name: str) -> Any:
    """Import vLLM and check for a GPU, or raise the one-line error that says what to do instead."""
    try:
        import vllm
    except (ImportError, OSError, RuntimeError):  # absent, or its CUDA libraries are
        raise PsyagentsError(_no_vllm(name)) from None
    try:
        import torch

        cuda = bool(torch.cuda.is_available())
    except (ImportError, OSError, RuntimeError):
        cuda = False
    if not cuda:
        raise PsyagentsError(_no_cuda(name))
    return vllm


# One engine per model name in this process: a second copy of the weights would not fit on the GPU.
_ENGINES: dict[str, VLLMEngine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(name: str, options: dict[str, Any]) -> VLLMEngine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(name)
        if engine is None:
            vllm = _require_vllm(name)
            llm_kwargs = {k: v for k, v in options.items() if k != "batch_window_ms"}
            try:
                llm = vllm.LLM(model=name, **llm_kwargs)
            except (OSError, ValueError, RuntimeError) as exc:
                raise PsyagentsError(f"vllm:{name}: cannot start vLLM: {_first_line(exc)}") from None
            window = options.get("batch_window_ms", DEFAULT_BATCH_WINDOW_MS) / 1000
            engine = _ENGINES[name] = VLLMEngine(name, llm, vllm.SamplingParams, options, window=window)
            return engine
        for key, value in options.items():
            if engine.options.get(key) != value:
                loaded = engine.options.get(key, "vLLM's default" if key != "batch_window_ms" else DEFAULT_BATCH_WINDOW_MS)
                raise ModelSpecError(
                    f"vllm:{name} is already loaded with {key}={loaded}, not {value}: every vllm:{name} string "
                    "in a process shares one engine, so give them the same engine options"
                )
        return engine


def close_engines() -> None:
    """Stop every engine's batching thread and forget the engines (vLLM frees the GPU when they are collected)."""
    with _ENGINES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.close()


# -- batching -------------------------------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Gathers items submitted from many threads into batches run by one worker thread.

    ``submit(item)`` blocks until the item's own result is ready and returns it (or raises
    its error). The worker takes the first waiting item, gathers whatever else arrives
    within ``window`` seconds of it (up to ``max_batch`` items), and calls
    ``run_batch(items)`` once; that returns one result per item, in order. Items arriving
    while a batch runs form the next one. If a batch of several items fails, each is run
    alone, so one bad request (say a prompt longer than the model's context) fails only
    its own caller. Nothing here knows about vLLM.
    """

    def __init__(
        self,
        run_batch: Callable[[list[T]], Sequence[R]],
        *,
        window: float = DEFAULT_BATCH_WINDOW_MS / 1000,
        max_batch: int = 256,
        name: str = "psyagents-batcher",
    ):
        if window < 0 or max_batch < 1:
            raise ValueError("window must be >= 0 and max_batch >= 1")
        self.run_batch = run_batch
        self.window = window
        self.max_batch = max_batch
        self.name = name
        self.batches = 0  # run_batch calls so far
        self._queue: queue.SimpleQueue[tuple[T, Future] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, item: T) -> R:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._queue.put((item, future))
        return future.result()

    def close(self, timeout: float | None = None) -> None:
        """Finish the items already submitted, then stop the worker."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            closing = False
            deadline = time.monotonic() + self.window
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    # Past the deadline, items already waiting still join the batch.
                    entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    closing = True
                    break
                batch.append(entry)
            self._run(batch)
            if closing:
                return

    def _run(self, batch: list[tuple[T, Future]]) -> None:
        self.batches += 1
        try:
            results = list(self.run_batch([item for item, _ in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: a batch of {len(batch)} gave {len(results)} results")
        except BaseException as exc:  # handed to the callers; the worker carries on
            if len(batch) > 1:
                for entry in batch:
                    self._run([entry])
            else:
                batch[0][1].set_exception(exc)
            return
        for (_, future), result in zip(batch, results):
            future.set_result(result)


# -- the engine -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VLLMRequest:
    """One conversation to complete, with its own ``vllm.SamplingParams``."""

    conversation: list[dict[str, str]]
    sampling_params: Any


@dataclass(frozen=True)
class VLLMResult:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str  # vLLM's: "stop" (end of turn or a stop string), "length" or "abort"


class VLLMEngine:
    """A ``vllm.LLM`` and the batcher that feeds it; shared by every VLLMChatModel naming the model."""

    def __init__(self, name: str, llm: Any, sampling_params_cls: Any, options: Mapping[str, Any], *, window: float):
        self.name = name
        self.llm = llm
        self.options = dict(options)
        self._sampling_params_cls = sampling_params_cls
        self.batcher: Batcher[VLLMRequest, VLLMResult] = Batcher(self._run, window=window, name=f"psyagents-vllm:{name}")

    def sampling_params(self, settings: SamplingSettings, stop: Sequence[str] = ()) -> Any:
        kwargs: dict[str, Any] = {"temperature": settings.temperature, "top_p": settings.top_p, "max_tokens": settings.max_tokens}
        if settings.seed is not None:
            kwargs["seed"] = settings.seed  # per request, so a reply does not depend on what it was batched with
        if stop:
            kwargs["stop"] = list(stop)
        return self._sampling_params_cls(**kwargs)

    def generate(self, request: VLLMRequest) -> VLLMResult:
        """Complete one request; blocks while it is batched with concurrent ones."""
        return self.batcher.submit(request)

    def close(self) -> None:
        self.batcher.close()

    def _run(self, requests: list[VLLMRequest]) -> list[VLLMResult]:
        try:
            outputs = self.llm.chat(
                [r.conversation for r in requests],
                sampling_params=[r.sampling_params for r in requests],
                use_tqdm=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise PsyagentsError(f"vllm:{self.name}: {_first_line(exc)}") from None
        return [_result(output) for output in outputs]


def _result(output: Any) -> VLLMResult:
    """A VLLMResult from a ``vllm.RequestOutput`` (its first completion)."""
    completion = output.outputs[0]
    return VLLMResult(
        text=completion.text,
        input_tokens=len(output.prompt_token_ids or ()),
        output_tokens=len(completion.token_ids or ()),
        finish_reason=completion.finish_reason or "stop",
    )


# -- the chat model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None


class VLLMChatModel(BaseChatModel):
    """A LangChain chat model over a shared :class:`VLLMEngine`; concurrent calls are batched."""

    engine: VLLMEngine = Field(exclude=True, repr=False)
    model_name: str
    temperature: float = SamplingSettings.temperature
    top_p: float = SamplingSettings.top_p
    max_tokens: int = SamplingSettings.max_tokens
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "psyagents-vllm"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, **self.engine.options, **asdict(self.settings({}))}

    def get_token_ids(self, text: str) -> list[int]:
        # LangChain's default counts with a GPT-2 tokenizer it would have to download.
        return self.engine.llm.get_tokenizer().encode(text, add_special_tokens=False)

    def settings(self, overrides: Mapping[str, Any]) -> SamplingSettings:
        """This model's sampling settings with per-call overrides (None keeps the model's value)."""
        for name in overrides:
            if name not in SAMPLING_OPTIONS:
                raise unknown("vllm model generation argument", name, SAMPLING_OPTIONS)
        current = {name: getattr(self, name) for name in SAMPLING_OPTIONS}
        current.update({k: _convert(k, v, SAMPLING_OPTIONS[k]) for k, v in overrides.items() if v is not None})
        return SamplingSettings(**current)

    def request(self, messages: Sequence[BaseMessage], stop: Sequence[str] | None = None, **kwargs: Any) -> VLLMRequest:
        """The request one call sends: chat dicts and its own SamplingParams."""
        return VLLMRequest(
            conversation=to_chat_messages(messages, "vllm models"),
            sampling_params=self.engine.sampling_params(self.settings(kwargs), [s for s in stop or () if s]),
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = self.engine.generate(self.request(messages, stop, **kwargs))
        message = AIMessage(content=result.text, usage_metadata=_usage(result), response_metadata=self._metadata(result))
        return ChatResult(generations=[ChatGeneration(message=message, generation_info={"finish_reason": result.finish_reason})])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """One chunk holding the whole reply: the offline engine returns finished replies.
        For token-by-token streaming, serve the model (`psyagents vllm serve`) and use openai:."""
        result = self.engine.generate(self.request(messages, stop, **kwargs))
        chunk = ChatGenerationChunk(
            message=AIMessageChunk(
                content=result.text,
                usage_metadata=_usage(result),
                response_metadata=self._metadata(result),
                chunk_position="last",
            ),
            generation_info={"finish_reason": result.finish_reason},
        )
        if run_manager:
            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk

    def _metadata(self, result: VLLMResult) -> dict[str, Any]:
        return {"model_name": self.model_name, "finish_reason": result.finish_reason}


def _usage(result: VLLMResult) -> dict[str, int]:
    return {
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
    }


# -- vllm serve / attach --------------------------------------------------------------------------


class ServerUnreachable(PsyagentsError):
    """Nothing answers at the URL (yet)."""


def serve_argv(model: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, extra: Sequence[str] = (), vllm: str | None = None) -> list[str]:
    """The command line that serves MODEL: ``VLLM serve MODEL ...`` with the given or found
    ``vllm`` executable, else ``python -m vllm.entrypoints.openai.api_server --model MODEL ...``
    when vLLM is importable here; extra arguments go to vLLM unchanged."""
    if vllm:
        found = shutil.which(vllm)
        if found is None:
            raise PsyagentsError(f"--vllm {vllm!r} is not an executable (give the `vllm` program of an environment with vLLM)")
        head = [found, "serve", model]
    elif found := shutil.which("vllm"):
        head = [found, "serve", model]
    elif _vllm_importable():
        head = [sys.executable, "-m", SERVER_MODULE, "--model", model]
    else:
        raise PsyagentsError(NO_VLLM_SERVE)
    return [*head, "--host", host, "--port", str(port), *extra]


def _vllm_importable() -> bool:
    if sys.modules.get("vllm") is not None:
        return True
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False


def server_url(host: str, port: int) -> str:
    """The OpenAI base URL of a server listening on host:port (a wildcard host is reached on loopback)."""
    host = {"": DEFAULT_HOST, "0.0.0.0": DEFAULT_HOST, "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/v1"


def base_url(url: str) -> str:
    """Normalise what a user gives (``host:port``, ``http://host:port``, ``.../v1``, ``.../v1/models``) to ``.../v1``."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PsyagentsError(f"bad server URL {url!r}: expected e.g. http://127.0.0.1:8000/v1")
    path = parts.path.rstrip("/").removesuffix("/models").rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def list_models(url: str, *, api_key: str | None = None, timeout: float = 10.0) -> list[str]:
    """The model ids an OpenAI-compatible server at base URL ``url`` lists at ``/models``."""
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        with urlopen(Request(f"{url}/models", headers=headers), timeout=timeout) as response:
            body = response.read()
    except HTTPError as exc:
        if exc.code in (401, 403):
            raise PsyagentsError(f"{url}/models refused the request ({exc.code}): give the server's key with --api-key or VLLM_API_KEY") from None
        raise PsyagentsError(f"{url}/models answered HTTP {exc.code}: is this an OpenAI-compatible server?") from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerUnreachable(f"nothing answers at {url}/models ({reason})") from None
    try:
        return [str(m["id"]) for m in json.loads(body)["data"]]
    except (ValueError, KeyError, TypeError):
        raise PsyagentsError(f"{url}/models did not answer with an OpenAI model list") from None


def model_string(model: str, url: str) -> str:
    """The psyagents model string for a model served at base URL ``url``."""
    return f"openai:{model}?base_url={quote(url, safe=':/[]')}"


def port_in_use(host: str, port: int) -> bool:
    address = urlsplit(server_url(host, port))
    try:
        with socket.create_connection((address.hostname, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_ready(url: str, process: Any, *, timeout: float, api_key: str | None = None) -> list[str]:
    """Poll ``url/models`` until the server answers; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            raise PsyagentsError(f"vllm serve exited with code {code} before answering at {url} (its output above says why)")
        try:
            return list_models(url, api_key=api_key, timeout=5)
        except ServerUnreachable:
            pass
        if time.monotonic() >= deadline:
            raise PsyagentsError(f"vllm serve did not answer at {url}/models within {timeout:g} s (raise --timeout for a large model)")
        time.sleep(POLL_INTERVAL)


def stop_process(process: Any, grace: float = 30.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _api_key(extra: Sequence[str]) -> str | None:
    """The key given to vLLM with ``--api-key``, else ``VLLM_API_KEY`` (which vLLM reads too)."""
    for i, arg in enumerate(extra):
        if arg == "--api-key" and i + 1 < len(extra):
            return extra[i + 1]
        if arg.startswith("--api-key="):
            return arg.partition("=")[2]
    return os.environ.get("VLLM_API_KEY") or None


@hookimpl
def register_commands(cli):
    import click

    from psyagents.cli import command_group

    group = command_group(cli, "vllm", help="Start or attach to a vLLM server, used through openai: model strings.")

    @group.command("serve", context_settings={"ignore_unknown_options": True})
    @click.argument("model")
    @click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
    @click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
    @click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(min=0), help="Seconds to wait for the server to answer.")
    @click.option("--vllm", "vllm_bin", envvar=VLLM_ENV, help="The `vllm` executable (e.g. of another environment); default: the one on PATH.")
    @click.option("--detach", is_flag=True, help="Leave the server running in the background and return once it answers.")
    @click.option("--log", "log_file", type=click.Path(dir_okay=False), help="With --detach: file for the server's output [default: vllm-serve-PORT.log].")
    @click.option("--dry-run", is_flag=True, help="Print the command line and exit.")
    @click.argument("extra", nargs=-1, type=click.UNPROCESSED)
    def serve(model, host, port, timeout, vllm_bin, detach, log_file, dry_run, extra):
        """Start `vllm serve MODEL` and print the openai: model string that reaches it.

        Arguments after MODEL that psyagents does not know go to vLLM unchanged, e.g.
        `psyagents vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2`. Without
        --detach the server runs until Ctrl-C; its output goes to stderr, so stdout holds
        only the model strings.
        """
        argv = serve_argv(model, host=host, port=port, extra=extra, vllm=vllm_bin)
        if dry_run:
            click.echo(shlex.join(argv))
            return
        url = server_url(host, port)
        if port_in_use(host, port):
            raise PsyagentsError(f"port {port} on {host} is in use: pick another --port, or `psyagents vllm attach {url}` if it is a vLLM server")
        if detach:
            log_path = Path(log_file or f"vllm-serve-{port}.log")
            with open(log_path, "ab") as log:
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        else:
            process = subprocess.Popen(argv, stdout=2, stderr=2, stdin=subprocess.DEVNULL)  # fd 2: stderr
        click.echo(f"started: {shlex.join(argv)}", err=True)
        try:
            models = wait_until_ready(url, process, timeout=timeout, api_key=_api_key(extra))
        except BaseException:
            stop_process(process)
            raise
        for name in models:
            click.echo(model_string(name, url))
        if detach:
            click.echo(f"vLLM runs in the background as pid {process.pid} (output in {log_path}); stop it with `kill {process.pid}`", err=True)
            return
        click.echo(f"serving at {url}; Ctrl-C stops the server", err=True)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            stop_process(process)
            return
        if code:
            raise PsyagentsError(f"vllm serve stopped with exit code {code} (its output above says why)")

    @group.command("attach")
    @click.argument("url")
    @click.option("--api-key", envvar="VLLM_API_KEY", help="The server's API key, if it has one [env: VLLM_API_KEY].")
    @click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0), help="Seconds to wait for an answer.")
    def attach(url, api_key, timeout):
        """Check a running vLLM (or other OpenAI-compatible) server and print its model strings.

        URL is e.g. http://gpu-box:8000/v1, http://gpu-box:8000 or gpu-box:8000.
        """
        base = base_url(url)
        models = list_models(base, api_key=api_key, timeout=timeout)
        if not models:
            raise PsyagentsError(f"{base} serves no models")
        for name in models:
            click.echo(model_string(name, base))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
