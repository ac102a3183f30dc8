"""Registers the safety layers beyond the rules (see psyagents/safety_layers.py).

``PSYAGENTS_SAFETY_CLASSIFIER``: unset means the shipped n-gram classifier; ``""``,
``off`` or ``none`` switch it off; a ``.json`` file is another n-gram model; a folder
is a Hugging Face sequence-classification model. ``PSYAGENTS_SAFETY_ASSESSOR`` names
a chat model for the LLM assessor (off when unset or empty). Also adds
``psyagents safety train-classifier``, which rebuilds the n-gram model.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import click

from psyagents.hookspecs import hookimpl

CLASSIFIER_ENV = "PSYAGENTS_SAFETY_CLASSIFIER"
ASSESSOR_ENV = "PSYAGENTS_SAFETY_ASSESSOR"
OFF = ("", "off", "none", "0", "false", "no")


@cache
def _ngram(path: str | None):
    from psyagents.safety_layers import NgramClassifierCheck

    return NgramClassifierCheck(path)


@cache
def _classifier(path: str):
    from psyagents.safety_layers import ClassifierCheck

    return ClassifierCheck(path)


@cache
def _assessor(model: str):
    from psyagents.safety_layers import LLMRiskAssessor

    return LLMRiskAssessor(model)


def classifier_check():
    """The classifier check the environment asks for, or None when it is switched off."""
    value = os.environ.get(CLASSIFIER_ENV)
    if value is None:
        return _ngram(None)
    if value.strip().lower() in OFF:
        return None
    if value.strip().lower().endswith(".json"):
        return _ngram(value)
    return _classifier(value)


@hookimpl(trylast=True)
def register_safety_checks(register):
    check = classifier_check()
    if check is not None:
        register(check)
    if os.environ.get(ASSESSOR_ENV):
        register(_assessor(os.environ[ASSESSOR_ENV]))


@hookimpl(trylast=True)
def register_commands(cli):
    from psyagents.cli import command_group

    group = command_group(cli, "safety", "Risk screening and crisis-handling evaluation.")

    @group.command("train-classifier")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
                  help="Where to write the model (default: the shipped psyagents/safety_data/risk-classifier.json).")
    @click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True, help="Cross-validation folds.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed for the fold split.")
    def train_classifier(out, folds, seed):
        """Rebuild the n-gram risk classifier from the shipped training files (needs scikit-learn).

        Chooses features and regularisation by k-fold cross-validation, sets the thresholds from
        out-of-fold false-positive budgets, fits on all the data and writes the JSON model with its
        CV figures. Never reads the test split.
        """
        from psyagents.risk_classifier import DEFAULT_PATH
        from psyagents.risk_training import build_model

        build_model(out or DEFAULT_PATH, k=folds, seed=seed, log=click.echo)
