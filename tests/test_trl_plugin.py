"""The TRL trainer plugin (plugins/psyagents-trl): `psyagents train sft|dpo|reward|kto|dpo-iter`.

The model tests train the real embedded model (SmolLM2-135M) with real TRL on CPU, on a few rows
in the formats the exports write, for one or two steps with short sequences; nothing is mocked.
The other tests cover settings, config files, data checks, pairing and prompts without a model.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import pytest

from psyagents import PsyagentsError
from tests.conftest import ROOT, run_cli

PLUGIN_DIR = ROOT / "plugins" / "psyagents-trl"
if str(PLUGIN_DIR) not in sys.path:  # the plugin from the repository, installed or not
    sys.path.insert(0, str(PLUGIN_DIR))

import psyagents_trl  # noqa: E402
from psyagents_trl import config as cfg  # noqa: E402

SYSTEM = {"role": "system", "content": "You are a professional psychological counsellor. Reply warmly and briefly."}
CLIENT_LINES = ["I can't sleep before my exams.", "My manager shouts at me every day.", "I feel lonely since I moved.", "I keep arguing with my sister."]
GOOD = "That sounds really hard. What is weighing on you most right now?"
BAD = "Just stop worrying about it and take a sleeping pill."
# Short sequences and one row a step keep each step at 1-3 s on two cores.
TINY = {"max_length": 64, "per_device_train_batch_size": 1, "logging_steps": 1, "learning_rate": 1e-4}


def _prompt(i: int) -> list[dict]:
    return [SYSTEM, {"role": "user", "content": CLIENT_LINES[i % len(CLIENT_LINES)]}]


def _write(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "validation.jsonl").write_text("", encoding="utf-8")  # exports write empty splits too
    return folder


def sft_data(folder: Path) -> Path:
    """Rows as `export sft --format messages` writes them."""
    return _write(folder, [{"messages": [*_prompt(i), {"role": "assistant", "content": GOOD}]} for i in range(4)])


def preference_data(folder: Path) -> Path:
    """Rows as `export preference|reward` writes them, with a per-principle rating column."""
    return _write(folder, [
        {"prompt": _prompt(i), "chosen": [{"role": "assistant", "content": GOOD}], "rejected": [{"role": "assistant", "content": BAD}],
         "chosen_empathy_rating": 5, "rejected_empathy_rating": 1}
        for i in range(4)
    ])


def kto_data(folder: Path) -> Path:
    """Rows as `export kto` writes them."""
    return _write(folder, [
        {"prompt": _prompt(i), "completion": [{"role": "assistant", "content": GOOD if i % 2 else BAD}], "label": bool(i % 2)}
        for i in range(4)
    ])


@pytest.fixture
def trl_plugin(plugin):
    plugin(psyagents_trl, "psyagents-trl-test")
    return psyagents_trl


def _train(*args, **kwargs):
    from psyagents_trl.training import train

    kwargs.setdefault("settings", TINY)
    kwargs.setdefault("max_steps", 2)
    kwargs.setdefault("echo", lambda message: None)
    return train(*args, **kwargs)


def _reply(model_string: str) -> str:
    from psyagents import get_chat_model

    model = get_chat_model(f"{model_string}?max_new_tokens=8&temperature=0")
    return model.invoke([SYSTEM, {"role": "user", "content": CLIENT_LINES[0]}]).content


# --- settings and config files (no model) ---------------------------------------------------------


def test_trainers_are_registered(trl_plugin):
    from psyagents.plugins import collect

    assert {"sft", "dpo", "reward", "kto", "dpo-iter"} <= set(collect("register_trainers"))


@pytest.mark.parametrize("name", ["sft-gpu", "dpo-gpu", "reward-gpu", "kto-gpu"])
def test_shipped_gpu_configs_are_valid_for_their_task(name):
    task = name.split("-")[0]
    settings = cfg.read_config(name, task)
    assert settings["bf16"] is True and settings["activation_checkpointing"] is True
    for other in set(cfg.TASKS) - {task}:
        with pytest.raises(PsyagentsError, match=rf"{name}.yaml: key 'task': this file is for '{task}', not '{other}'"):
            cfg.read_config(name, other)


def test_shipped_accelerate_configs_parse():
    import yaml

    for path in sorted((PLUGIN_DIR / "configs").glob("accelerate-*.yaml")):
        data = yaml.safe_load(path.read_text())
        assert data["distributed_type"] == "MULTI_GPU" and data["num_processes"] >= 2, path


def test_command_line_overrides_config_file(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("learning_rate: 3.0e-5\nmax_steps: 9\nsave_steps: 7\nlora: {r: 4, alpha: 8}\n")
    settings, plugin, source = cfg.resolve("sft", path, {"max_steps": 2, "learning_rate": 1e-4})
    assert (settings["max_steps"], settings["learning_rate"], settings["save_steps"]) == (2, 1e-4, 7)
    assert source == str(path) and plugin["lora"] == {"r": 4, "alpha": 8}
    assert settings["use_cpu"] is True and settings["report_to"] == "none"  # defaults under both
    lora = cfg.lora_config(plugin["lora"], str(path))
    assert (lora.r, lora.lora_alpha) == (4, 8)


@pytest.mark.parametrize("text, message", [
    ("learning_rat: 1.0e-4\n", r"my.yaml: unknown key 'learning_rat' \(did you mean 'learning_rate'\?\) for dpo"),
    ("beta: high\n", r"my.yaml: key 'beta': expected a number, not 'high'"),
    ("output_dir: /tmp/x\n", r"my.yaml: key 'output_dir' cannot be set here: it is set by --out"),
    ("task: sft\n", r"my.yaml: key 'task': this file is for 'sft', not 'dpo'"),
    ("lora: {rank: 4}\n", r"my.yaml: unknown LoRA key 'rank'"),
    ("dtype: float8\n", r"my.yaml: key 'dtype': expected one of float32, bfloat16, float16"),
    ("beta: [1\n", r"my.yaml: malformed YAML at line 2"),
    ("- beta\n", r"my.yaml: expected a mapping of settings"),
])
def test_config_file_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(PsyagentsError, match=message):
        cfg.resolve("dpo", path)


def test_missing_config_suggests_a_shipped_one():
    with pytest.raises(PsyagentsError, match=r"config file 'sft-gpus' does not exist \(did you mean 'sft-gpu'\?\)"):
        cfg.find_config("sft-gpus")


def test_settings_trl_rejects_become_one_line(tmp_path):
    """A value only TRL's own checks catch, reported with the file it came from."""
    path = tmp_path / "gpu.yaml"
    path.write_text("save_strategy: sometimes\n")
    settings, _, source = cfg.resolve("sft", path)
    with pytest.raises(PsyagentsError, match=r"training settings \(.*gpu.yaml and the command line\): .*sometimes"):
        cfg.trl_args("sft", settings, tmp_path / "out", f"{source} and the command line")


def test_set_values_are_read_as_yaml():
    assert cfg.parse_set(["learning_rate=1e-4", "bf16=false", "save_steps=1", "report_to=none"]) == {
        "learning_rate": 1e-4, "bf16": False, "save_steps": 1, "report_to": "none"}
    with pytest.raises(PsyagentsError, match="expected KEY=VALUE"):
        cfg.parse_set(["learning_rate"])


def test_data_must_have_the_task_columns(tmp_path):
    from psyagents_trl.training import load_data

    sft = sft_data(tmp_path / "sft")
    assert load_data("sft", sft)["train"].column_names == ["messages"]
    with pytest.raises(PsyagentsError, match=r"dpo rows need the column\(s\) chosen, rejected \(found messages\).*export preference"):
        load_data("dpo", sft)
    pref = load_data("reward", preference_data(tmp_path / "pref"))["train"]
    assert pref.column_names == ["prompt", "chosen", "rejected"]  # the rating columns stay out of the trainer
    with pytest.raises(PsyagentsError, match="no train.jsonl"):
        load_data("sft", tmp_path)
    sharegpt = _write(tmp_path / "sharegpt", [{"system": "S", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}])
    assert load_data("sft", sharegpt)["train"][0]["messages"] == [
        {"role": "system", "content": "S"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def test_a_malformed_data_file_names_its_bad_line(tmp_path):
    from psyagents_trl.training import load_data

    data = sft_data(tmp_path / "sft")
    train = data / "train.jsonl" if data.is_dir() else data
    lines = train.read_text(encoding="utf-8").splitlines()
    train.write_text("\n".join([*lines, lines[0][:25]]) + "\n", encoding="utf-8")  # cut off mid-row, as by a crash
    with pytest.raises(PsyagentsError, match=rf"train.jsonl line {len(lines) + 1}: not JSON"):
        load_data("sft", data)
    train.write_text("\n".join([*lines, "[1, 2]"]) + "\n", encoding="utf-8")
    with pytest.raises(PsyagentsError, match=rf"train.jsonl line {len(lines) + 1}: expected a JSON object, got list"):
        load_data("sft", data)


def test_a_corrupt_run_manifest_is_refused_in_one_line(tmp_path):
    data = sft_data(tmp_path / "data")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "psyagents-train.json").write_text('{"task": "sft", "sta', encoding="utf-8")
    with pytest.raises(PsyagentsError, match="psyagents-train.json is not a psyagents training manifest"):
        _train("sft", data, "local:smollm2", tmp_path / "out")


def test_base_must_be_local(tmp_path):
    from psyagents_trl.training import resolve_base

    with pytest.raises(PsyagentsError, match="no such folder .*local models only"):
        resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct")
    with pytest.raises(PsyagentsError, match="no config.json or adapter_config.json"):
        resolve_base(f"local:{tmp_path}")


def test_resume_without_a_checkpoint_and_mixed_runs_are_refused(tmp_path):
    data = sft_data(tmp_path / "data")
    with pytest.raises(PsyagentsError, match="no checkpoint in .* to resume from"):
        _train("sft", data, "local:smollm2", tmp_path / "out", resume=True)
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "psyagents-train.json").write_text(json.dumps({"task": "dpo", "status": "completed"}))
    with pytest.raises(PsyagentsError, match="holds a dpo run, not sft"):
        _train("sft", data, "local:smollm2", tmp_path / "done")


def test_resume_needs_the_same_kind_of_run(tmp_path):
    from psyagents.default_plugins.local_models import embedded_model_path

    out = tmp_path / "out"
    (out / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (out / "psyagents-train.json").write_text(json.dumps({
        "task": "sft", "status": "interrupted", "lora": None, "base": "local:smollm2",
        "base_path": str(embedded_model_path().resolve()), "command": "psyagents train sft --data d --base local:smollm2 --out o"}))
    with pytest.raises(PsyagentsError, match=r"trained all weights of local:smollm2; resume it with the same options: "
                                             r"psyagents train sft --data d --base local:smollm2 --out o --resume"):
        _train("sft", sft_data(tmp_path / "data"), "local:smollm2", out, lora=True, resume=True)


def test_pairing_best_against_worst():
    from psyagents_trl.iterative import pair

    prompt = _prompt(0)
    scored = [{"text": "a", "score": 0.2, "seed": 1}, {"text": "b", "score": 0.9, "seed": 2}, {"text": "c", "score": -0.4, "seed": 3}]
    found, reason = pair(prompt, scored, 0.0)
    assert reason is None and found["chosen"][0]["content"] == "b" and found["rejected"][0]["content"] == "c"
    assert found["score_gap"] == pytest.approx(1.3) and (found["chosen_seed"], found["rejected_seed"]) == (2, 3)
    assert pair(prompt, scored, 2.0) == (None, "tie")  # gap below the minimum
    assert pair(prompt, [{"text": "a", "score": 1, "seed": 1}, {"text": "b", "score": 1, "seed": 2}], 0) == (None, "tie")
    assert pair(prompt, [{"text": "a", "score": 1, "seed": 1}, {"text": "a", "score": 3, "seed": 2}], 0) == (None, "too_few")
    assert pair(prompt, [{"text": "a", "score": None, "seed": 1}, {"text": "b", "score": 3, "seed": 2}], 0) == (None, "too_few")


def test_prompts_from_exports_and_traces(tmp_path):
    import psyagents
    from psyagents_trl.iterative import load_prompts

    assert load_prompts(preference_data(tmp_path / "pref")) == [_prompt(i) for i in range(4)]
    rows = [{"messages": [SYSTEM, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
                          {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a2"}]}]
    prompts = load_prompts(_write(tmp_path / "sft", rows))
    assert [p[-1]["content"] for p in prompts] == ["u1", "u2"] and prompts[1][2] == {"role": "assistant", "content": "a1"}
    db = tmp_path / "traces.db"
    psyagents.run_session("maya-exam-anxiety", "cbt", "scripted:counselor", "scripted:client", max_turns=2, db=db)
    from_db = load_prompts(db)
    assert len(from_db) == 2 and from_db[0][0]["role"] == "system" and all(p[-1]["role"] == "user" for p in from_db)
    assert len(load_prompts(db, limit=1)) == 1
    with pytest.raises(PsyagentsError, match="does not exist"):
        load_prompts(tmp_path / "nothing")
    with pytest.raises(PsyagentsError, match="line 1 is not a JSON object"):
        load_prompts(_write(tmp_path / "list", [[1, 2]]))


def test_judge_scorer_ranks_on_shared_principles():
    """dpo-iter --judge: the model-free heuristic judge, on its own principle set, prefers a short open reply to a list;
    samples are compared on the principles all of them were scored on (mean on 0..1), so a principle the judge
    cannot rate (empathy: a failed 'no rule' verdict) costs no sample anything."""
    from psyagents_trl.iterative import JudgeScorer

    scorer = JudgeScorer("heuristic")
    assert [p.id for p in scorer.principles] == ["reply-form"]
    good, bad = scorer.score(_prompt(0), [GOOD, "1. Sleep more\n2. Study less\n3. Take pills"])
    assert good["score"] == (good["ratings"]["reply-form"] - 1) / 4 and good["score"] > bad["score"]
    mixed = JudgeScorer("heuristic", principles="psychocounsel,reply-form")
    assert len(mixed.principles) == 8  # sets and ids, as every --principles option takes them
    good2, bad2 = mixed.score(_prompt(0), [GOOD, "1. Sleep more\n2. Study less\n3. Take pills"])
    assert (good2["score"], bad2["score"]) == (good["score"], bad["score"])


def test_dpo_iter_needs_one_scorer(tmp_path):
    from psyagents_trl.iterative import dpo_iter

    with pytest.raises(PsyagentsError, match="exactly one of --reward-model PATH and --judge SPEC"):
        dpo_iter(tmp_path, "local:smollm2", tmp_path / "out")


@pytest.mark.skipif(not any(d.metadata["Name"] == "psyagents-trl" for d in importlib.metadata.distributions()),
                    reason="psyagents-trl is not installed (make setup installs it)")
def test_cli_error_is_one_line_exit_2(tmp_path):
    """The real entry point with the installed plugin: a malformed --set, caught before anything heavy loads."""
    data = sft_data(tmp_path / "data")
    result = run_cli("train", "sft", "--data", str(data), "--base", "local:smollm2", "--out", str(tmp_path / "out"),
                     "--set", "learning_rate", env={"PSYAGENTS_LOAD_PLUGINS": "psyagents-trl"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == ["Error: --set 'learning_rate': expected KEY=VALUE, e.g. --set learning_rate=1e-4"]
    assert not (tmp_path / "out").exists()


# --- real training on the embedded model ----------------------------------------------------------


def _tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


@pytest.mark.model
def test_sft_full_fine_tuning_gives_a_local_counsellor(tmp_path):
    from psyagents.default_plugins.local_models import embedded_model_path

    out = tmp_path / "sft"
    manifest = _train("sft", sft_data(tmp_path / "data"), "local:smollm2", out)
    assert manifest["status"] == "completed" and manifest["saved"] == "model" and manifest["global_step"] == 2
    assert manifest["lora"] is None and manifest["data_rows"] == {"train": 4}
    assert [e["step"] for e in manifest["log_history"] if "loss" in e] == [1, 2]
    assert json.loads((out / "psyagents-train.json").read_text()) == manifest
    trained, base = _tensors(out), _tensors(embedded_model_path())
    assert trained.keys() == base.keys()
    assert any(not (trained[k] == base[k]).all() for k in base), "no weight changed"
    assert _reply(f"local:{out}").strip()


@pytest.mark.model
def test_dpo_lora_adapter_is_a_local_counsellor(tmp_path):
    from psyagents.default_plugins.local_models import embedded_model_path

    out = tmp_path / "dpo"
    manifest = _train("dpo", preference_data(tmp_path / "data"), "local:smollm2", out, lora=True)
    assert manifest["status"] == "completed" and manifest["saved"] == "adapter" and manifest["lora"]["r"] == 8
    assert "rewards/margins" in manifest["log_history"][0]
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert Path(adapter["base_model_name_or_path"]) == embedded_model_path().resolve()
    lora_b = [t for k, t in _tensors(out).items() if "lora_B" in k]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b), "LoRA B starts at zero and should have moved"
    assert _reply(f"local:{out}").strip()


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory) -> Path:
    """A reward model trained for two LoRA steps (saved merged: one sequence classifier)."""
    tmp = tmp_path_factory.mktemp("reward")
    out = tmp / "reward"
    manifest = _train("reward", preference_data(tmp / "data"), "local:smollm2", out, lora=True)
    assert manifest["status"] == "completed" and manifest["saved"] == "model"
    return out


@pytest.mark.model
def test_reward_model_scores_text_and_is_a_judge(reward_model):
    from psyagents_trl.scoring import RewardModel

    model = RewardModel(reward_model)
    good, bad = model.score([[*_prompt(0), {"role": "assistant", "content": GOOD}], [*_prompt(0), {"role": "assistant", "content": BAD}]])
    assert isinstance(good, float) and good != bad
    assert model.score_reply(_prompt(0), GOOD) == pytest.approx(good, abs=1e-4)

    from psyagents.judging import get_judge
    from psyagents.registry import get_principle

    judge = get_judge(f"reward:{reward_model}")
    verdict, = judge.rate_reply([("client", CLIENT_LINES[0])], GOOD, [get_principle("reward")])
    assert verdict.status == "ok" and 0 < verdict.score < 1


@pytest.mark.model
def test_kto_trains(tmp_path):
    # KTO estimates its KL term from mismatched rows of a batch, so it needs two rows a step.
    manifest = _train("kto", kto_data(tmp_path / "data"), "local:smollm2", tmp_path / "kto", lora=True, max_steps=1,
                      settings={**TINY, "per_device_train_batch_size": 2})
    assert manifest["status"] == "completed" and manifest["global_step"] == 1 and manifest["saved"] == "adapter"
    assert "kl" in manifest["log_history"][0]


@pytest.mark.model
def test_interrupted_run_says_how_to_resume_and_resumes(tmp_path):
    """A real SIGINT (Ctrl-C) during step 1 stops after the step with a checkpoint; a KeyboardInterrupt raised by a
    callback during step 2 of the resumed run stands in for a hard stop; the second resume finishes."""
    import os
    import signal

    from transformers import TrainerCallback

    class CtrlC(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 0:
                os.kill(os.getpid(), signal.SIGINT)

    class HardStop(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 1:
                raise KeyboardInterrupt

    data, out, said = sft_data(tmp_path / "data"), tmp_path / "out", []
    with pytest.raises(KeyboardInterrupt):  # save_steps is 50: only the Ctrl-C handling saves at step 1
        _train("sft", data, "local:smollm2", out, lora=True, callbacks=[CtrlC()], echo=said.append)
    assert any("Stopping after this step and saving a checkpoint" in line for line in said)
    manifest = json.loads((out / "psyagents-train.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["global_step"] == 1
    assert manifest["checkpoint"] == str(out / "checkpoints" / "checkpoint-1")
    hint = said[-1]
    assert "Training interrupted at step 1" in hint and "checkpoint-1 (step 1)" in hint
    assert hint.splitlines()[-1] == f"Resume with: {manifest['command']} --resume"
    assert "--lora" in manifest["command"] and "--max-steps 2" in manifest["command"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back

    with pytest.raises(PsyagentsError, match="checkpoints of an unfinished run: add --resume"):
        _train("sft", data, "local:smollm2", out, lora=True)
    with pytest.raises(KeyboardInterrupt):
        _train("sft", data, "local:smollm2", out, lora=True, resume=True, callbacks=[HardStop()], echo=said.append)
    assert json.loads((out / "psyagents-train.json").read_text())["status"] == "interrupted"
    assert "Last checkpoint: " + str(out / "checkpoints" / "checkpoint-1") in said[-1]

    manifest = _train("sft", data, "local:smollm2", out, lora=True, resume=True)
    assert manifest["status"] == "completed" and manifest["global_step"] == 2
    assert manifest["resumed_from"] == [str(out / "checkpoints" / "checkpoint-1")] * 2
    assert [e["step"] for e in manifest["log_history"] if "loss" in e] == [1, 2]  # step 1 from before the interruption
    assert (out / "adapter_model.safetensors").is_file()


@pytest.mark.model
def test_dpo_iter_two_rounds(tmp_path, reward_model):
    from psyagents_trl.iterative import dpo_iter

    prompts = preference_data(tmp_path / "prompts")
    out, said = tmp_path / "iter", []
    manifest = dpo_iter(prompts, "local:smollm2", out, reward_model=reward_model, rounds=2, samples=3, max_prompts=2,
                        max_new_tokens=12, max_steps=1, settings=TINY, lora=True, echo=said.append)
    assert manifest["status"] == "completed" and [r["round"] for r in manifest["rounds"]] == [1, 2]
    assert manifest["rounds"][1]["policy"] == str(out / "round-1" / "model")
    assert manifest["policy"] == str(out / "round-2" / "model")
    seeds = []
    for k in (1, 2):
        folder = out / f"round-{k}"
        samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == 2 and all(len(s["samples"]) == 3 for s in samples)
        seeds += [x["seed"] for s in samples for x in s["samples"]]
        pairs = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["pairs"] == len(pairs) >= 1 and metrics["train"]["global_step"] == 1
        for p in pairs:
            assert p["chosen_score"] > p["rejected_score"] and p["chosen"] != p["rejected"]
            by_seed = {x["seed"]: x for x in samples[p["prompt_index"]]["samples"]}
            assert by_seed[p["chosen_seed"]]["text"] == p["chosen"][0]["content"]
        assert json.loads((folder / "model" / "psyagents-train.json").read_text())["saved"] == "model"  # merged each round
    assert len(set(seeds)) == len(seeds) == 12  # one seed per sample, none reused across rounds
    assert any("Round 2/2" in line for line in said)


def test_reward_data_keeps_the_margin_column(tmp_path):
    """export reward writes margin; RewardTrainer uses it when the column reaches it."""
    from psyagents_trl.training import load_data

    row = {"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "a"}],
           "rejected": [{"role": "assistant", "content": "b"}], "margin": 0.5, "chosen_model": "m"}
    (tmp_path / "train.jsonl").write_text(json.dumps(row) + "\n")
    data = load_data("reward", tmp_path)
    assert sorted(data["train"].column_names) == ["chosen", "margin", "prompt", "rejected"]
