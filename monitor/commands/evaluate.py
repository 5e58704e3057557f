"""`seizure-monitor evaluate`: score a checkpoint on labelled recordings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model.checkpoint import load_classifier
from model.data import read_recordings
from model.evaluate import plot_confusions, predict_recordings, report, score


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a checkpoint on labelled recordings (window, 5 s smoothed, recording)",
        description="Every 120-sample window at hop 18 of each reassembled recording; the "
        "trailing 5 s mean of probabilities; and the mean over each recording.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", type=Path, help="the Kaggle 'Epileptic Seizure Recognition' CSV")
    src.add_argument("--bonn", type=Path, help="folder of the original Bonn sets Z/ O/ N/ F/ S/")
    p.add_argument("--checkpoint", type=Path, help="checkpoint file (default: the shipped one)")
    p.add_argument("--json", type=Path, help="write the figures as JSON")
    p.add_argument("--plots", type=Path, help="folder for confusion-matrix PNGs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    clf = load_classifier(args.checkpoint)
    recordings = read_recordings(args.csv, args.bonn)
    scores = predict_recordings(clf.predict_proba, recordings, clf.window)
    result = score(scores)
    print(f"{len(recordings)} recordings, {sum(len(s.probs) for s in scores)} windows")
    print(report(scores, result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.plots:
        for path in plot_confusions(result, args.plots):
            print(f"wrote {path}")
    return 0
