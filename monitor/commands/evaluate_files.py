"""`seizure-monitor evaluate --file FILE...`: the monitor scored on your own recordings, each
against its seizure annotations, with the figures `evaluate --stream` prints, file by file and
in total."""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

from monitor.commands import write_json
from monitor.commands.evaluate import STREAM_ONLY
from monitor.commands.review import open_for_review


def expand(patterns: list[str]) -> list[Path]:
    """Paths and globs (quoted, for the shell not to expand them), in order, each once."""
    from model.data import DataError

    out: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise DataError(f"{pattern}: no file matches.")
        out += [Path(m) for m in matches if Path(m) not in out]
    return out


def run_files(args: argparse.Namespace) -> int:
    from monitor.review.report import score_text
    from monitor.review.scoring import score, score_recording, with_name
    from monitor.settings import UsageError

    given = [f"--{n.replace('_', '-')}" for n in STREAM_ONLY
             if getattr(args, n) is not None and getattr(args, n) is not False]
    if args.plots:
        given.append("--plots")
    if given:
        raise UsageError(f"{', '.join(given)} do not apply with --file.")
    paths = expand(args.file)
    runs, files = [], []
    for path in paths:
        rec = open_for_review(path, args, "evaluate", show_progress=sys.stderr.isatty())
        result, run = score_recording(rec, args.seizure_label)
        runs.append(with_name(run, str(path)))
        print(f"{path}: {rec.duration / 3600:.2f} h, {len(rec.channels)} EEG channels, "
              f"{len(rec.alerts)} alerts ({rec.meta.get('predictions', 'stored predictions')})")
        print(score_text(result))
        files.append({"file": str(path), "hours": round(rec.duration / 3600, 4), **result})
    total = score(runs)
    if len(paths) > 1:
        print(f"total, {len(paths)} files:")
        print(score_text(total))
    if args.json:
        write_json(args.json, {"files": files, "total": total,
                               "seizure_label": args.seizure_label})
        print(f"wrote {args.json}")
    return 0
