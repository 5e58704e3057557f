"""One module per `seizure-monitor` subcommand."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the review's modules load mne: only the commands that open files import them
    from monitor.review.recording import ReviewRecording
    from monitor.settings import MonitorSettings


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


# --- opening recordings (review, report, evaluate --file) ----------------------------------


def add_review_flags(p: argparse.ArgumentParser) -> None:
    """The model-pass flags of review, report and evaluate --file."""
    from monitor.review.classify import REVIEW_HOP_S

    g = p.add_argument_group("the model pass (files without stored predictions)")
    g.add_argument("--checkpoint", type=Path, help="model checkpoint (default: shipped)")
    g.add_argument("--config", type=Path, help="settings TOML, as for run")
    g.add_argument("--hop", type=float,
                   help=f"seconds between windows (default {REVIEW_HOP_S:g}; the live monitor "
                   "uses 0.1, ten times the work)")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    g.add_argument("--classify", action="store_true",
                   help="classify again even where the recording stores predictions")


def review_settings(args: argparse.Namespace) -> MonitorSettings:
    from model.checkpoint import pick_device
    from monitor.review.classify import REVIEW_HOP_S
    from monitor.settings import MonitorSettings, UsageError, load_toml

    try:
        config = getattr(args, "config", None)
        s = load_toml(config) if config else MonitorSettings(hop_s=REVIEW_HOP_S)
        top = {k: v for k, v in (("hop_s", args.hop), ("device", getattr(args, "device", None)),
                                 ("checkpoint", args.checkpoint)) if v is not None}
        s = replace(s, **top)
        pick_device(s.device)
        return s
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def warn(command: str, rec: ReviewRecording) -> None:
    """The recording's warnings (what its reader noticed), one line each on stderr."""
    for w in rec.warnings:
        print(f"seizure-monitor {command}: warning: {w}", file=sys.stderr)


def open_for_review(path: Path, args: argparse.Namespace, command: str,
                    show_progress: bool = True) -> ReviewRecording:
    """Open a recording and, where it holds no predictions (or --classify), run the model
    pass with a progress bar on stderr."""
    from monitor.review.classify import open_classified

    settings = review_settings(args)
    bars = []  # made by the first progress report: none for a file with its predictions

    def progress(done: float) -> None:
        if not show_progress:
            return
        if not bars:
            from tqdm import tqdm

            bars.append(tqdm(total=100, desc=f"classifying {path.name}", file=sys.stderr,
                             leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                                                     "{elapsed}"))
        bars[0].update(round(done * 100) - bars[0].n)

    try:
        rec = open_classified(path, settings, args.classify, progress)
    finally:
        for bar in bars:
            bar.close()
    warn(command, rec)
    return rec
