"""``train(task, data, base, out)``: fine-tune a local model with TRL on an exported dataset.

Tasks: ``sft`` (rows ``{"messages": [...]}``, or ShareGPT ``conversations``), ``dpo`` and
``reward`` (``prompt``/``chosen``/``rejected``), ``kto`` (``prompt``/``completion``/``label``) -
the formats ``psyagents export sft --format messages`` and ``export preference|reward|kto`` write.
The trained model is saved into ``out`` itself, so ``local:OUT`` (a policy: a full model or a
PEFT adapter) or a reward judge can use it at once; trainer checkpoints go to ``out/checkpoints``
and a manifest (``psyagents-train.json``: base, task, data, settings, metrics) records the run.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psyagents.errors import PsyagentsError

from . import config as cfg

MANIFEST = "psyagents-train.json"
CHECKPOINTS = "checkpoints"
COLUMNS = {
    "sft": (("messages",), ()),
    "dpo": (("chosen", "rejected"), ("prompt",)),
    "reward": (("chosen", "rejected"), ("prompt", "margin")),  # RewardTrainer uses margin when present
    "kto": (("prompt", "completion", "label"), ()),
}
Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the base model -----------------------------------------------------------------------


@dataclass(frozen=True)
class Base:
    """What ``--base`` names: a model folder, or an adapter folder over a model folder."""

    spec: str
    folder: Path  # the folder named (model or adapter)
    model_folder: Path  # the full model's folder (the adapter's base for an adapter)
    adapter: bool


def resolve_base(spec: str) -> Base:
    """``local:smollm2`` (the embedded model, from the psyagents cache), ``local:PATH`` or ``PATH``.

    Never a hub name: training must not download anything.
    """
    from psyagents.default_plugins import local_models

    name = spec[len("local:"):] if spec.startswith("local:") else spec
    if "?" in name:
        raise PsyagentsError(f"--base '{spec}': options (?key=value) do not apply to training")
    if name == local_models.EMBEDDED_NAME:
        folder = local_models.embedded_model_path()
    else:
        if not Path(name).expanduser().exists():
            raise PsyagentsError(f"--base '{spec}': no such folder (training uses local models only: "
                                 "local:smollm2, a model folder, an adapter folder or an earlier --out)")
        folder = local_models._model_folder(name)  # also converts a .gguf file once
    folder = folder.resolve()
    if (folder / "adapter_config.json").is_file():
        base_name = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
        model_folder = Path(base_name).expanduser()
        if not (model_folder / "config.json").is_file():
            raise PsyagentsError(f"--base '{spec}': the adapter's base model {base_name!r} is not a local model folder")
        return Base(spec, folder, model_folder.resolve(), True)
    return Base(spec, folder, folder, False)


def load_tokenizer(base: Base) -> Any:
    import transformers

    folder = base.folder if (base.folder / "tokenizer_config.json").is_file() else base.model_folder
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(task: str, base: Base, *, dtype: str = "float32", lora: bool = False) -> Any:
    """The model to train: causal LM, or sequence classifier (one score) for ``reward``.

    An adapter base is continued when training LoRA, and merged into its base otherwise.
    """
    import torch
    import transformers

    auto = transformers.AutoModelForSequenceClassification if task == "reward" else transformers.AutoModelForCausalLM
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype), "local_files_only": True}
    if task == "reward":
        kwargs["num_labels"] = 1
    try:
        model = auto.from_pretrained(base.model_folder, **kwargs)
        if base.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, base.folder, is_trainable=lora)
            if not lora:
                model = model.merge_and_unload()
    except (OSError, ValueError, KeyError) as exc:
        raise PsyagentsError(f"cannot load base model '{base.spec}' for {task}: {cfg._first_line(exc)}") from None
    return model


# --- data -----------------------------------------------------------------------------------


def data_files(data: str | Path) -> dict[str, str]:
    """The JSON-lines files of a dataset: a folder's ``train.jsonl`` (and non-empty ``validation.jsonl``), or one file."""
    path = Path(data).expanduser()
    if path.is_dir():
        train = path / "train.jsonl"
        if not train.is_file():
            raise PsyagentsError(f"--data '{data}': no train.jsonl in the folder (export with psyagents export ... -o FOLDER)")
        files = {"train": str(train)}
        validation = path / "validation.jsonl"
        # datasets cannot load an empty JSON-lines file; exports write empty splits.
        if validation.is_file() and validation.stat().st_size > 0:
            files["validation"] = str(validation)
        return files
    if path.is_file():
        return {"train": str(path)}
    raise PsyagentsError(f"--data '{data}' does not exist")


def load_data(task: str, data: str | Path) -> dict[str, Any]:
    """Load the splits with ``datasets.load_dataset("json", ...)`` and keep the task's columns."""
    import datasets

    files = data_files(data)
    if Path(files["train"]).stat().st_size == 0:
        raise PsyagentsError(f"--data '{data}': {files['train']} has no rows")
    if not sys.stderr.isatty():
        datasets.disable_progress_bars()
    try:
        loaded = datasets.load_dataset("json", data_files=files)
    except Exception as exc:  # datasets raises many kinds for a malformed file
        where = _first_bad_line(files.values())
        raise PsyagentsError(f"--data '{data}': cannot load as JSON lines: {where or cfg._first_line(exc)}") from None
    required, optional = COLUMNS[task]
    out = {}
    for split, ds in loaded.items():
        if task == "sft" and "messages" not in ds.column_names and "conversations" in ds.column_names:
            ds = ds.map(_sharegpt_to_messages, remove_columns=ds.column_names)
        missing = [c for c in required if c not in ds.column_names]
        if missing:
            raise PsyagentsError(
                f"--data '{files[split]}': {task} rows need the column(s) {', '.join(missing)} "
                f"(found {', '.join(ds.column_names)}); export them with psyagents export {'sft --format messages' if task == 'sft' else task if task != 'dpo' else 'preference'}"
            )
        # Extra columns (chosen_empathy_rating, ids...) are for people, not for the trainer.
        keep = [c for c in ds.column_names if c in required or c in optional]
        out[split] = ds.select_columns(keep)
    return out


def _first_bad_line(paths: Iterable[str]) -> str | None:
    """``FILE line N: problem`` for the first line that is not a JSON object, if any (datasets does not say)."""
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    return f"{path} line {n}: not JSON ({exc.msg} at column {exc.colno})"
                if not isinstance(row, dict):
                    return f"{path} line {n}: expected a JSON object, got {type(row).__name__}"
    return None


def _sharegpt_to_messages(row: dict) -> dict:
    roles = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    messages += [{"role": roles.get(m["from"], m["from"]), "content": m["value"]} for m in row["conversations"]]
    return {"messages": messages}


# --- the run --------------------------------------------------------------------------------


def train(
    task: str,
    data: str | Path,
    base: str,
    out: str | Path,
    *,
    lora: bool | None = None,
    merge: bool | None = None,
    config: str | Path | None = None,
    max_steps: int | None = None,
    settings: dict[str, Any] | None = None,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
    echo: Echo = _stderr,
) -> dict:
    """Fine-tune ``base`` on ``data`` for ``task`` and save the result into ``out``; returns the manifest.

    Settings: built-in defaults < ``config`` file < ``settings`` and ``max_steps``; ``lora`` and
    ``merge`` override the file's. An interrupted or failed run says how to resume (``resume=True``
    continues from the last checkpoint in ``out/checkpoints``).
    """
    overrides = dict(settings or {})
    if max_steps is not None:
        if not isinstance(max_steps, int) or max_steps < 1:
            raise PsyagentsError(f"--max-steps must be a whole number of at least 1, not {max_steps!r}")
        overrides["max_steps"] = max_steps
    trl_settings, plugin, config_path = cfg.resolve(task, config, overrides)
    # --lora turns LoRA on with the file's LoRA settings, if it has any.
    if lora is not None and not (lora and isinstance(plugin.get("lora"), dict)):
        plugin["lora"] = lora
    if merge is not None:
        plugin["merge"] = merge
    lora_settings = plugin.get("lora", False)
    use_lora = bool(lora_settings)
    peft_config = cfg.lora_config(lora_settings if isinstance(lora_settings, dict) else None, config_path or "lora", task) if use_lora else None

    resolved = resolve_base(base)
    splits = load_data(task, data)
    out = Path(out).expanduser().resolve()
    checkpoint = _check_out(out, task, resume, trl_settings)
    source = f"{config_path} and the command line" if config_path else "the command line"
    if "validation" not in splits:
        trl_settings.setdefault("eval_strategy", "no")
    args = cfg.trl_args(task, trl_settings, out / CHECKPOINTS, source)
    if getattr(args, "eval_strategy", "no") not in ("no", None) and "validation" not in splits:
        raise PsyagentsError(f"eval_strategy is '{args.eval_strategy}' but --data has no non-empty validation.jsonl")

    command = resume_command(task, data, base, out, lora=lora, merge=merge, config=config, max_steps=max_steps, settings=settings)
    manifest: dict[str, Any] = {
        "task": task,
        "status": "running",
        "base": base,
        "base_path": str(resolved.folder),
        "base_model": str(resolved.model_folder),
        "data": str(Path(data).expanduser().resolve()),
        "data_rows": {split: len(ds) for split, ds in splits.items()},
        "config": config_path,
        "settings": _jsonable(trl_settings),
        "lora": _jsonable(peft_config.to_dict()) if peft_config is not None else None,
        "merge": bool(plugin.get("merge")),
        "command": command,
        "created_at": _now(),
        "versions": _versions(),
    }
    if resume and (out / MANIFEST).is_file():
        earlier = json.loads((out / MANIFEST).read_text())
        if bool(earlier.get("lora")) != use_lora or earlier.get("base_path") != manifest["base_path"]:
            raise PsyagentsError(f"the run in '{out}' trained {'LoRA' if earlier.get('lora') else 'all weights'} of "
                                 f"{earlier.get('base')}; resume it with the same options: {earlier.get('command')} --resume")
        manifest["created_at"] = earlier.get("created_at", manifest["created_at"])
        manifest["resumed_from"] = [*earlier.get("resumed_from", []), str(checkpoint)]

    dtype = plugin.get("dtype", "float32")
    tokenizer = load_tokenizer(resolved)
    model = load_model(task, resolved, dtype=dtype, lora=use_lora)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    trainer_cls = _trainer_class(task)
    stopper = _StopRequest()
    try:
        trainer = trainer_cls(
            model=model,
            args=args,
            train_dataset=splits["train"],
            eval_dataset=splits.get("validation") if args.eval_strategy != "no" else None,
            processing_class=tokenizer,
            peft_config=peft_config if not resolved.adapter else None,
            callbacks=[stopper, *callbacks],
        )
    except ValueError as exc:  # TRL's checks of settings against data (e.g. KTO needs batches of 2 or more)
        raise PsyagentsError(f"cannot set up the {task} trainer ({source}): {cfg._first_line(exc)}") from None
    main = trainer.is_world_process_zero()
    out.mkdir(parents=True, exist_ok=True)
    if main:
        write_json(out / MANIFEST, manifest)
        echo(f"Training {task} on {manifest['data_rows']['train']} rows from {data} "
             f"({'LoRA' if use_lora else 'full'} fine-tuning of {base}, max_steps {args.max_steps}); checkpoints in {out / CHECKPOINTS}")
    try:
        with _graceful_interrupt(stopper, echo):
            result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        if stopper.requested:
            raise KeyboardInterrupt
    except BaseException as exc:
        if main:
            _stopped(out, manifest, trainer, exc, echo)
        raise
    metrics = dict(result.metrics)
    if "validation" in splits and args.eval_strategy != "no":
        metrics.update(trainer.evaluate())
    saved = _save(trainer, tokenizer, out, task, resolved, plugin) if main else None
    manifest.update(
        status="completed",
        finished_at=_now(),
        saved=saved,
        global_step=trainer.state.global_step,
        metrics=_jsonable(metrics),
        log_history=_jsonable(trainer.state.log_history),
    )
    if main:
        write_json(out / MANIFEST, manifest)
        use = "a judge: reward:" if task == "reward" else "a counsellor: local:"
        echo(f"Saved the trained {saved} to {out}; use it as {use}{out}")
    return manifest


def _trainer_class(task: str) -> type:
    import trl

    return {"sft": trl.SFTTrainer, "dpo": trl.DPOTrainer, "reward": trl.RewardTrainer, "kto": trl.KTOTrainer}[task]


def _check_out(out: Path, task: str, resume: bool, settings: dict) -> Path | None:
    """Refuse to mix runs in one folder; with ``resume``, the checkpoint to continue from."""
    from transformers.trainer_utils import get_last_checkpoint

    if out.exists() and not out.is_dir():
        raise PsyagentsError(f"--out '{out}' is a file, not a folder")
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8")) if (out / MANIFEST).is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PsyagentsError(f"--out '{out}': {MANIFEST} is not a psyagents training manifest ({exc}); "
                             "choose another --out") from None
    if manifest is not None and not isinstance(manifest, dict):
        raise PsyagentsError(f"--out '{out}': {MANIFEST} is not a psyagents training manifest; choose another --out")
    ckpt_dir = out / CHECKPOINTS
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if manifest and manifest.get("task") != task:
        raise PsyagentsError(f"--out '{out}' holds a {manifest.get('task')} run, not {task}; choose another --out")
    if manifest and manifest.get("status") == "completed":
        raise PsyagentsError(f"--out '{out}' already holds a finished {task} run; choose another --out"
                             + (" (nothing to resume)" if resume else ""))
    if resume:
        if last is None:
            raise PsyagentsError(f"no checkpoint in '{ckpt_dir}' to resume from (the run stopped before its first save "
                                 f"every {settings.get('save_steps')} steps); run again without --resume")
        return Path(last)
    if last is not None:
        raise PsyagentsError(f"--out '{out}' holds checkpoints of an unfinished run: add --resume to continue it "
                             "from its last checkpoint, or choose another --out")
    return None


def _stopped(out: Path, manifest: dict, trainer: Any, exc: BaseException, echo: Echo) -> None:
    """Record an interrupted or failed run and say how to resume it."""
    from transformers.trainer_utils import get_last_checkpoint

    interrupted = isinstance(exc, KeyboardInterrupt)
    ckpt_dir = out / CHECKPOINTS
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    manifest.update(
        status="interrupted" if interrupted else "failed",
        finished_at=_now(),
        global_step=trainer.state.global_step,
        checkpoint=last,
        log_history=_jsonable(trainer.state.log_history),
    )
    if not interrupted:
        manifest["error"] = f"{type(exc).__name__}: {cfg._first_line(exc)}"
    write_json(out / MANIFEST, manifest)
    what = "interrupted" if interrupted else f"failed ({manifest['error']})"
    if last:
        step = Path(last).name.rpartition("-")[2]
        echo(f"Training {what} at step {trainer.state.global_step}. Last checkpoint: {last} (step {step}).\n"
             f"Resume with: {manifest['command']} --resume")
    else:
        echo(f"Training {what} at step {trainer.state.global_step}, before its first checkpoint "
             f"(saved every {trainer.args.save_steps} steps); nothing to resume: run the same command again.")


def _save(trainer: Any, tokenizer: Any, out: Path, task: str, base: Base, plugin: dict) -> str:
    """Save the model and tokenizer into ``out`` (through a staging folder); returns "adapter" or "model"."""
    import torch
    from peft import PeftModel

    model = trainer.accelerator.unwrap_model(trainer.model)
    # A reward model is always merged: a judge loads it as one sequence classifier.
    if isinstance(model, PeftModel) and (plugin.get("merge") or task == "reward"):
        model = model.merge_and_unload()
    adapter = isinstance(model, PeftModel)
    if not adapter:
        save_dtype = plugin.get("save_dtype", "auto")
        if save_dtype == "auto":
            base_config = json.loads((base.model_folder / "config.json").read_text())
            save_dtype = base_config.get("dtype") or base_config.get("torch_dtype") or "float32"
        if save_dtype in cfg.DTYPES:
            model = model.to(getattr(torch, save_dtype))
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=out))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if adapter:
            # local:PATH finds the base through this field: make sure it names the local folder.
            path = staging / "adapter_config.json"
            data = json.loads(path.read_text())
            data["base_model_name_or_path"] = str(base.model_folder)
            path.write_text(json.dumps(data, indent=2) + "\n")
        for stale in ("adapter_config.json", "adapter_model.safetensors", "config.json", "model.safetensors"):
            if (out / stale).exists() and not (staging / stale).exists():
                (out / stale).unlink()  # an earlier save of the other kind would confuse the loader
        for item in staging.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return "adapter" if adapter else "model"


# --- Ctrl-C -------------------------------------------------------------------------------


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class _StopRequest(_callback_base()):  # type: ignore[misc]
    """Stops training after the current step and saves a checkpoint there, once asked."""

    def __init__(self) -> None:
        self.requested = False

    def on_step_end(self, args, state, control, **kwargs):
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        elif state.global_step >= state.max_steps and control.should_save and not _on_schedule(args, state):
            # The Trainer also checkpoints the last step; the finished model is saved right after, so that
            # checkpoint (weights and optimiser state: ~1.6 GB for the embedded model) would only cost time.
            control.should_save = False
        return control


def _on_schedule(args: Any, state: Any) -> bool:
    steps = args.save_steps if args.save_steps >= 1 else max(1, round(args.save_steps * state.max_steps))
    return state.global_step % int(steps) == 0


@contextmanager
def _graceful_interrupt(stopper: _StopRequest, echo: Echo) -> Iterator[None]:
    """First Ctrl-C: finish this step, save a checkpoint, stop. Second Ctrl-C: stop at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if stopper.requested:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stopper.requested = True
        echo("\nStopping after this step and saving a checkpoint (Ctrl-C again to stop at once).")

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- small helpers ------------------------------------------------------------------------


def resume_command(task: str, data: Any, base: str, out: Any, *, lora=None, merge=None, config=None, max_steps=None, settings=None) -> str:
    """The ``psyagents train`` command line for these arguments (without ``--resume``)."""
    parts = ["psyagents", "train", task, "--data", str(data), "--base", base, "--out", str(out)]
    if lora:
        parts.append("--lora")
    if merge:
        parts.append("--merge")
    if config:
        parts += ["--config", str(config)]
    if max_steps:
        parts += ["--max-steps", str(max_steps)]
    for key, value in (settings or {}).items():
        parts += ["--set", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return shlex.join(parts)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename): a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    """Write JSON lines atomically."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(out: str | Path) -> dict:
    """The manifest of a training run's output folder."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise PsyagentsError(f"'{out}' has no {MANIFEST}: not a psyagents training output")
    return json.loads(path.read_text())


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.value if hasattr(v, "value") else sorted(v) if isinstance(v, set) else str(v)))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict[str, str]:
    out = {}
    for name in ("psyagents", "psyagents-trl", "trl", "transformers", "peft", "torch", "datasets", "accelerate"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out
