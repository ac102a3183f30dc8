"""Training settings: built-in defaults, then a YAML config file, then command-line flags.

A config file is a flat mapping of TRL's config fields for the task (``SFTConfig``,
``DPOConfig``, ``RewardConfig``, ``KTOConfig``: ``learning_rate``, ``bf16``,
``gradient_checkpointing``, ``per_device_train_batch_size``, ``beta``...) plus a few keys of
psyagents' own (``PLUGIN_KEYS``). An unknown key is an error naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import yaml

from psyagents.errors import PsyagentsError, did_you_mean, malformed_yaml

TASKS = ("sft", "dpo", "reward", "kto")

# psyagents' own keys, beside TRL's. ``lora`` is true/false or LoRA settings.
PLUGIN_KEYS = {
    "task": "the task this file is for (sft, dpo, reward or kto); checked against the command",
    "lora": "train a LoRA adapter: true, false, or settings (r, lora_alpha, lora_dropout, target_modules, ...)",
    "merge": "merge a LoRA adapter into the base weights when saving (reward models are always merged)",
    "dtype": "dtype the weights are loaded in for training: float32 (default), bfloat16 or float16",
    "save_dtype": "dtype of the saved model: auto (the base model's, default), float32, bfloat16 or float16",
}
# Keys the command line owns: a config file must not set them.
RESERVED = {
    "output_dir": "it is set by --out",
    "resume_from_checkpoint": "use --resume",
}
DTYPES = ("float32", "bfloat16", "float16")

LORA_DEFAULTS = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
LORA_ALIASES = {"alpha": "lora_alpha", "dropout": "lora_dropout"}


def config_class(task: str) -> type:
    """TRL's config dataclass for a task."""
    import trl

    check_task(task)
    return {"sft": trl.SFTConfig, "dpo": trl.DPOConfig, "reward": trl.RewardConfig, "kto": trl.KTOConfig}[task]


def check_task(task: str) -> None:
    if task not in TASKS:
        raise PsyagentsError(f"unknown training task '{task}'{did_you_mean(task, TASKS)}; expected one of {', '.join(TASKS)}")


def config_dir() -> Path:
    """The configs shipped with the plugin (inside the package when installed from a wheel)."""
    here = Path(__file__).resolve().parent
    inside = here / "configs"
    return inside if inside.is_dir() else here.parent / "configs"


def find_config(name: str | Path) -> Path:
    """A config file by path, or a shipped one by name (``sft-gpu`` or ``sft-gpu.yaml``)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    shipped = sorted(p.stem for p in config_dir().glob("*.yaml") if not p.stem.startswith("accelerate"))
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    if len(path.parts) == 1 and stem in shipped:
        return config_dir() / f"{stem}.yaml"
    raise PsyagentsError(f"config file '{name}' does not exist{did_you_mean(stem, shipped)}; shipped configs: {', '.join(shipped)}")


def read_config(path: str | Path, task: str) -> dict[str, Any]:
    """Read and check a config file for ``task``; errors name the file and the key."""
    path = find_config(path)
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise malformed_yaml(where, exc) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PsyagentsError(f"{where}: cannot read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PsyagentsError(f"{where}: expected a mapping of settings (key: value), not {type(data).__name__}")
    if "task" in data and data["task"] != task:
        raise PsyagentsError(f"{where}: key 'task': this file is for '{data['task']}', not '{task}'")
    check_settings(data, task, where)
    return {k: v for k, v in data.items() if k != "task"}


def check_settings(settings: dict[str, Any], task: str, where: str) -> None:
    """Check keys and simple value types against TRL's config class for ``task``."""
    fields = {f.name: f for f in dataclasses.fields(config_class(task))}
    for key, value in settings.items():
        if not isinstance(key, str):
            raise PsyagentsError(f"{where}: key {key!r} is not a name")
        if key in RESERVED:
            raise PsyagentsError(f"{where}: key '{key}' cannot be set here: {RESERVED[key]}")
        if key in PLUGIN_KEYS:
            _check_plugin_key(key, value, where)
            continue
        if key not in fields:
            raise PsyagentsError(f"{where}: unknown key '{key}'{did_you_mean(key, [*fields, *PLUGIN_KEYS])} for {task} "
                                 f"(keys are fields of trl.{config_class(task).__name__} or {', '.join(PLUGIN_KEYS)})")
        _check_type(key, value, fields[key].type, where)


def _check_type(key: str, value: Any, annotation: Any, where: str) -> None:
    """Check a value against a field's annotation when it is a plain bool, int or float (optionally | None)."""
    if value is None:
        return
    kinds = set(getattr(annotation, "__args__", (annotation,))) - {type(None)}
    expected = kinds.pop() if len(kinds) == 1 else None
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    }.get(expected)
    if ok is not None and not ok(value):
        kind = {bool: "true or false", int: "a whole number", float: "a number"}[expected]
        raise PsyagentsError(f"{where}: key '{key}': expected {kind}, not {value!r}")


def _check_plugin_key(key: str, value: Any, where: str) -> None:
    if key == "merge" and not isinstance(value, bool):
        raise PsyagentsError(f"{where}: key 'merge': expected true or false, not {value!r}")
    if key == "dtype" and value not in DTYPES:
        raise PsyagentsError(f"{where}: key 'dtype': expected one of {', '.join(DTYPES)}, not {value!r}")
    if key == "save_dtype" and value not in ("auto", *DTYPES):
        raise PsyagentsError(f"{where}: key 'save_dtype': expected auto or one of {', '.join(DTYPES)}, not {value!r}")
    if key == "lora":
        if isinstance(value, bool):
            return
        if not isinstance(value, dict):
            raise PsyagentsError(f"{where}: key 'lora': expected true, false or a mapping of LoRA settings, not {value!r}")
        lora_config(value, where)  # checks the keys


def lora_config(settings: dict[str, Any] | bool | None, where: str = "lora", task: str = "sft") -> Any:
    """A ``peft.LoraConfig`` from psyagents' defaults updated with ``settings``."""
    import peft

    fields = {f.name for f in dataclasses.fields(peft.LoraConfig)} - {"task_type", "peft_type", "base_model_name_or_path"}
    merged = dict(LORA_DEFAULTS)
    for key, value in (settings if isinstance(settings, dict) else {}).items():
        name = LORA_ALIASES.get(key, key)
        if name not in fields:
            raise PsyagentsError(f"{where}: unknown LoRA key '{key}'{did_you_mean(str(key), [*fields, *LORA_ALIASES])}")
        merged[name] = value
    try:
        return peft.LoraConfig(task_type="SEQ_CLS" if task == "reward" else "CAUSAL_LM", **merged)
    except (TypeError, ValueError) as exc:
        raise PsyagentsError(f"{where}: bad LoRA settings: {_first_line(exc)}") from None


def parse_set(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` flags as settings; values are read as YAML (``1e-4``, ``true``, ``[a, b]``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise PsyagentsError(f"--set {item!r}: expected KEY=VALUE, e.g. --set learning_rate=1e-4")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        # YAML 1.1 reads 1e-4 as a string; numbers are what anyone means there.
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value.lower() for c in ".e") else int(value)
            except ValueError:
                pass
        out[key.strip()] = value
    return out


def defaults(task: str) -> dict[str, Any]:
    """Settings before any config file: small, CPU-friendly runs; bf16 only on a GPU that has it."""
    import torch

    gpu = torch.cuda.is_available()
    settings: dict[str, Any] = {
        "report_to": "none",
        "num_train_epochs": 1,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "max_length": 512,
        "logging_steps": 5,
        "save_strategy": "steps",
        "save_steps": 50,
        "save_total_limit": 2,
        "seed": 0,
        # The Trainer's bar on a terminal; elsewhere (CI logs, pipes) one line per logging step.
        "disable_tqdm": not sys.stderr.isatty(),
    }
    if gpu:
        settings["bf16"] = bool(torch.cuda.is_bf16_supported())
    else:
        # Activation (gradient) checkpointing only trades compute for memory; on CPU it just slows a small model.
        settings.update(use_cpu=True, bf16=False, activation_checkpointing=False)
    return settings


def resolve(task: str, config: str | Path | None = None, overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """Merge defaults < config file < overrides; returns (TRL settings, plugin settings, config path)."""
    check_task(task)
    settings = defaults(task)
    path = None
    if config is not None:
        found = find_config(config)
        path = str(found)
        settings.update(read_config(found, task))
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    check_settings(overrides, task, "command line")
    settings.update(overrides)
    plugin = {k: settings.pop(k) for k in list(settings) if k in PLUGIN_KEYS}
    return settings, plugin, path


def trl_args(task: str, settings: dict[str, Any], output_dir: str | Path, source: str) -> Any:
    """Build TRL's config object; a value TRL rejects becomes one line naming where it came from."""
    cls = config_class(task)
    try:
        return cls(output_dir=str(output_dir), **settings)
    except (TypeError, ValueError) as exc:
        raise PsyagentsError(f"training settings ({source}): {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
