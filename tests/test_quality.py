"""The signal-quality checks (monitor/quality.py) on real and on broken windows."""

from __future__ import annotations

import numpy as np
from helpers import WINDOW, by_set

from model.data import Recording
from model.windows import sliding_windows
from monitor.quality import MAX_ABS, check_windows


def test_every_window_of_the_real_recordings_passes(recordings: list[Recording]) -> None:
    for rec in recordings:
        windows = sliding_windows(rec.data[0], WINDOW, 60)
        problems = [p for p in check_windows(windows) if p is not None]
        assert not problems, f"{rec.id}: {problems[:3]}"


def test_bad_windows_are_named(recordings: list[Recording]) -> None:
    good = by_set(recordings, "S")[:WINDOW].astype(np.float32)
    nan, inf = good.copy(), good.copy()
    nan[50] = np.nan
    inf[3] = -np.inf
    clipped = good.copy()
    clipped[clipped >= np.quantile(clipped, 0.85)] = clipped.max()
    assert np.abs(good).max() < MAX_ABS < np.abs(good * 1e3).max()
    rows = np.stack([good, nan, inf, np.full(WINDOW, 12.0), good * 1e-6, good * 1e3, clipped])
    problems = check_windows(rows)
    assert problems[0] is None
    assert "NaN" in problems[1] and "NaN" in problems[2]
    assert problems[3].startswith("flat") and problems[4].startswith("flat")  # volts as uV
    assert "wrong units" in problems[5]  # millivolts read as microvolts
    assert problems[6] == "clipping"
