"""``psyagents train sft|dpo|reward|kto|dpo-iter`` (also ``python -m psyagents_trl ...`` for ``accelerate launch``)."""

from __future__ import annotations

import os

import click

from psyagents.cli import run_group

TASK_HELP = {
    "sft": "Supervised fine-tuning on `export sft --format messages` data (messages rows).",
    "dpo": "DPO on `export preference` data (prompt/chosen/rejected rows).",
    "reward": "Train a reward model on `export reward` data (prompt/chosen/rejected rows); use it as the judge reward:OUT.",
    "kto": "KTO on `export kto` data (prompt/completion/label rows).",
}


def _common(fn):
    """Options shared by every training command."""
    options = [
        click.option("--base", required=True, help="Model to start from: local:smollm2, a model or adapter folder, or an earlier --out."),
        click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder: the trained model, checkpoints/, psyagents-train.json."),
        click.option("--lora", is_flag=True, default=None, help="Train a LoRA adapter instead of all weights."),
        click.option("--config", "config", help="YAML settings file, or a shipped one by name (sft-gpu, dpo-gpu, reward-gpu, kto-gpu, cpu-tiny)."),
        click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many optimiser steps (overrides the config)."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one setting, e.g. --set learning_rate=1e-4 (repeatable)."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint in OUT/checkpoints."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def add_train_commands(group: click.Group) -> None:
    """Add the training commands to ``group``."""
    for task in ("sft", "dpo", "reward", "kto"):
        group.add_command(_task_command(task))
    group.add_command(dpo_iter_command)


def _task_command(task: str) -> click.Command:
    @click.command(task, help=TASK_HELP[task])
    @click.option("--data", required=True, type=click.Path(exists=False), help="Export folder (train.jsonl, validation.jsonl) or one JSON-lines file.")
    @_common
    @click.option("--merge", is_flag=True, default=None, help="Save a LoRA run merged into full weights (reward models always are).")
    def command(data, base, out, lora, config, max_steps, sets, resume, merge):
        from .config import parse_set

        settings = parse_set(sets)  # before torch and TRL load: a typo fails at once
        _quiet()
        from .training import train

        train(task, data, base, out, lora=lora, merge=merge, config=config, max_steps=max_steps,
              settings=settings, resume=resume, echo=_echo)

    return command


@click.command("dpo-iter")
@click.option("--prompts", required=True, help="Client statements: an export folder, a JSON-lines file or a trace database (.db).")
@_common
@click.option("--reward-model", type=click.Path(file_okay=False), help="Score replies with this reward model folder (psyagents train reward).")
@click.option("--judge", help="Or score them with a judge spec (reward:PATH, rubric:MODEL, heuristic...): the sum of its ratings.")
@click.option("--principles", help="With --judge: a principle set or comma-separated ids (default: the judge's own, else psychocounsel).")
@click.option("--rounds", default=2, show_default=True, type=click.IntRange(min=1), help="Rounds of sample, score, train.")
@click.option("--samples", default=4, show_default=True, type=click.IntRange(min=2), help="Replies drawn per prompt and round.")
@click.option("--min-gap", default=0.0, show_default=True, type=click.FloatRange(min=0), help="Skip prompts whose best and worst scores are closer than this (ties are always skipped).")
@click.option("--max-prompts", type=click.IntRange(min=1), help="Use at most this many prompts (the first ones).")
@click.option("--temperature", default=0.8, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Sampling temperature.")
@click.option("--max-new-tokens", default=96, show_default=True, type=click.IntRange(min=1), help="Longest sampled reply, in tokens.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="First sampling seed; every sample has its own, recorded.")
def dpo_iter_command(prompts, base, out, lora, config, max_steps, sets, resume, reward_model, judge, principles, rounds,
                     samples, min_gap, max_prompts, temperature, max_new_tokens, seed):
    """Iterative DPO (PsychoCounsel's DPO-Iter): sample N replies per prompt from the policy, score them, pair best with worst, train a DPO round, repeat."""
    from .config import parse_set

    settings = parse_set(sets)
    _quiet()
    from .iterative import dpo_iter

    dpo_iter(prompts, base, out, reward_model=reward_model, judge=judge, principles=principles, rounds=rounds,
             samples=samples, min_gap=min_gap, max_prompts=max_prompts, temperature=temperature,
             max_new_tokens=max_new_tokens, seed=seed, lora=lora, config=config, max_steps=max_steps,
             settings=settings, resume=resume, echo=_echo)


def _echo(message: str) -> None:
    click.echo(message, err=True)


def _quiet() -> None:
    # transformers' own warnings (new score head, renamed arguments) are noise to a user; errors stay.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(trl|transformers|peft|torch)\b.*")


def main(argv: list[str] | None = None) -> None:
    """``python -m psyagents_trl TASK ...``: the training commands without the rest of the CLI.

    This is what ``accelerate launch -m psyagents_trl sft --data ... --base ... --out ...``
    runs in every process (Trainer shards the batches; process 0 writes the model and manifest).
    """
    group = click.Group("psyagents_trl", help="Fine-tune local models on exported data (TRL). Same commands as `psyagents train`.")
    add_train_commands(group)
    run_group(group, argv, "python -m psyagents_trl")
