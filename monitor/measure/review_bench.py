"""`seizure-monitor report --bench`: how long `review` and `report` take on a long recording
without stored predictions, on this machine.

The recording is made from the test subset (the 40 real recordings of ``tests/data``, at
their true 173.61 Hz), resampled with mne to the asked rate, played one after another until
it is long enough, on every channel with each channel starting at another recording, and
written as an EDF+ (edfio, through mne's export) with every seizure recording annotated.
Then, as the commands do: open it, classify it (the model pass, with the review's hop), score
it against its annotations and write the report.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from model.checkpoint import load_classifier
from model.data import BONN_RATE, read_kaggle_csv
from monitor.settings import MonitorSettings

SUBSET = Path(__file__).resolve().parents[2] / "tests" / "data" / "bonn_subset.csv"


def make_recording(path: Path, minutes: float, channels: int, rate: float) -> dict:
    """Write the EDF+; what it holds."""
    import mne

    if not SUBSET.is_file():
        from model.data import DataError

        raise DataError(f"{SUBSET}: the test subset is not here (it ships with the source "
                        "tree, not the wheel); run --bench from a clone of the repository.")
    recs = read_kaggle_csv(SUBSET)
    # A fixed shuffle puts the seizures apart, as separate events. Every channel plays a
    # recording of the same class at the same time (another one on each channel), so the
    # seizure annotations hold for all channels.
    order = [recs[i] for i in np.random.default_rng(0).permutation(len(recs))]
    by_class = {c: [r for r in order if r.class_name == c] for c in {r.class_name for r in recs}}
    pieces = {r.id: mne.filter.resample(r.data[0].astype(np.float64), up=rate / BONN_RATE,
                                        verbose="error") for r in recs}
    lengths = np.array([len(pieces[r.id]) for r in order])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n = int(minutes * 60 * rate)
    data = np.empty((channels, n), np.float64)
    for c in range(channels):
        loop = np.concatenate([pieces[by_class[r.class_name][(by_class[r.class_name].index(r) + c)
                                                             % len(by_class[r.class_name])].id]
                               for r in order])
        data[c] = np.resize(loop, n) * 1e-6
    onsets, durations = [], []
    for k in range(int(np.ceil(n / lengths.sum()))):
        for r, s, m in zip(order, starts, lengths, strict=True):
            a = k * int(lengths.sum()) + s
            if r.class_name == "seizure" and a < n:
                onsets.append(a / rate)
                durations.append(min(m, n - a) / rate)
    raw = mne.io.RawArray(data, mne.create_info([f"EEG{c + 1:02d}" for c in range(channels)],
                                                rate, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations(onsets, durations, ["seizure"] * len(onsets)))
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    return {"seizures": len(onsets), "bytes": path.stat().st_size}


def bench_review(minutes: float, channels: int, rate: float, settings: MonitorSettings,
                 log=print) -> dict:
    """Make the recording, then time opening it, the model pass and the report, as
    `seizure-monitor report FILE --seizure-label ^seizure$` does them."""
    from monitor.measure.annotations import report_recording
    from monitor.review.classify import classify
    from monitor.review.recording import open_recording
    from monitor.review.report import MAX_SNAPSHOTS

    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        path, out = Path(tmp) / "bench.edf", Path(tmp) / "report.html"
        log(f"writing {minutes:g} min of {channels} channels at {rate:g} Hz from the test "
            "subset...")
        t = time.perf_counter()
        made = make_recording(path, minutes, channels, rate)
        log(f"  {path.name}: {made['bytes'] / 2**20:.0f} MiB, {made['seizures']} seizures "
            f"annotated, in {time.perf_counter() - t:.1f} s")
        start = time.perf_counter()
        rec = open_recording(path)
        opened = time.perf_counter()
        classify(rec, settings, load_classifier(settings.checkpoint))
        classified = time.perf_counter()
        found = report_recording(rec, out, "^seizure$", MAX_SNAPSHOTS, log)
        done = time.perf_counter()
        size = out.stat().st_size
    result = {"minutes": minutes, "channels": channels, "rate": rate,
              "hop_s": settings.hop_s, "open_s": round(opened - start, 2),
              "classify_s": round(classified - opened, 2), "report_s": round(done - classified, 2),
              "total_s": round(done - start, 2), "alerts": found["alerts"],
              "report_mib": round(size / 2**20, 2),
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    log(f"open (what the review window waits for): {result['open_s']:.2f} s; model pass "
        f"(a window every {settings.hop_s:g} s): {result['classify_s']:.1f} s; scoring and "
        f"report: {result['report_s']:.1f} s; total {result['total_s']:.1f} s (target < 60 s); "
        f"report {size / 2**20:.1f} MiB")
    return result
