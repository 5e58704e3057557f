"""`seizure-monitor compare`: the notebook's architecture and preprocessing comparisons, on
recording-grouped cross-validation, beside the notebook's own (leaky) protocol."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace

from model.checkpoint import pick_device
from model.compare import ARCHS, SCALERS, CompareConfig, compare, plot_comparison, table
from model.data import read_recordings
from model.windows import grouped_split
from monitor.commands import add_dataset_flags, output_dir, output_file, write_json
from monitor.settings import UsageError


def add_parser(sub) -> None:
    defaults = CompareConfig()
    p = sub.add_parser(
        "compare",
        help="cross-validate architectures x input scalings by recording (the notebook's "
        "experiments, without the leak)",
        description="Grouped K-fold cross-validation by recording (stratified by Bonn set), the "
        "same windows and epochs for every variant, several seeds; plus the notebook's protocol "
        "(one random slice per CSV row) with rows split at random and by recording.",
    )
    add_dataset_flags(p)
    p.add_argument("--archs", default=",".join(defaults.archs),
                   help=f"comma-separated, from {','.join(ARCHS)} (default %(default)s)")
    p.add_argument("--scalers", default=",".join(defaults.scalers),
                   help=f"comma-separated, from {','.join(SCALERS)}; 'ours' ignores them and "
                   "scales inside the model (default %(default)s)")
    p.add_argument("--folds", type=int, default=defaults.folds,
                   help="K of the grouped K-fold (default %(default)s)")
    p.add_argument("--seeds", type=int, default=defaults.seeds,
                   help="seeds; each has its own fold assignment, windows and initialisation "
                   "(default %(default)s)")
    p.add_argument("--epochs", type=int, default=defaults.train.epochs,
                   help="epochs for every variant, no early stopping (default %(default)s)")
    p.add_argument("--windows-per-recording", type=int,
                   default=defaults.train.windows_per_recording,
                   help="random training windows drawn per recording per epoch")
    p.add_argument("--threads", type=int, default=defaults.train.threads,
                   help="torch CPU threads (default %(default)s); use 1 while other jobs share "
                   "the CPU: recurrent training with 2 threads thrashes on a busy machine")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu",
                   help="where to train (default cpu; auto: cuda if present)")
    p.add_argument("--json", type=output_file, help="write every figure, curve and fold as JSON")
    p.add_argument("--plots", type=output_dir, help="folder for the PNG plots")
    p.set_defaults(func=run)


def _names(flag: str, text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise UsageError(f"{flag} {text!r}: give a comma-separated list from "
                         f"{','.join(allowed)} (unknown: {','.join(unknown) or 'none given'}).")
    return names


def run(args: argparse.Namespace) -> int:
    for flag, value, least in (("--folds", args.folds, 2), ("--seeds", args.seeds, 1),
                               ("--epochs", args.epochs, 1), ("--threads", args.threads, 1),
                               ("--windows-per-recording", args.windows_per_recording, 1)):
        if value < least:
            raise UsageError(f"{flag} must be at least {least}, got {value}.")
    try:
        device = pick_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    defaults = CompareConfig()
    cfg = replace(
        defaults, archs=_names("--archs", args.archs, ARCHS),
        scalers=_names("--scalers", args.scalers, SCALERS), folds=args.folds, seeds=args.seeds,
        train=replace(defaults.train, epochs=args.epochs, threads=args.threads, device=device,
                      windows_per_recording=args.windows_per_recording))
    recordings = read_recordings(args.csv, args.bonn)
    per_set = Counter(r.bonn_set for r in recordings)
    if min(per_set.values()) < args.folds:
        raise UsageError(f"--folds {args.folds} needs at least {args.folds} recordings of every "
                         f"Bonn set; the data has {dict(sorted(per_set.items()))}.")
    try:  # the notebook's recording split comes last: fail now, not after the folds
        grouped_split(recordings, cfg.test_fraction, 0)
    except ValueError as exc:
        raise UsageError(f"too few recordings for the notebook's {cfg.test_fraction:.0%} "
                         f"recording split ({dict(sorted(per_set.items()))}): {exc}") from None
    variants = [f"{a}/{s}" for a, s in cfg.variants()]
    print(f"{len(recordings)} recordings; {len(variants)} variant(s): {', '.join(variants)}; "
          f"{cfg.folds} folds x {cfg.seeds} seed(s) x {cfg.train.epochs} epochs on {device}")
    comparison = compare(recordings, cfg)
    print()
    print(table(comparison))
    if args.json:
        write_json(args.json, comparison.to_dict(), indent=1)
        print(f"wrote {args.json}")
    if args.plots:
        for path in plot_comparison(comparison, args.plots):
            print(f"wrote {path}")
    return 0
