"""`seizure-monitor train`: train (or cross-validate) the classifier on recording-grouped splits."""

from __future__ import annotations

import argparse
import math
import multiprocessing
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from model.checkpoint import data_fingerprint, load_classifier, pick_device, save_checkpoint
from model.data import BONN_RATE, CLASSES, read_recordings
from model.evaluate import bias_table
from model.network import NetConfig, count_parameters
from model.train import TUMOR_BIAS, TrainConfig, TrainResult, config_dict, plot_history, train
from model.windows import grouped_folds, grouped_split
from monitor.commands import add_dataset_flags, output_dir, output_file, write_json
from monitor.settings import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the classifier (or cross-validate a recipe with --folds)",
        description="Train on windows drawn afresh each epoch from whole recordings; split by "
        "recording (stratified by Bonn set), never by row.",
    )
    add_dataset_flags(p)
    p.add_argument("--out", type=output_file, default=Path("seizure_lstm.pt"),
                   help="checkpoint file")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="maximum epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="fraction of recordings held out for validation / early stopping")
    p.add_argument("--all", action="store_true",
                   help="train on every recording for exactly --epochs epochs (no validation)")
    p.add_argument("--folds", type=int, default=0,
                   help="grouped K-fold cross-validation of the recipe instead of one model")
    p.add_argument("--seeds", type=int, default=1, help="with --folds: seeds per fold")
    p.add_argument("--fixed-epochs", action="store_true",
                   help="no early stopping: train exactly --epochs epochs and score the last, "
                   "as --all trains the shipped model (with --folds or a validation split)")
    p.add_argument("--json", type=output_file, help="write the validation / CV figures as JSON")
    p.add_argument("--plot", type=output_file, help="training-curve PNG (default: next to --out)")
    p.add_argument("--tumor-bias", type=float, default=TUMOR_BIAS,
                   help="log-odds added to tumor against normal at inference (default: the "
                   "value chosen by grouped CV; --folds prints the table)")
    p.add_argument("--threads", type=int, default=TrainConfig.threads,
                   help="torch CPU threads (1 is faster on a busy machine)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu",
                   help="where to train (default cpu, the reference; auto: cuda if present)")
    p.add_argument("--jobs", type=int, default=1,
                   help="with --folds: folds trained at once, each in a process of its own "
                   "(default 1; on a GPU several share it)")
    p.add_argument("--context-from", type=Path, metavar="DIR",
                   help="also train the context stage (for run --decision context) on the "
                   "out-of-fold outputs of the fold models in DIR (train --folds K --save-folds "
                   "DIR, the same data), and store it in the checkpoint")
    p.add_argument("--save-folds", type=output_dir, metavar="DIR",
                   help="with --folds: save every fold's model in DIR with the ids of the "
                   "recordings it never saw (for evaluate --stream --folds DIR)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}.")
    if args.folds == 1 or args.folds < 0:
        raise UsageError(f"--folds must be 2 or more, got {args.folds}.")
    if not math.isfinite(args.tumor_bias):
        raise UsageError(f"--tumor-bias must be a finite number, got {args.tumor_bias}.")
    if not 0 < args.val_fraction < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}.")
    for flag, value in (("--seeds", args.seeds), ("--threads", args.threads),
                        ("--jobs", args.jobs)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}.")
    if not args.folds and (args.jobs > 1 or args.save_folds):
        raise UsageError("--jobs and --save-folds apply with --folds.")
    if args.context_from is not None and args.folds:
        raise UsageError("--context-from adds a context stage to the model trained; with "
                         "--folds no model is kept.")
    try:
        device = pick_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    recordings = read_recordings(args.csv, args.bonn)
    _check_enough(recordings, args)
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, threads=args.threads,
                      early_stopping=not args.fixed_epochs, device=device,
                      net=NetConfig(tumor_bias=args.tumor_bias))
    if args.folds:
        return _cross_validate(recordings, cfg, args)
    if args.all:
        train_recs, val_recs = recordings, None
    else:
        try:
            train_recs, val_recs = grouped_split(recordings, args.val_fraction, args.seed)
        except ValueError as exc:  # too few recordings for this fraction, stratified
            raise UsageError(f"--val-fraction {args.val_fraction}: {exc}") from None
    print(f"{len(train_recs)} training recordings"
          + (f", {len(val_recs)} validation recordings" if val_recs else " (all of them)"))
    context = _context_stage(args.context_from, recordings, args) if args.context_from else None
    result = train(train_recs, val_recs, cfg, progress=not args.quiet)
    training = _save(args.out, result, cfg, train_recs, val_recs, args, context)
    plot = args.plot or args.out.with_suffix(".png")
    plot_history(result.history, plot, title=f"{args.out.name}")
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, "
          f"{count_parameters(result.net)} parameters), curve {plot}; "
          f"{_epoch_label(cfg, val_recs)} {result.best_epoch}, {result.seconds:.0f} s")
    if result.metrics:
        _print_summary("validation", [result])
    if args.json:
        write_json(args.json, {"validation": result.metrics, "training": training})
    return 0


def _context_stage(folder: Path, recordings, args: argparse.Namespace) -> dict:
    """The context stage from every fold model's out-of-fold outputs (stacking), ready for the
    checkpoint; trained first, so a bad folder is refused before the long training."""
    from model.context import ContextTrainConfig, context_state
    from model.stacking import fit_from_folds, fold_from_classifier

    paths = sorted(folder.glob("*.pt"))
    if not paths:
        raise UsageError(f"--context-from {folder}: no fold checkpoints (*.pt); make them with "
                         "'seizure-monitor train --folds K --save-folds DIR'.")
    try:
        folds = [fold_from_classifier(p.stem, load_classifier(p)) for p in paths]
        cfg = ContextTrainConfig(threads=args.threads)
        net, info = fit_from_folds(folds, recordings, cfg)
    except ValueError as exc:  # folds of other data, or not one cross-validation's
        raise UsageError(f"--context-from {folder}: {exc}") from None
    print(f"context stage: {info['sequences']} out-of-fold sequences of {len(folds)} fold "
          f"models, {info['seconds']:.0f} s")
    return context_state(net, training={**info, "config": asdict(cfg)})


def _save(path: Path, result: TrainResult, cfg: TrainConfig, train_recs, val_recs,
          args: argparse.Namespace, context: dict | None = None) -> dict:
    """The checkpoint, with how it was trained and the recordings it never saw."""
    training = {
        "config": config_dict(cfg),
        "recordings": len(train_recs),
        "validation_ids": [r.id for r in val_recs] if val_recs else [],
        "best_epoch": result.best_epoch,
        "seconds": round(result.seconds, 1),
        "history": result.history,
        "source": str(args.csv or args.bonn),
    }
    # The Kaggle rows are the Bonn samples: the model learns 173.61 Hz signals either way.
    save_checkpoint(
        path, result.net, sample_rate=BONN_RATE,
        fingerprint=data_fingerprint(train_recs), metrics=result.metrics, training=training,
        context=context,
    )
    return training


def _epoch_label(cfg: TrainConfig, val_recs) -> str:
    """What ``TrainResult.best_epoch`` counts: a chosen epoch only when early stopping ran."""
    return "best epoch" if val_recs and cfg.early_stopping else "epochs"


def _check_enough(recordings, args) -> None:
    """Refuse data too small to split as asked, naming it, before sklearn fails deep down."""
    source = args.csv or args.bonn
    window = NetConfig.window
    short = [r.id for r in recordings if r.n_samples < window]
    if short:
        raise UsageError(f"{source}: {len(short)} recording(s) shorter than the {window}-sample "
                    f"window, e.g. {', '.join(short[:3])}.")
    if args.all:
        return
    need = args.folds or 2  # a stratified split needs two of every set
    per_set = Counter(r.bonn_set for r in recordings)
    if min(per_set.values()) < need:
        how = f"--folds {args.folds}" if args.folds else "a train/validation split"
        raise UsageError(f"{source}: {how} needs at least {need} recordings of every Bonn set; the "
                    f"data has {dict(sorted(per_set.items(), key=str))} (use --all to train "
                    "on all of them).")


def _cross_validate(recordings, cfg: TrainConfig, args) -> int:
    folds = [(seed, k, tr, va) for seed in range(args.seed, args.seed + args.seeds)
             for k, (tr, va) in enumerate(grouped_folds(recordings, args.folds, seed))]
    for _, _, tr, va in folds:
        assert not {r.id for r in tr} & {r.id for r in va}
    configs = [replace(cfg, seed=seed) for seed, *_ in folds]
    started = time.perf_counter()
    if args.jobs > 1:
        # Spawned, not forked: a forked child cannot use CUDA, nor a torch thread pool the
        # parent has started.
        with ProcessPoolExecutor(min(args.jobs, len(folds)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(train, tr, va, c, False)
                       for (_, _, tr, va), c in zip(folds, configs, strict=True)]
            runs = (f.result() for f in futures)
            results = _report_folds(folds, runs, cfg, args)
    else:
        runs = (train(tr, va, c, progress=not args.quiet)
                for (_, _, tr, va), c in zip(folds, configs, strict=True))
        results = _report_folds(folds, runs, cfg, args)
    wall = time.perf_counter() - started
    print(f"\n{len(results)} folds in {wall:.0f} s wall on {cfg.device} ({args.jobs} at once)")
    summary = _print_summary(f"{args.folds}-fold grouped CV x {args.seeds} seed(s)", results)
    summary["wall_seconds"] = round(wall, 1)
    summary["device"] = cfg.device
    summary["jobs"] = args.jobs
    summary["tumor_bias"] = cfg.net.tumor_bias
    summary["bias_table"] = _print_bias_table(results, cfg.net.tumor_bias)
    if args.json:
        write_json(args.json, summary)
    return 0


def _report_folds(folds, runs, cfg: TrainConfig, args) -> list[TrainResult]:
    """Print each fold's figures as it ends (and save its model with --save-folds)."""
    results = []
    for (seed, k, tr, va), result in zip(folds, runs, strict=True):
        print(f"fold {k + 1}/{args.folds}, seed {seed}: {len(tr)} train / {len(va)} "
              "validation recordings")
        m = result.metrics
        print(f"  window macro-F1 {m['window']['macro_f1']:.3f}, smoothed "
              f"{m['smoothed_5s']['macro_f1']:.3f}, recording accuracy "
              f"{m['recording']['accuracy']:.3f}, {_epoch_label(cfg, va)} "
              f"{result.best_epoch}, {result.seconds:.0f} s", flush=True)
        if args.save_folds:
            path = args.save_folds / f"fold-seed{seed}-{k + 1}of{args.folds}.pt"
            _save(path, result, replace(cfg, seed=seed), tr, va, args)
        results.append(result)
    return results


def _print_bias_table(results: list[TrainResult], bias: float) -> list[dict]:
    """Pooled out-of-fold figures had the tumor bias been different: how its default is chosen
    (slightly optimistic for the chosen row, which is picked on these same recordings)."""
    scores = [s for r in results for s in r.scores]
    rows = bias_table(scores, np.round(np.arange(-0.4, 0.61, 0.1), 2))
    print(f"\n  tumor bias (now {bias:g}) moved by: pooled window macro-F1, tumor / normal recall;"
          " 5 s smoothed macro-F1; recording accuracy")
    for row in rows:
        w = row["window"]
        print(f"    {row['shift']:+.1f} -> {bias + row['shift']:.1f}: {w['macro_f1']:.3f}, "
              f"{w['recall']['tumor']:.3f} / {w['recall']['normal']:.3f}; "
              f"{row['smoothed_5s']['macro_f1']:.3f}; {row['recording']['accuracy']:.3f}")
    return rows


def _print_summary(title: str, results: list[TrainResult]) -> dict:
    """Mean and spread (sd) of every figure over folds and seeds, and per Bonn set."""
    summary: dict = {"runs": len(results),
                     "best_epochs": [r.best_epoch for r in results],
                     "seconds": [round(r.seconds, 1) for r in results],
                     "folds": [{k: r.metrics[k] for k in ("window", "smoothed_5s", "recording")}
                               for r in results]}
    print(f"\n{title}: mean (sd) over {len(results)} run(s)")
    for level in ("window", "smoothed_5s", "recording"):
        vals = {f"recall_{c}": [r.metrics[level]["recall"][c] for r in results] for c in CLASSES}
        vals["macro_f1"] = [r.metrics[level]["macro_f1"] for r in results]
        vals["accuracy"] = [r.metrics[level]["accuracy"] for r in results]
        summary[level] = {k: {"mean": float(np.mean(v)), "sd": float(np.std(v))}
                          for k, v in vals.items()}
        print(f"  {level:<12} " + "  ".join(
            f"{k} {np.mean(v):.3f} ({np.std(v):.3f})" for k, v in vals.items()))
    print("  per Bonn set, window level: fraction predicted seizure / tumor / normal")
    summary["per_set"] = {}
    for bonn_set in results[0].metrics["per_set"]:
        frac = np.array([[r.metrics["per_set"][bonn_set]["window"]["predicted"][c]
                          for c in CLASSES] for r in results])
        summary["per_set"][bonn_set] = {c: {"mean": float(m), "sd": float(s)} for c, m, s in
                                        zip(CLASSES, frac.mean(0), frac.std(0), strict=True)}
        print(f"    {bonn_set}: " + " / ".join(
            f"{m:.3f} ({s:.3f})" for m, s in zip(frac.mean(0), frac.std(0), strict=True)))
    print(f"  best epochs {summary['best_epochs']}, seconds {summary['seconds']}")
    return summary
