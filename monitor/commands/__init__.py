"""One module per `seizure-monitor` subcommand."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def add_dataset_flags(p: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """--csv or --bonn (exactly one): the labelled recordings a command reads."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", type=Path, help="the Kaggle 'Epileptic Seizure Recognition' CSV")
    src.add_argument("--bonn", type=Path, help="folder of the original Bonn sets Z/ O/ N/ F/ S/")
    return src


def output_file(text: str) -> Path:
    """argparse type of a file written when the command ends: checked now (its folder can be
    made and written), so an hour of training does not end in an error about it."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    _check_folder(path.parent)
    return path


def output_dir(text: str) -> Path:
    """argparse type of a folder the command writes files into, checked the same way."""
    path = Path(text)
    _check_folder(path)
    return path


def _check_folder(folder: Path) -> None:
    """The folder exists or can be made, and can be written; nothing is made yet, as the
    command may still refuse another flag."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create folder {folder}: {existing} is a file")
    if not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot create folder {folder}: {existing} is not "
                                         "writable")


def write_json(path: Path, obj: object, indent: int = 2) -> None:
    """The commands' JSON output; the folder is made here, only once there is something to
    write (the flag was checked when parsed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=indent))
