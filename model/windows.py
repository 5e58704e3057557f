"""Windows cut from recordings, and recording-grouped splits."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from model.data import Recording


def sliding_windows(signal: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Every ``window``-sample window at ``hop`` of a 1-D signal, as a read-only view."""
    if len(signal) < window:
        return np.empty((0, window), dtype=signal.dtype)
    view = np.lib.stride_tricks.sliding_window_view(signal, window)
    return view[::hop]


def random_windows(
    recordings: list[Recording], per_recording: int, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``per_recording`` windows at random offsets of each recording (crossing row borders)."""
    xs, ys = [], []
    for rec in recordings:
        signal = rec.data[0]
        starts = rng.integers(0, len(signal) - window + 1, size=per_recording)
        xs.append(signal[starts[:, None] + np.arange(window)])
        ys.append(np.full(per_recording, rec.label))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def grouped_split(
    recordings: list[Recording], val_fraction: float, seed: int
) -> tuple[list[Recording], list[Recording]]:
    """Split by recording, stratified by Bonn set: no recording is on both sides."""
    sets = [r.bonn_set for r in recordings]
    train, val = train_test_split(
        recordings, test_size=val_fraction, stratify=sets, random_state=seed
    )
    return list(train), list(val)


def grouped_folds(
    recordings: list[Recording], folds: int, seed: int
) -> list[tuple[list[Recording], list[Recording]]]:
    """K folds by recording, stratified by Bonn set."""
    sets = [r.bonn_set for r in recordings]
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        ([recordings[i] for i in tr], [recordings[i] for i in va])
        for tr, va in skf.split(np.zeros(len(recordings)), sets)
    ]
