"""Registers the optional safety layers when their environment variables name a model (see psyagents/safety_layers.py)."""

from __future__ import annotations

import os
from functools import cache

from psyagents.hookspecs import hookimpl

CLASSIFIER_ENV = "PSYAGENTS_SAFETY_CLASSIFIER"
ASSESSOR_ENV = "PSYAGENTS_SAFETY_ASSESSOR"


@cache
def _classifier(path: str):
    from psyagents.safety_layers import ClassifierCheck

    return ClassifierCheck(path)


@cache
def _assessor(model: str):
    from psyagents.safety_layers import LLMRiskAssessor

    return LLMRiskAssessor(model)


@hookimpl(trylast=True)
def register_safety_checks(register):
    if os.environ.get(CLASSIFIER_ENV):
        register(_classifier(os.environ[CLASSIFIER_ENV]))
    if os.environ.get(ASSESSOR_ENV):
        register(_assessor(os.environ[ASSESSOR_ENV]))
