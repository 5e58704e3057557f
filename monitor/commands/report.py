"""`seizure-monitor report FILE --out report.html`: the review of a recording as one HTML file
(mne.Report), scored against its seizure annotations where a pattern is given. With --bench,
times `review` and `report` on a generated hour of 64-channel EEG instead."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from monitor.commands import add_review_flags, open_for_review, output_file


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write the review of a recording as an HTML report (summary, trend, a snapshot "
        "of every alert, scoring against its annotations, settings)",
        description="Opens the recording as `review` does (classifying it first where it "
        "stores no predictions) and writes one HTML file with mne.Report.",
    )
    p.add_argument("file", type=Path, nargs="?", help="the recording (.vhdr, .edf, .xdf...)")
    p.add_argument("--out", type=output_file, help="the HTML file to write")
    p.add_argument("--seizure-label", metavar="REGEX",
                   help="score the seizure alerts against the annotations matching this "
                   "pattern, e.g. '(?i)seiz|sz' (our replays' recorded truth without it)")
    p.add_argument("--max-snapshots", type=int, default=None,
                   help="alerts with an EEG snapshot (default 100; the rest are listed)")
    add_review_flags(p)
    b = p.add_argument_group("--bench: time review and report on generated EEG")
    b.add_argument("--bench", action="store_true",
                   help="generate an EDF of --minutes of --channels at --rate from the test "
                   "subset and time opening it, the model pass and the report")
    b.add_argument("--minutes", type=float, default=60.0, help="(default 60)")
    b.add_argument("--channels", type=int, default=64, help="(default 64)")
    b.add_argument("--rate", type=float, default=256.0, help="(default 256)")
    b.add_argument("--json", type=output_file, help="--bench: write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from monitor.settings import UsageError

    if args.bench:
        if args.file is not None:
            raise UsageError("--bench generates its own recording; give no FILE with it.")
        from monitor.commands import review_settings, write_json
        from monitor.measure.review_bench import bench_review

        result = bench_review(args.minutes, args.channels, args.rate, review_settings(args))
        if args.json:
            write_json(args.json, result)
            print(f"wrote {args.json}")
        return 0
    if args.file is None or args.out is None:
        raise UsageError("give the recording and --out report.html (or --bench).")
    if args.max_snapshots is not None and args.max_snapshots < 0:
        raise UsageError(f"--max-snapshots must be 0 or more, got {args.max_snapshots}.")
    write_report(args.file, args.out, args, log=print)
    return 0


def write_report(path: Path, out: Path, args: argparse.Namespace, log=print) -> dict:
    """Open (and classify where needed), score if asked, write; the timings."""
    from monitor.measure.annotations import report_recording
    from monitor.review.report import MAX_SNAPSHOTS

    start = time.perf_counter()
    rec = open_for_review(path, args, "report", show_progress=sys.stderr.isatty())
    opened = time.perf_counter()
    snapshots = MAX_SNAPSHOTS if args.max_snapshots is None else args.max_snapshots
    found = report_recording(rec, out, args.seizure_label, snapshots, log)
    done = time.perf_counter()
    log(f"wrote {out}: {found['alerts']} alerts ({found['labelled']} labelled), "
        f"{rec.duration / 3600:.2f} h, {len(rec.channels)} EEG channels; opened and "
        f"classified in {opened - start:.1f} s, report in {done - opened:.1f} s")
    return {"open_s": round(opened - start, 2), "report_s": round(done - opened, 2),
            "total_s": round(done - start, 2), "alerts": found["alerts"]}
