"""The psyagents-vllm plugin (plugins/psyagents-vllm): the vllm: provider, its batching, and `psyagents vllm serve|attach`.

vLLM needs CUDA and cannot be installed here, so most tests put a fake ``vllm`` module in
``sys.modules`` and fake ``torch.cuda.is_available``. The fake records what the plugin
asks of vLLM, and its replies are shaped like vLLM's RequestOutput.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import types
import zipfile
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from psyagents import PsyagentsError, get_chat_model
from tests.conftest import ROOT

PLUGIN_DIR = ROOT / "plugins" / "psyagents-vllm"


def _load_plugin_module() -> types.ModuleType:
    """The plugin module from the repository, whether or not the distribution is installed."""
    spec = importlib.util.spec_from_file_location("psyagents_vllm", PLUGIN_DIR / "psyagents_vllm.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


pv = _load_plugin_module()


# -- a fake vllm ---------------------------------------------------------------------------------


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class FakeLLM:
    """Records its constructor arguments and chat calls. Each reply echoes the last user message."""

    instances: list[FakeLLM] = []
    delay = 0.0  # seconds per chat call, like a GPU's

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[tuple[list, list, dict]] = []
        FakeLLM.instances.append(self)

    def chat(self, messages, sampling_params=None, **kwargs):
        self.calls.append((messages, sampling_params, kwargs))
        time.sleep(self.delay)
        outputs = []
        for conversation, params in zip(messages, sampling_params):
            words = f"echo: {conversation[-1]['content']}".split()
            limit = params.kwargs.get("max_tokens", 10**6)
            completion = types.SimpleNamespace(
                text=" ".join(words[:limit]),
                token_ids=list(range(min(len(words), limit))),
                finish_reason="length" if len(words) > limit else "stop",
            )
            prompt_ids = list(range(sum(len(m["content"].split()) + 1 for m in conversation)))
            outputs.append(types.SimpleNamespace(prompt_token_ids=prompt_ids, outputs=[completion]))
        return outputs

    def get_tokenizer(self):
        return types.SimpleNamespace(encode=lambda text, add_special_tokens=False: list(range(len(text.split()))))


@pytest.fixture
def fake_vllm(monkeypatch, plugin):
    """A fake ``vllm`` module with a GPU "available", and the plugin registered."""
    import torch

    module = types.ModuleType("vllm")
    module.LLM = FakeLLM
    module.SamplingParams = FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(FakeLLM, "instances", [])
    plugin(pv, "psyagents-vllm-test")
    try:
        yield module
    finally:
        pv.close_engines()


@pytest.fixture
def registered(plugin):
    plugin(pv, "psyagents-vllm-test")
    try:
        yield pv
    finally:
        pv.close_engines()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


# -- requests ------------------------------------------------------------------------------------


def test_messages_and_sampling_params_per_request(fake_vllm):
    """vLLM needs CUDA, so a fake `vllm` module stands in for it: a call becomes chat dicts and its own SamplingParams."""
    model = get_chat_model("vllm:org/model-7b?temperature=0.2&top_p=0.8&max_tokens=50&seed=7&tensor_parallel_size=2&dtype=bfloat16")
    (llm,) = FakeLLM.instances
    assert llm.kwargs == {"model": "org/model-7b", "tensor_parallel_size": 2, "dtype": "bfloat16"}

    messages = [
        SystemMessage("You are a counsellor."),
        HumanMessage("Hello."),
        AIMessage("Hi, what brings you here?"),
        HumanMessage("Exams."),
        HumanMessage("And sleep."),  # merged with the one before: templates reject repeated roles
    ]
    reply = model.invoke(messages, stop=["\nClient:"], seed=42)
    conversations, params, kwargs = llm.calls[-1]
    assert conversations == [[
        {"role": "system", "content": "You are a counsellor."},
        {"role": "user", "content": "Hello."},
        {"role": "assistant", "content": "Hi, what brings you here?"},
        {"role": "user", "content": "Exams.\n\nAnd sleep."},
    ]]
    assert params[0].kwargs == {"temperature": 0.2, "top_p": 0.8, "max_tokens": 50, "seed": 42, "stop": ["\nClient:"]}
    assert kwargs == {"use_tqdm": False}
    assert reply.content == "echo: Exams. And sleep."
    assert reply.usage_metadata == {"input_tokens": 17, "output_tokens": 4, "total_tokens": 21}
    assert reply.response_metadata["finish_reason"] == "stop"

    # No seed in the call: the model string's; per-call settings override, None keeps the model's.
    model.invoke([HumanMessage("one two three")], temperature=0.0, top_p=None, max_tokens=2)
    params = llm.calls[-1][1]
    assert params[0].kwargs == {"temperature": 0.0, "top_p": 0.8, "max_tokens": 2, "seed": 7}
    assert model.invoke([HumanMessage("one two three")], max_tokens=2).response_metadata["finish_reason"] == "length"


def test_stream_yields_the_whole_reply_with_usage(fake_vllm):
    """vLLM needs CUDA, so a fake `vllm` module stands in for it: streaming gives one chunk with usage and finish reason."""
    model = get_chat_model("vllm:m")
    chunks = list(model.stream([HumanMessage("hi there")]))
    assert "".join(c.content for c in chunks) == "echo: hi there"
    assert chunks[-1].usage_metadata["output_tokens"] == 3
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    assert model.get_num_tokens("a b c") == 3  # the engine's tokenizer, not a downloaded GPT-2 one


def test_strings_naming_one_model_share_one_engine(fake_vllm):
    """vLLM needs CUDA, so a fake `vllm` module stands in for it: one engine per model; engine options must agree."""
    counselor = get_chat_model("vllm:m?max_model_len=4096&temperature=0.7")
    client = get_chat_model("vllm:m?temperature=1.0")
    assert len(FakeLLM.instances) == 1 and counselor.engine is client.engine
    with pytest.raises(PsyagentsError, match="already loaded with max_model_len=4096") as err:
        get_chat_model("vllm:m?max_model_len=8192")
    _one_line(err.value)
    get_chat_model("vllm:other")
    assert len(FakeLLM.instances) == 2


# -- batching ------------------------------------------------------------------------------------


def test_concurrent_calls_are_batched(fake_vllm, monkeypatch):
    """vLLM needs CUDA, so a fake `vllm` module stands in for it: 8 threads calling at once share one or two chat calls."""
    monkeypatch.setattr(FakeLLM, "delay", 0.05)
    model = get_chat_model("vllm:m?batch_window_ms=100")
    (llm,) = FakeLLM.instances
    start = threading.Barrier(8)
    replies: dict[int, AIMessage] = {}

    def call(i: int) -> None:
        start.wait()
        replies[i] = model.invoke([SystemMessage("Be brief."), HumanMessage(f"message number {i}" + " word" * i)], seed=100 + i)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(replies) == list(range(8))
    assert 1 <= len(llm.calls) <= 2, [len(c[0]) for c in llm.calls]
    assert sum(len(conversations) for conversations, _, _ in llm.calls) == 8
    for conversations, params, _ in llm.calls:
        assert len(conversations) == len(params)
        for conversation, p in zip(conversations, params):  # each conversation travels with its own params
            i = int(conversation[-1]["content"].split()[2])
            assert p.kwargs["seed"] == 100 + i
    for i, reply in replies.items():  # each caller gets its own reply and counts
        assert reply.content == f"echo: message number {i}" + " word" * i
        assert reply.usage_metadata["output_tokens"] == 4 + i
        assert reply.usage_metadata["input_tokens"] == 3 + 3 + i + 1


def test_batcher_gathers_within_the_window_and_keeps_order():
    """The batcher alone, with no vLLM at all: items submitted together run as one batch, each caller gets its result."""
    seen: list[list[int]] = []
    batcher = pv.Batcher(lambda items: (seen.append(list(items)), [i * 10 for i in items])[1], window=0.2)
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, batcher.submit(i))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    batcher.close(5)
    assert results == {i: i * 10 for i in range(6)}
    assert len(seen) == 1 and sorted(seen[0]) == list(range(6))
    assert batcher.batches == 1
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(1)


def test_batcher_isolates_a_failing_item():
    """The batcher alone: when a batch fails, each item runs alone, so only the bad one's caller sees the error."""

    def run(items):
        if "bad" in items:
            raise ValueError("prompt too long")
        return [f"ok {i}" for i in items]

    batcher = pv.Batcher(run, window=0.2)
    outcome: dict[str, object] = {}

    def call(item):
        try:
            outcome[item] = batcher.submit(item)
        except ValueError as exc:
            outcome[item] = exc

    threads = [threading.Thread(target=call, args=(item,)) for item in ("a", "bad", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    batcher.close(5)
    assert outcome["a"] == "ok a" and outcome["b"] == "ok b"
    assert isinstance(outcome["bad"], ValueError)


def test_batcher_sends_whatever_waits_when_the_window_is_zero():
    """The batcher alone: a zero window still batches the items already queued while the previous batch ran."""
    sizes: list[int] = []

    def run(items):
        sizes.append(len(items))
        time.sleep(0.1)
        return items

    batcher = pv.Batcher(run, window=0.0)
    threads = [threading.Thread(target=batcher.submit, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    for t in threads:
        t.join(10)
    batcher.close(5)
    assert sum(sizes) == 5 and len(sizes) < 5


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("temprature=0.5", "unknown vllm model option 'temprature' (did you mean 'temperature'?)"),
        ("tensor_parallel_size=0", "'tensor_parallel_size': '0'"),
        ("tensor_parallel_size=two", "'tensor_parallel_size': 'two'"),
        ("gpu_memory_utilization=1.5", "'gpu_memory_utilization': '1.5'"),
        ("max_model_len=-1", "'max_model_len': '-1'"),
        ("dtype=int8", "'dtype': 'int8' (expected one of auto, half"),
        ("temperature=-1", "'temperature': '-1'"),
        ("top_p=0", "'top_p': '0'"),
        ("max_tokens=abc", "'max_tokens': 'abc'"),
        ("seed=1.5", "'seed': '1.5'"),
        ("batch_window_ms=nan", "'batch_window_ms': 'nan'"),
    ],
)
def test_bad_options_fail_in_one_line_before_vllm_starts(fake_vllm, options, message):
    """vLLM needs CUDA, so a fake `vllm` module stands in for it: a bad option name or value is a one-line error naming it."""
    with pytest.raises(PsyagentsError) as err:
        get_chat_model(f"vllm:m?{options}")
    assert message in _one_line(err.value)
    assert FakeLLM.instances == []


def test_bad_per_call_arguments_are_errors(fake_vllm):
    """vLLM needs CUDA, so a fake `vllm` module stands in for it: invoke(..., temperature=-1) or an unknown argument fails."""
    model = get_chat_model("vllm:m")
    with pytest.raises(PsyagentsError, match="'temperature'"):
        model.invoke([HumanMessage("hi")], temperature=-1)
    with pytest.raises(PsyagentsError, match="unknown vllm model generation argument 'top_k'"):
        model.invoke([HumanMessage("hi")], top_k=5)


def test_without_vllm_the_error_says_what_to_use_instead(registered):
    """vLLM is really not installed here: a vllm: string is a one-line error naming local: and openai: instead."""
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(PsyagentsError) as err:
        get_chat_model("vllm:Qwen/Qwen2.5-7B-Instruct")
    text = _one_line(err.value)
    assert text.startswith("vllm:Qwen/Qwen2.5-7B-Instruct needs vLLM on a CUDA GPU")
    assert "pip install 'psyagents-vllm[gpu]'" in text and "local:PATH" in text and "openai:NAME?base_url=" in text


def test_without_cuda_the_error_says_so(fake_vllm, monkeypatch):
    """vLLM needs CUDA, so a fake `vllm` module stands in for it; with torch finding no GPU the error says so in one line."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PsyagentsError) as err:
        get_chat_model("vllm:m")
    text = _one_line(err.value)
    assert "vllm:m needs a CUDA GPU" in text and "local:PATH" in text
    assert FakeLLM.instances == []


# -- serve and attach ----------------------------------------------------------------------------


@contextmanager
def models_server(models: list[str], *, port: int = 0, key: str | None = None):
    """A loopback HTTP server answering GET /v1/models like vLLM's OpenAI server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if key and self.headers.get("Authorization") != f"Bearer {key}":
                self.send_error(401)
                return
            if self.path != "/v1/models":
                self.send_error(404)
                return
            body = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in models]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cli(registered):
    """The psyagents CLI with the plugin's `vllm` commands."""
    from psyagents.cli import cli
    from psyagents.plugins import pm

    pm.hook.register_commands(cli=cli)
    try:
        yield cli
    finally:
        cli.commands.pop("vllm", None)


def test_attach_prints_the_model_strings(cli):
    """`psyagents vllm attach URL` against a loopback server standing in for vLLM's /v1/models (no vLLM needed)."""
    with models_server(["Qwen/Qwen2.5-7B-Instruct", "counsellor-lora"]) as port:
        for url in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/v1/", f"127.0.0.1:{port}/v1/models"):
            result = CliRunner().invoke(cli, ["vllm", "attach", url])
            assert result.exit_code == 0, result.output
            assert result.output.splitlines() == [
                f"openai:Qwen/Qwen2.5-7B-Instruct?base_url=http://127.0.0.1:{port}/v1",
                f"openai:counsellor-lora?base_url=http://127.0.0.1:{port}/v1",
            ]


def test_attach_errors(cli):
    """`attach` to a server wanting a key, and to a port where nothing listens: one-line errors (no vLLM needed)."""
    with models_server(["m"], key="secret") as port:
        result = CliRunner().invoke(cli, ["vllm", "attach", f"http://127.0.0.1:{port}"])
        assert isinstance(result.exception, PsyagentsError) and "--api-key" in _one_line(result.exception)
        result = CliRunner().invoke(cli, ["vllm", "attach", f"http://127.0.0.1:{port}", "--api-key", "secret"])
        assert result.output == f"openai:m?base_url=http://127.0.0.1:{port}/v1\n"
    result = CliRunner().invoke(cli, ["vllm", "attach", f"http://127.0.0.1:{_free_port()}"])
    assert isinstance(result.exception, PsyagentsError) and "nothing answers" in _one_line(result.exception)


def test_attach_to_nothing_exits_2_with_one_line(cli, capsys):
    """Through the real CLI entry point: a user error is `Error: ...` on stderr and exit code 2 (no vLLM needed)."""
    from psyagents.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["vllm", "attach", f"127.0.0.1:{_free_port()}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: nothing answers at http://127.0.0.1:") and "\n" not in err


def test_serve_command_line(tmp_path, monkeypatch):
    """The argv `serve` would run, for a given `vllm` executable, one on PATH, and an importable (fake) vllm module."""
    exe = tmp_path / "bin" / "vllm"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    argv = pv.serve_argv("Qwen/Qwen2.5-7B-Instruct", port=8001, extra=["--tensor-parallel-size", "2"], vllm=str(exe))
    assert argv == [str(exe), "serve", "Qwen/Qwen2.5-7B-Instruct", "--host", "127.0.0.1", "--port", "8001", "--tensor-parallel-size", "2"]

    monkeypatch.setenv("PATH", str(exe.parent))
    assert pv.serve_argv("m", host="0.0.0.0")[:3] == [str(exe), "serve", "m"]

    monkeypatch.setenv("PATH", str(tmp_path))  # no vllm on PATH; vLLM (a fake) importable here
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    assert pv.serve_argv("m", extra=["--max-model-len", "4096"]) == [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", "m",
        "--host", "127.0.0.1", "--port", "8000", "--max-model-len", "4096",
    ]
    with pytest.raises(PsyagentsError, match="is not an executable"):
        pv.serve_argv("m", vllm=str(tmp_path / "nope"))


def test_serve_dry_run_passes_unknown_arguments_to_vllm(cli, tmp_path):
    """`serve --dry-run` prints the command line; options psyagents does not know go to vLLM in order (nothing starts)."""
    exe = tmp_path / "vllm"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    args = ["vllm", "serve", "org/m", "--port", "8123", "--tensor-parallel-size", "2", "--vllm", str(exe),
            "--max-model-len=4096", "--dry-run", "--enforce-eager"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{exe} serve org/m --host 127.0.0.1 --port 8123 --tensor-parallel-size 2 --max-model-len=4096 --enforce-eager\n"
    )


def test_serve_without_vllm_exits_2_with_one_line(cli, monkeypatch, tmp_path, capsys):
    """vLLM is really not installed here: `psyagents vllm serve` is a one-line error with exit code 2."""
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    from psyagents.cli import main

    monkeypatch.delenv(pv.VLLM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        main(["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: `psyagents vllm serve` needs vLLM") and "\n" not in err


class FakeServerProcess:
    """Stands in for the `vllm serve` subprocess: it "starts" a loopback /v1/models server on the --port it is given."""

    started: list[FakeServerProcess] = []

    def __init__(self, argv, **kwargs):
        self.argv, self.kwargs, self.pid = argv, kwargs, 4242
        self.returncode = None
        port = int(argv[argv.index("--port") + 1])
        self._server = models_server(["org/m"], port=port)
        self._server.__enter__()
        FakeServerProcess.started.append(self)

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        self.terminate()
        return self.returncode

    def terminate(self):
        if self.returncode is None:
            self._server.__exit__(None, None, None)
            self.returncode = 0

    kill = terminate


def test_serve_waits_for_the_server_and_prints_the_model_string(cli, tmp_path, monkeypatch):
    """`serve` with a fake process (nothing real starts): it waits for /v1/models, then prints the openai: string."""
    exe = tmp_path / "vllm"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    monkeypatch.setattr(FakeServerProcess, "started", [])
    monkeypatch.setattr(pv.subprocess, "Popen", FakeServerProcess)
    port = _free_port()
    result = CliRunner().invoke(cli, ["vllm", "serve", "org/m", "--port", str(port), "--vllm", str(exe), "--timeout", "10"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == f"openai:org/m?base_url=http://127.0.0.1:{port}/v1\n"
    (process,) = FakeServerProcess.started
    assert process.argv == [str(exe), "serve", "org/m", "--host", "127.0.0.1", "--port", str(port)]
    assert process.kwargs["stdout"] == 2  # the server's output goes to stderr; stdout holds only model strings

    # --detach leaves it running and says how to stop it; its output goes to the log file.
    port = _free_port()
    log = tmp_path / "serve.log"
    result = CliRunner().invoke(cli, ["vllm", "serve", "org/m", "--port", str(port), "--vllm", str(exe), "--detach", "--log", str(log)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == f"openai:org/m?base_url=http://127.0.0.1:{port}/v1\n"
    assert "kill 4242" in result.stderr and FakeServerProcess.started[-1].kwargs["start_new_session"] is True
    assert FakeServerProcess.started[-1].poll() is None
    FakeServerProcess.started[-1].terminate()

    # A port already taken is refused before anything starts.
    with models_server(["x"]) as taken:
        result = CliRunner().invoke(cli, ["vllm", "serve", "org/m", "--port", str(taken), "--vllm", str(exe)])
    assert isinstance(result.exception, PsyagentsError) and "in use" in str(result.exception)
    assert len(FakeServerProcess.started) == 2


def test_serve_reports_a_server_that_dies_while_starting(cli, tmp_path, monkeypatch):
    """`serve` with a fake process that exits before answering (nothing real starts): a one-line error with its code."""
    exe = tmp_path / "vllm"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)

    class Dies:
        def __init__(self, argv, **kwargs):
            self.pid = 1

        def poll(self):
            return 1

    monkeypatch.setattr(pv.subprocess, "Popen", Dies)
    monkeypatch.setattr(pv, "POLL_INTERVAL", 0.01)
    result = CliRunner().invoke(cli, ["vllm", "serve", "org/m", "--port", str(_free_port()), "--vllm", str(exe)])
    assert isinstance(result.exception, PsyagentsError)
    assert "exited with code 1 before answering" in _one_line(result.exception)


# -- the distribution ----------------------------------------------------------------------------


def test_distribution_announces_the_plugin_and_keeps_vllm_optional(tmp_path):
    """The built wheel: entry point psyagents -> vllm = psyagents_vllm; vLLM only in the `gpu` extra (nothing installed)."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(PLUGIN_DIR)],
        capture_output=True, text=True, timeout=300,
    )
    if build.returncode != 0 and "hatchling" in build.stderr:
        pytest.skip("hatchling is not installed (make setup installs it)")
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("psyagents_vllm-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "psyagents_vllm.py" in names
    assert "[psyagents]\nvllm = psyagents_vllm" in entry_points
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert requires == ["Requires-Dist: psyagents", "Requires-Dist: vllm>=0.6; extra == 'gpu'"]
