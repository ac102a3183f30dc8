"""psyagents-trl: fine-tune local counsellors and reward models with TRL (``psyagents train``).

Hooks: ``register_trainers`` (``sft``, ``dpo``, ``reward``, ``kto``, ``dpo-iter``) and
``register_commands`` (``psyagents train ...``). torch, transformers and TRL are imported only
when a command runs, so loading the plugin costs nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from psyagents.hookspecs import hookimpl

TRAINERS = {
    "sft": "supervised fine-tuning on messages rows (psyagents export sft --format messages)",
    "dpo": "direct preference optimisation on prompt/chosen/rejected rows (psyagents export preference)",
    "reward": "a reward model (sequence classifier, one score) on prompt/chosen/rejected rows (psyagents export reward)",
    "kto": "KTO on prompt/completion/label rows (psyagents export kto)",
    "dpo-iter": "iterative DPO: sample from the policy, score with a reward model or judge, pair best with worst, train, repeat",
}


def _train(task: str, data: Any, base: str, out: Any, **options: Any) -> dict:
    from .training import train

    return train(task, data, base, out, **options)


def _dpo_iter(prompts: Any, base: str, out: Any, **options: Any) -> dict:
    from .iterative import dpo_iter

    return dpo_iter(prompts, base, out, **options)


@hookimpl
def register_trainers(register):
    for task in ("sft", "dpo", "reward", "kto"):
        register(task, partial(_train, task), description=TRAINERS[task])
    register("dpo-iter", _dpo_iter, description=TRAINERS["dpo-iter"])


@hookimpl
def register_commands(cli):
    from psyagents.cli import command_group

    from .commands import add_train_commands

    add_train_commands(command_group(cli, "train", "Fine-tune local models on exported data (TRL)."))
