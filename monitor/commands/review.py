"""`seizure-monitor review FILE`: look back at a recording in the review window (its trend,
alerts, annotations and EEG), and label each alert. The flags here are shared with `report`
and `evaluate --file`, which open recordings the same way."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from model.checkpoint import pick_device
from monitor.review.classify import REVIEW_HOP_S, open_classified
from monitor.review.recording import ReviewRecording, open_recording
from monitor.settings import MonitorSettings, load_toml


def add_review_flags(p: argparse.ArgumentParser) -> None:
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
    from monitor.settings import UsageError

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
    for w in rec.warnings:
        print(f"seizure-monitor {command}: warning: {w}", file=sys.stderr)


def open_for_review(path: Path, args: argparse.Namespace, command: str,
                    show_progress: bool = True) -> ReviewRecording:
    """Open a recording and, where it holds no predictions (or --classify), run the model
    pass with a progress bar on stderr."""
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


def add_parser(sub) -> None:
    p = sub.add_parser(
        "review",
        help="open a recording in the review window: trend, alerts, annotations, EEG; label "
        "each alert",
        description="Opens this monitor's recordings (run --record), any file mne reads (EDF, "
        "BDF, FIF, BrainVision) with its annotations, or LabRecorder's XDF. A file without "
        "stored predictions is classified first (the live monitor's pipeline, in lockstep).",
    )
    p.add_argument("file", type=Path, help="the recording (.vhdr, .edf, .bdf, .fif, .xdf...)")
    add_review_flags(p)
    p.add_argument("--seizure-label", metavar="REGEX",
                   help="annotations matching this pattern are seizures (for the report's "
                   "scoring), e.g. '(?i)seiz|sz'")
    p.add_argument("--screenshot", type=Path, help="save the window as a PNG and exit "
                   "(QT_QPA_PLATFORM=offscreen works without a screen)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from monitor.settings import UsageError
    from monitor.ui import has_screen
    from monitor.ui.qt_platform import prepare_window

    if args.screenshot is None and not has_screen():
        raise UsageError("no screen found (no DISPLAY or WAYLAND_DISPLAY); 'seizure-monitor "
                         "report FILE --out report.html' gives the same review as a file.")
    # Qt aborts the process when its platform cannot load: find out before it starts.
    _, note = prepare_window(args.screenshot is None, args.screenshot is not None)
    if note:
        print(f"seizure-monitor review: {note}", file=sys.stderr)
    rec = open_recording(args.file)
    warn("review", rec)
    settings = review_settings(args)
    from monitor.review.scoring import report_recording
    from monitor.ui.review_window import run_review

    def make_report(rec: ReviewRecording, out: Path) -> None:
        report_recording(rec, out, args.seizure_label, log=lambda *_: None)

    return run_review(rec, settings, classify_again=args.classify, make_report=make_report,
                      screenshot=args.screenshot)
