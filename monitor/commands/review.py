"""`seizure-monitor review FILE`: look back at a recording in the review window (its trend,
alerts, annotations and EEG), and label each alert. Its flags are shared with `report` and
`evaluate --file` (``monitor.commands``), which open recordings the same way."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.commands import add_review_flags, review_settings, warn
from monitor.review.recording import ReviewRecording, open_recording


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
    from monitor.measure.annotations import report_recording
    from monitor.ui.review_window import run_review

    def make_report(rec: ReviewRecording, out: Path) -> None:
        report_recording(rec, out, args.seizure_label, log=lambda *_: None)

    return run_review(rec, settings, classify_again=args.classify, make_report=make_report,
                      screenshot=args.screenshot)
