"""One module per `seizure-monitor` subcommand."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_dataset_flags(p: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """--csv or --bonn (exactly one): the labelled recordings a command reads."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", type=Path, help="the Kaggle 'Epileptic Seizure Recognition' CSV")
    src.add_argument("--bonn", type=Path, help="folder of the original Bonn sets Z/ O/ N/ F/ S/")
    return src


def output_file(text: str) -> Path:
    """argparse type of a file written when the command ends: its folder is made and checked
    now, so an hour of training does not end in a missing-folder error."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    _writable_folder(path.parent)
    return path


def output_dir(text: str) -> Path:
    """argparse type of a folder the command writes files into: made and checked now."""
    path = Path(text)
    _writable_folder(path)
    return path


def _writable_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot create folder {folder} ({exc.strerror})"
                                         ) from None
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"folder {folder} is not writable")
