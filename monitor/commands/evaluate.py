"""`seizure-monitor evaluate`: score a checkpoint on labelled recordings, window by window or,
with --stream, as the running monitor (replayed sessions through the real pipeline)."""

from __future__ import annotations

import argparse
import glob
import sys
from datetime import datetime
from pathlib import Path

from model.checkpoint import load_classifier, pick_device
from model.data import DataError, read_recordings
from model.evaluate import plot_confusions, predict_recordings, report, score
from monitor.commands import (
    add_dataset_flags,
    open_for_review,
    output_dir,
    output_file,
    write_json,
)
from monitor.settings import DECISIONS, UsageError

STREAM_ONLY = ("sessions", "seed", "normal_minutes", "before", "heldout", "holdout_of", "smoothing",
               "seizure_on", "seizure_off", "min_on", "sweep", "out", "folds", "decision")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a checkpoint on labelled recordings (window, 5 s smoothed, recording), or "
        "with --stream as the running monitor (sensitivity, latency, false alerts)",
        description="Every 120-sample window at hop 18 of each reassembled recording; the "
        "trailing 5 s mean of probabilities; and the mean over each recording. With --stream: "
        "seeded sessions (non-seizure recordings then a seizure; all-normal sessions) replayed "
        "through the real pipeline, scored per event (SzCORE tolerances: 30 s before onset, "
        "60 s after).",
    )
    src = add_dataset_flags(p)
    src.add_argument("--file", nargs="+", metavar="FILE",
                     help="recordings to score against their own seizure annotations (a "
                     "quoted glob works: 'recs/*.edf'); see --seizure-label")
    p.add_argument("--checkpoint", type=Path, help="checkpoint file (default: the shipped one)")
    p.add_argument("--json", type=output_file, help="write the figures as JSON")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu",
                   help="where the model runs (default cpu; auto: cuda if present)")
    p.add_argument("--plots", type=output_dir, help="folder for confusion-matrix PNGs")
    s = p.add_argument_group("--stream: the monitor as deployed")
    s.add_argument("--stream", action="store_true",
                   help="replay seeded sessions through the real pipeline and score the alerts")
    s.add_argument("--sessions", type=int, help="seizure sessions (default 20)")
    s.add_argument("--normal-minutes", type=float,
                   help="minutes of all-normal sessions (default 30)")
    s.add_argument("--before", type=int,
                   help="non-seizure recordings before each seizure recording (default 4)")
    s.add_argument("--seed", type=int, help="which recordings the sessions draw (default 0)")
    held = s.add_mutually_exclusive_group()
    held.add_argument("--heldout", action="store_true",
                      help="only the recordings the checkpoint was validated on (its "
                      "training.validation_ids): train without --all, then evaluate with this")
    held.add_argument("--holdout-of", type=Path, metavar="CKPT",
                      help="only the recordings held out (validation_ids) by checkpoint CKPT")
    held.add_argument("--folds", type=Path, metavar="DIR",
                      help="the fold-wise replay: every recording once, with the fold model "
                      "(from train --folds K --save-folds DIR) that never saw it; scored per "
                      "training seed")
    s.add_argument("--smoothing", type=float, help="smoothing time constant, seconds")
    s.add_argument("--decision", choices=DECISIONS,
                   help="ema (default) or context: the checkpoint's context stage (with --folds, "
                   "one trained nested for each fold, on the other folds' outputs)")
    s.add_argument("--seizure-on", type=float, help="seizure alert threshold")
    s.add_argument("--seizure-off", type=float, help="seizure alert clears below this")
    s.add_argument("--min-on", type=float,
                   help="seconds the seizure probability must stay above threshold")
    s.add_argument("--sweep", action="store_true",
                   help="also print the seizure trade-off over a grid of smoothing time, "
                   "on-threshold and minimum duration (the model is run once)")
    s.add_argument("--out", type=output_dir, default=None,
                   help="folder for the SzCORE TSVs and the sessions plot (default: stream-eval)")
    f = p.add_argument_group("--file: the monitor on your own recordings")
    f.add_argument("--seizure-label", metavar="REGEX",
                   help="annotations matching this pattern are the seizures, e.g. "
                   "'(?i)seiz|sz' (without it: the truth a replay recorded)")
    f.add_argument("--hop", type=float, help="seconds between windows of the model pass "
                   "(default 1; the live monitor uses 0.1)")
    f.add_argument("--classify", action="store_true",
                   help="classify again even where a recording stores predictions")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.file:
        if args.stream:
            raise UsageError("--file scores recordings; --stream replays the data set: give "
                             "one of them.")
        return run_files(args)
    given = [flag for flag, value in (("--seizure-label", args.seizure_label),
                                      ("--hop", args.hop), ("--classify", args.classify))
             if value not in (None, False)]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --file.")
    if args.stream:
        return run_stream(args)
    # "is not": 0 == False, and --seed 0 is given
    given = [f"--{n.replace('_', '-')}" for n in STREAM_ONLY
             if getattr(args, n) is not None and getattr(args, n) is not False]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --stream.")
    clf = load_classifier(args.checkpoint, _device(args))
    recordings = read_recordings(args.csv, args.bonn)
    scores = predict_recordings(clf.predict_proba, recordings, clf.window)
    result = score(scores)
    print(f"{len(recordings)} recordings, {sum(len(s.probs) for s in scores)} windows; "
          f"tumor bias {clf.net.config.tumor_bias:g} (stored in the checkpoint)")
    print(report(scores, result))
    if args.json:
        write_json(args.json, result, indent=2)
    if args.plots:
        for path in plot_confusions(result, args.plots):
            print(f"wrote {path}")
    return 0


def _validation_ids(path: Path | None) -> list[str]:
    from model.checkpoint import shipped_checkpoint

    meta = load_classifier(path).meta
    ids = list((meta.get("training") or {}).get("validation_ids") or [])
    if not ids:
        raise DataError(f"{path or shipped_checkpoint()}: the checkpoint stores no validation "
                        "recordings (it was trained on all of them, or by an older version); "
                        "train one with a grouped split ('seizure-monitor train' without --all) "
                        "and evaluate that one with --heldout.")
    return ids


def _device(args: argparse.Namespace) -> str:
    try:
        return pick_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_stream(args: argparse.Namespace) -> int:
    seed = 0 if args.seed is None else args.seed
    from monitor.measure.stream_eval import (
        evaluate_stream,
        plot_sessions,
        report,
        sweep,
        sweep_table,
        with_seizure_rule,
        write_tsvs,
    )
    from monitor.settings import MonitorSettings

    sessions = 20 if args.sessions is None else args.sessions
    normal_minutes = 30.0 if args.normal_minutes is None else args.normal_minutes
    before = 4 if args.before is None else args.before
    if sessions < 0 or normal_minutes < 0 or before < 0:
        raise UsageError("--sessions, --normal-minutes and --before must be 0 or more.")
    if sessions == 0 and normal_minutes == 0:
        raise UsageError("nothing to replay: give --sessions or --normal-minutes above 0.")
    try:
        if args.sweep and args.decision == "context":
            raise ValueError("--sweep re-decides with the smoother; give it without --decision "
                             "context")
        settings = with_seizure_rule(MonitorSettings(device=_device(args),
                                                     decision=args.decision or "ema"),
                                     args.smoothing,
                                     args.seizure_on, args.seizure_off, args.min_on)
        if settings.smoothing_s < 0:
            raise ValueError(f"--smoothing must be >= 0 s, got {settings.smoothing_s}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.folds is not None:
        return _run_folds(args, settings, before)
    clf = load_classifier(args.checkpoint)
    recordings = read_recordings(args.csv, args.bonn)
    data = args.csv or args.bonn
    holdout = args.checkpoint if args.heldout else args.holdout_of
    if args.heldout or args.holdout_of is not None:
        ids = set(_validation_ids(holdout))
        recordings = [r for r in recordings if r.id in ids]
        if not recordings:
            raise DataError(f"none of the {len(ids)} validation recordings of "
                            f"{holdout or 'the shipped checkpoint'} is in {data}; give the "
                            "data it was trained on.")
        own = set((clf.meta.get("training") or {}).get("validation_ids") or [])
        if not args.heldout and not ids <= own:
            print(f"warning: {len(ids - own)} of these recordings are not among the validation "
                  f"recordings of {args.checkpoint or 'the shipped checkpoint'}: it may have "
                  "been trained on them.")
    counts = {c: sum(r.class_name == c for r in recordings) for c in ("seizure", "tumor",
                                                                        "normal")}
    held = args.heldout or args.holdout_of is not None
    whose = str(holdout or "the shipped checkpoint")
    print(f"{len(recordings)} recordings ({', '.join(f'{n} {c}' for c, n in counts.items())})"
          f"{' held out by ' + whose if held else ''}; {sessions} seizure sessions, "
          f"{normal_minutes:g} min of normal sessions, seed {seed}")
    started = datetime.now()
    result, runs = evaluate_stream(recordings, clf, settings, sessions, normal_minutes,
                                   seed, before)
    result = {"checkpoint": str(args.checkpoint or "shipped"), "data": str(data),
              "heldout_of": whose if held else None, "recordings": counts, "seed": seed,
              **result}
    for pool, p in result["sessions"]["pools"].items():
        if p["reused"]:
            print(f"note: {p['reused']} draws from the {pool} pool replay a recording already "
                  f"used ({p['recordings']} recordings for {p['draws']} draws)")
    print(report(result))
    out = args.out or Path("stream-eval")
    tsvs = write_tsvs(runs, out, started)
    png = plot_sessions(runs, settings, out / "sessions.png")
    print(f"wrote {len(tsvs)} SzCORE TSVs and {png} in {out}")
    if args.sweep:
        rows = sweep(runs, settings)
        result["sweep"] = rows
        print("\nseizure trade-off (the model's probabilities reused, smoothing and alert "
              "policy rerun):")
        print(sweep_table(rows))
    if args.json:
        write_json(args.json, result, indent=2)
        print(f"wrote {args.json}")
    return 0


def _run_folds(args: argparse.Namespace, settings, before: int) -> int:
    from monitor.measure.folds import false_alarm_recordings, replay_folds
    from monitor.measure.stream_eval import settings_dict, summary_lines, sweep, sweep_table

    unused = [flag for flag, given in (("--checkpoint", args.checkpoint is not None),
                                       ("--sessions", args.sessions is not None),
                                       ("--normal-minutes", args.normal_minutes is not None),
                                       ("--out", args.out is not None)) if given]
    if unused:
        raise UsageError(f"{', '.join(unused)}: --folds replays every recording once with "
                         "the fold model that never saw it; it takes no checkpoint or session "
                         "counts.")
    seed = 0 if args.seed is None else args.seed
    recordings = read_recordings(args.csv, args.bonn)
    print(f"fold-wise replay of {len(recordings)} recordings with the fold models in "
          f"{args.folds}: sessions of {before} non-seizure recordings then a seizure, order "
          f"seed {seed}")
    result, runs = replay_folds(recordings, args.folds, settings, before, seed)
    result = {"folds_dir": str(args.folds), "data": str(args.csv or args.bonn), "seed": seed,
              "settings": settings_dict(settings), **result}
    for train_seed, seed_runs in sorted(runs.items()):
        r = result["per_seed"][str(train_seed)]
        hours = sum(x.duration for x in seed_runs) / 3600
        print(f"training seed {train_seed}: {r['recordings']} recordings "
              f"({r['recordings_unique']} different), {len(seed_runs)} sessions, "
              f"{hours:.2f} h of stream")
        print("\n".join(summary_lines(r)))
        for cls in ("seizure", "tumor"):
            where = false_alarm_recordings(seed_runs, cls)
            r[f"false_{cls}_recordings"] = where
            if where:
                print(f"  false {cls} alerts raised during: {', '.join(where)}")
        if args.sweep:
            rows = sweep(seed_runs, settings)
            r["sweep"] = rows
            print(f"\nseizure trade-off, training seed {train_seed}:")
            print(sweep_table(rows))
    if args.json:
        write_json(args.json, result, indent=2)
        print(f"wrote {args.json}")
    return 0


# --- evaluate --file: the monitor scored on your own recordings ----------------------------


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
    from monitor.measure.annotations import score, score_recording, with_name
    from monitor.review.report import score_text
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
