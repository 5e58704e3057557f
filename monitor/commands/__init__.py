"""One module per `seizure-monitor` subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_dataset_flags(p: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """--csv or --bonn (exactly one): the labelled recordings a command reads."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", type=Path, help="the Kaggle 'Epileptic Seizure Recognition' CSV")
    src.add_argument("--bonn", type=Path, help="folder of the original Bonn sets Z/ O/ N/ F/ S/")
    return src
