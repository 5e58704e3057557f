"""Choose recordings and play them one after another as one signal with a known truth.

The truth travels with every sample so a live run can be scored sample by sample, and the
segment borders say where one recording ends and the next begins (where a monitor should
change its mind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.data import CLASSES, DataError, Recording

#: truth value of a sample whose class is not known (an unlabelled file)
UNKNOWN = -1


@dataclass(frozen=True)
class Segment:
    """One recording's place in a scenario: samples ``[start, stop)``."""

    start: int
    stop: int
    recording_id: str
    class_name: str | None


@dataclass(frozen=True)
class Scenario:
    """Recordings played one after another, with the truth of every sample."""

    data: np.ndarray
    truth: np.ndarray
    sample_rate: float
    channels: tuple[str, ...]
    segments: tuple[Segment, ...]

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        """Seconds of signal at the recording's own rate."""
        return self.n_samples / self.sample_rate


def parse_classes(text: str) -> list[str]:
    """``"normal,normal,tumor,seizure"`` -> class names, checked against :data:`CLASSES`."""
    names = [name.strip().lower() for name in text.split(",")]
    for name in names:
        _check_class(name)
    return names


def build_scenario(
    recordings: list[Recording],
    classes: list[str] | None = None,
    ids: list[str] | None = None,
    seed: int = 0,
) -> Scenario:
    """Concatenate recordings chosen by class (at random, with ``seed``), by id, or all.

    By class, a recording is not repeated while others of its class remain, so a long class
    list shows as many different recordings as the data has.
    """
    if classes is not None and ids is not None:
        raise ValueError("give classes or ids, not both.")
    if not recordings:
        raise DataError("there are no recordings to build a scenario from.")
    if classes is not None:
        chosen = _choose_by_class(recordings, classes, seed)
    elif ids is not None:
        chosen = _choose_by_id(recordings, ids)
    else:
        chosen = list(recordings)
    if not chosen:
        raise DataError("the scenario is empty; name at least one class or recording id.")
    _check_compatible(chosen)
    segments, start = [], 0
    for rec in chosen:
        segments.append(Segment(start, start + rec.n_samples, rec.id, rec.class_name))
        start += rec.n_samples
    truth = np.concatenate([
        np.full(rec.n_samples, UNKNOWN if rec.label is None else rec.label, dtype=np.int8)
        for rec in chosen
    ])
    return Scenario(
        data=np.concatenate([rec.data for rec in chosen], axis=1).astype(np.float32, copy=False),
        truth=truth,
        sample_rate=float(chosen[0].sample_rate),
        channels=tuple(chosen[0].channels),
        segments=tuple(segments),
    )


def _check_class(name: str) -> None:
    if name not in CLASSES:
        raise DataError(
            f"unknown class {name!r} in the scenario; use a comma-separated list of "
            f"{', '.join(CLASSES)}."
        )


def _choose_by_class(recordings: list[Recording], classes: list[str], seed: int) -> list[Recording]:
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[Recording]] = {name: [] for name in CLASSES}
    for rec in recordings:
        if rec.class_name is not None:
            by_class[rec.class_name].append(rec)
    pools: dict[str, list[Recording]] = {}
    chosen = []
    for name in classes:
        _check_class(name)
        if not by_class[name]:
            present = sorted(c for c, recs in by_class.items() if recs) or ["none"]
            raise DataError(
                f"the data has no labelled {name!r} recording; classes present: "
                f"{', '.join(present)}."
            )
        if not pools.get(name):
            # A fresh shuffle of the whole class each time the pool runs dry.
            order = rng.permutation(len(by_class[name]))
            pools[name] = [by_class[name][i] for i in order]
        chosen.append(pools[name].pop())
    return chosen


def _choose_by_id(recordings: list[Recording], ids: list[str]) -> list[Recording]:
    by_id = {rec.id: rec for rec in recordings}
    for rec_id in ids:
        if rec_id not in by_id:
            examples = ", ".join(repr(r.id) for r in recordings[:4])
            raise DataError(
                f"no recording with id {rec_id!r}; the data has {len(recordings)} "
                f"recording(s), with ids such as {examples}."
            )
    return [by_id[rec_id] for rec_id in ids]


def _check_compatible(chosen: list[Recording]) -> None:
    first = chosen[0]
    for rec in chosen[1:]:
        if not math.isclose(rec.sample_rate, first.sample_rate, rel_tol=1e-9):
            raise DataError(
                f"recording {rec.id!r} is sampled at {rec.sample_rate:g} Hz but {first.id!r} "
                f"at {first.sample_rate:g} Hz; a scenario needs one rate, so choose recordings "
                "from one source."
            )
        if rec.data.shape[0] != first.data.shape[0]:
            raise DataError(
                f"recording {rec.id!r} has {rec.data.shape[0]} channel(s) but {first.id!r} has "
                f"{first.data.shape[0]}; a scenario needs one channel count."
            )
