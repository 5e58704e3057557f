"""Out-of-fold sequences for the context stage (stacking), split by recording.

The context stage learns from the window network's outputs, so it must see outputs like the
ones it will get live: from a model that never saw the recording. Each fold model of a
grouped K-fold run is applied only to its own validation recordings (the checkpoint's
``training.validation_ids``), arranged in seeded random orders and concatenated, and classified
on the monitor's grid (a window every hop, the first ending at sample ``window``), so windows
cross recording borders as in a replayed session. A recording is never on both sides of a
split: :func:`check_grouped` refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from model.checkpoint import Classifier
from model.context import ContextNet, ContextTrainConfig, Sequence, train_context
from model.data import CLASSES, Recording
from model.windows import sliding_windows

SEIZURE = CLASSES.index("seizure")


@dataclass
class Fold:
    """A fold model and the recordings it never saw."""

    name: str
    classifier: Classifier
    validation_ids: tuple[str, ...]


def fold_from_classifier(name: str, clf: Classifier) -> Fold:
    ids = tuple((clf.meta.get("training") or {}).get("validation_ids") or ())
    if not ids:
        raise ValueError(f"{name}: the checkpoint stores no validation recordings; train the "
                         "folds with 'seizure-monitor train --folds K --save-folds DIR'.")
    return Fold(name, clf, ids)


def hop_samples(clf: Classifier, hop_s: float) -> int:
    """The monitor's hop in samples at the model's rate (0.1 s -> 17 at 173.61 Hz)."""
    return max(1, round(hop_s * clf.sample_rate))


def session_sequence(clf: Classifier, recordings: list[Recording], hop: int,
                     onset_s: float = 3.0) -> Sequence:
    """The recordings played one after another, every window on the monitor's grid classified:
    inputs are the log-probabilities, labels the class of each window's last sample, ``onset``
    marks the first ``onset_s`` seconds of each seizure (at the model's rate)."""
    signal = np.concatenate([r.data[0] for r in recordings]).astype(np.float32)
    bounds = np.concatenate([[0], np.cumsum([r.n_samples for r in recordings])])
    wins = np.ascontiguousarray(sliding_windows(signal, clf.window, hop))  # writable: torch
    last = np.arange(len(wins)) * hop + clf.window - 1  # each window's last sample
    rec = np.searchsorted(bounds, last, side="right") - 1
    labels = np.array([r.label for r in recordings])[rec]
    # a seizure's onset is the first sample of a run of seizure recordings
    starts = [bounds[i] for i, r in enumerate(recordings)
              if r.label == SEIZURE and (i == 0 or recordings[i - 1].label != SEIZURE)]
    onset = np.zeros(len(wins), bool)
    for s in starts:
        onset |= (last >= s) & (last < s + onset_s * clf.sample_rate)
    probs = clf.predict_proba(wins)
    return Sequence(np.log(np.maximum(probs, 1e-30)).astype(np.float32),
                    labels.astype(np.int64), tuple(r.id for r in recordings), onset)


def oof_sequences(folds: list[Fold], recordings: list[Recording], arrangements: int,
                  seed: int = 0, hop_s: float = 0.1) -> dict[str, list[Sequence]]:
    """Per fold: ``arrangements`` sequences, each all of the fold's validation recordings in a
    seeded random order, classified by that fold's model only."""
    by_id = {r.id: r for r in recordings}
    check_disjoint(folds)
    out: dict[str, list[Sequence]] = {}
    for k, fold in enumerate(folds):
        missing = [i for i in fold.validation_ids if i not in by_id]
        if missing:
            raise ValueError(f"{fold.name}: {len(missing)} of its validation recordings are "
                             f"not in the data (e.g. {missing[0]}); give the data it was "
                             "trained on.")
        recs = [by_id[i] for i in fold.validation_ids]
        rng = np.random.default_rng([seed, k])
        hop = hop_samples(fold.classifier, hop_s)
        out[fold.name] = [session_sequence(fold.classifier,
                                           [recs[i] for i in rng.permutation(len(recs))], hop)
                          for _ in range(arrangements)]
    return out


def check_disjoint(folds: list[Fold]) -> None:
    """Folds of one cross-validation hold out disjoint recordings."""
    seen: dict[str, str] = {}
    for f in folds:
        for i in f.validation_ids:
            if i in seen:
                raise ValueError(f"recording {i} is held out by both {seen[i]} and {f.name}: "
                                 "give the folds of one cross-validation run.")
            seen[i] = f.name


def check_grouped(train: Iterable[Sequence], test_ids: Iterable[str]) -> None:
    """Refuse a split that puts a recording on both sides."""
    both = {i for s in train for i in s.ids} & set(test_ids)
    if both:
        raise ValueError(f"{len(both)} recordings are on both sides of the split "
                         f"(e.g. {sorted(both)[0]})")


def nested_split(by_fold: dict[str, list[Sequence]], test_fold: str
                 ) -> tuple[list[Sequence], list[Sequence]]:
    """Train on every other fold's sequences, test on ``test_fold``'s; checked by id."""
    train = [s for name, seqs in by_fold.items() if name != test_fold for s in seqs]
    test = list(by_fold[test_fold])
    check_grouped(train, {i for s in test for i in s.ids})
    return train, test


def fit_from_folds(folds: list[Fold], recordings: list[Recording], cfg: ContextTrainConfig,
                   arrangements: int = 6, seed: int = 0, log=None) -> tuple[ContextNet, dict]:
    """The context stage for a checkpoint: trained on every fold's out-of-fold sequences (the
    folds of one or more cross-validation runs; each run's folds must be disjoint)."""
    runs: dict[str, list[Fold]] = {}
    for f in folds:  # folds of different seeds overlap by design; check each run on its own
        runs.setdefault(f.name.rsplit("-", 1)[0], []).append(f)
    seqs = []
    for run in runs.values():
        seqs += [s for v in oof_sequences(run, recordings, arrangements, seed,
                                          cfg.net.hop_s).values() for s in v]
    net, info = train_context(seqs, cfg, log)
    return net, {**info, "folds": [f.name for f in folds], "arrangements": arrangements}
