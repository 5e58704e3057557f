"""The benchmark's amplifier (monitor/measure/amplifier.py): its synthetic EEG passes the
signal-quality checks, so the benchmark's windows are classified."""

from __future__ import annotations

import numpy as np

from monitor.measure.amplifier import synthetic_eeg
from monitor.quality import check_windows


def test_synthetic_eeg_is_classified() -> None:
    x = synthetic_eeg(32, 1024, 173.61)
    assert x.dtype == np.float32 and x.shape == (32, 1024)
    windows = x[:, :120]
    assert check_windows(windows) == [None] * 32
