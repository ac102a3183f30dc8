"""The optional llama.cpp provider: model strings and the missing-package error always; real turns when llama-cpp-python is installed."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

import psyagents
from psyagents.default_plugins.llamacpp_models import EMBEDDED_GGUF, MISSING_LLAMA_CPP, llamacpp_settings
from psyagents.errors import NotFoundError, PsyagentsError
from psyagents.models import ModelSpecError, get_chat_model, providers

from .conftest import run_cli


def test_provider_is_registered():
    assert "llamacpp" in providers()


def test_options_are_parsed_and_checked():
    path, load, call = llamacpp_settings("smollm2", {"n_ctx": "2048", "n_threads": "1", "temperature": "0", "max_tokens": "32", "seed": "7"})
    assert path.name == EMBEDDED_GGUF and path.is_file()
    assert load == {"n_ctx": 2048, "n_threads": 1, "n_batch": 512}
    assert call == {"temperature": 0.0, "top_p": 0.9, "max_tokens": 32, "repeat_penalty": 1.1, "seed": 7}
    assert llamacpp_settings("smollm2", {"n_ctx": "128"})[1]["n_batch"] == 128  # a batch never exceeds the context
    assert llamacpp_settings("smollm2", {})[1]["n_threads"] >= 1


@pytest.mark.parametrize(
    "spec, error, message",
    [
        ("llamacpp:smollm2?temprature=1", ModelSpecError, "llamacpp models take no option 'temprature'; known: n_ctx"),
        ("llamacpp:smollm2?n_ctx=lots", ModelSpecError, "option 'n_ctx': bad value 'lots', expected a whole number >= 64"),
        ("llamacpp:smollm2?top_p=0", ModelSpecError, r"option 'top_p': bad value '0', expected a number in \(0, 1\]"),
        ("llamacpp:smollm2?max_tokens=0", ModelSpecError, "option 'max_tokens'"),
        ("llamacpp:/nowhere/model.gguf", NotFoundError, "llamacpp model file '/nowhere/model.gguf' does not exist"),
        ("llamacpp:/nowhere/model.bin", ModelSpecError, "expected a .gguf file or 'smollm2'"),
    ],
)
def test_bad_model_strings_fail_before_anything_loads(spec, error, message, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # the checks must not need the package
    with pytest.raises(error, match=message):
        get_chat_model(spec)


def test_missing_package_gives_one_line_with_the_install_command(monkeypatch):
    """llama-cpp-python is simulated absent (a None entry in sys.modules makes its import fail)."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(PsyagentsError) as raised:
        get_chat_model("llamacpp:smollm2")
    assert str(raised.value) == MISSING_LLAMA_CPP
    assert "\n" not in MISSING_LLAMA_CPP and "pip install 'psyagents[llamacpp]'" in MISSING_LLAMA_CPP


def test_missing_package_in_the_cli(tmp_path):
    """The real CLI, with a stand-in llama_cpp package first on the path whose import fails as if it were absent."""
    stub = tmp_path / "stub" / "llama_cpp"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('simulated: llama-cpp-python is not installed')\n")
    result = run_cli("run", "--counselor", "llamacpp:smollm2", "--client", "scripted:client", "--db", str(tmp_path / "t.db"),
                     env={"PYTHONPATH": str(tmp_path / "stub")})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"Error: {MISSING_LLAMA_CPP}"]
    assert not (tmp_path / "t.db").exists()


def test_a_broken_gguf_file_is_a_one_line_error(tmp_path):
    pytest.importorskip("llama_cpp")
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(ModelSpecError, match=f"cannot load llama.cpp model '{bad}': Failed to load model from file"):
        get_chat_model(f"llamacpp:{bad}")


@pytest.mark.model
def test_a_prompt_longer_than_the_context_names_n_ctx():
    pytest.importorskip("llama_cpp")
    model = get_chat_model("llamacpp:smollm2?n_ctx=128&max_tokens=8")
    with pytest.raises(PsyagentsError, match=r"does not fit its context window of 128 tokens; raise n_ctx .*\?n_ctx=256"):
        model.invoke("word " * 300)
    assert model.invoke("Say hello.").content.strip()  # the model is still usable afterwards


@pytest.mark.model
def test_real_turns_on_the_embedded_gguf(db):
    pytest.importorskip("llama_cpp")
    model = get_chat_model("llamacpp:smollm2?temperature=0.7&max_tokens=24")
    prompt = [SystemMessage("You are a kind counsellor. Answer in one sentence."), HumanMessage("I can't sleep before exams.")]
    first, again = model.invoke(prompt, seed=3), model.invoke(prompt, seed=3)
    assert first.content.strip() and first.content == again.content  # a call's seed fixes its sampling
    assert 0 < first.usage_metadata["output_tokens"] <= 24 and first.usage_metadata["input_tokens"] > 10
    chunks = list(model.stream(prompt, seed=3))
    streamed = chunks[0]
    for chunk in chunks[1:]:
        streamed += chunk
    assert len(chunks) > 3 and streamed.content == first.content
    assert abs(streamed.usage_metadata["output_tokens"] - first.usage_metadata["output_tokens"]) <= 1
    assert abs(streamed.usage_metadata["input_tokens"] - first.usage_metadata["input_tokens"]) <= 1

    # Calls from several threads take turns on the one loaded model (llama.cpp's context is not thread-safe).
    same_file = get_chat_model("llamacpp:smollm2?temperature=0.7&max_tokens=24&top_p=0.95")
    assert same_file.client is model.client
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda m: m.invoke(prompt, seed=3).content, [model, model, model]))
    assert replies == [first.content] * 3

    spec = "llamacpp:smollm2?max_tokens=48"
    session = psyagents.run_session("maya-exam-anxiety", "integrative", spec, spec, max_turns=2, db=db, seed=1)
    assert session.status == "completed"
    counselor = [t for t in session.turns if t.speaker == "counselor"]
    assert len(counselor) == 2 and all(t.text.strip() for t in counselor)
    assert all(t.completion_tokens and t.completion_tokens > 0 for t in counselor)
