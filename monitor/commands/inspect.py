"""`seizure-monitor inspect`: one recording's waveform under its per-window predictions, and
how much one prediction depends on where the 120-sample slice falls."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from model.checkpoint import load_classifier
from model.data import read_recordings
from model.inspect_recording import (
    find_recording,
    inspect_recording,
    plot_inspections,
    report,
)
from monitor.commands import add_dataset_flags, output_file, write_json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="one recording: waveform, per-window probabilities, wrong windows, and the "
        "stability of one prediction across slices",
        description="Scores every window at hop 18 of a recording (and the 5 s smoothed curve), "
        "and every 120-sample window of each one-second row, to show how often the answer "
        "changes with the slice.",
    )
    add_dataset_flags(p)
    p.add_argument("--recording", required=True,
                   help="recording id, e.g. S:V1.791 (or V1.791 / X21.V1.791 if unambiguous)")
    p.add_argument("--compare", metavar="ID", help="a second recording to plot beside the first")
    p.add_argument("--checkpoint", type=Path, help="checkpoint file (default: the shipped one)")
    p.add_argument("--out", type=output_file, help="PNG file (default: inspect_<recording>.png)")
    p.add_argument("--json", type=output_file, help="write the probabilities and stability as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    clf = load_classifier(args.checkpoint)
    recordings = read_recordings(args.csv, args.bonn)
    source = str(args.csv or args.bonn)
    keys = [args.recording] + ([args.compare] if args.compare else [])
    inspections = [inspect_recording(clf, find_recording(recordings, key, source))
                   for key in keys]
    for ins in inspections:
        print(report(ins))
        print()
    out = args.out or Path(
        "inspect_" + re.sub(r"[^\w.-]", "_", inspections[0].recording.id) + ".png")
    print(f"wrote {plot_inspections(inspections, out)}")
    if args.json:
        write_json(args.json, [ins.to_dict() for ins in inspections], indent=1)
        print(f"wrote {args.json}")
    return 0
