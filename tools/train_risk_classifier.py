#!/usr/bin/env python
"""Rebuild psyagents/safety_data/risk-classifier.json from the shipped training files.

Same as `psyagents safety train-classifier`; needs scikit-learn (`pip install 'psyagents[train]'`).
Usage: python tools/train_risk_classifier.py [--out PATH] [--folds K] [--seed N]
The test split (screen-test-*.jsonl) is never read; measure the result once with
`psyagents safety screen --labelled psyagents/safety_data/screen-test-en.jsonl --json`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from psyagents.errors import PsyagentsError  # noqa: E402
from psyagents.risk_classifier import DEFAULT_PATH  # noqa: E402
from psyagents.risk_training import build_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        build_model(args.out, k=args.folds, seed=args.seed)
    except PsyagentsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
