"""The trace view's helpers (monitor/ui/traces.py), without a window."""

from __future__ import annotations

import numpy as np

from monitor.ui.traces import peak_decimate


def test_peak_decimate_keeps_the_extremes_of_every_run() -> None:
    y = np.random.default_rng(0).standard_normal((3, 100)).astype(np.float32)
    out = peak_decimate(y, 4)
    runs = y.reshape(3, 25, 4)
    assert out.shape == (3, 50)
    np.testing.assert_array_equal(out[:, 0::2], runs.min(axis=2))
    np.testing.assert_array_equal(out[:, 1::2], runs.max(axis=2))
    assert peak_decimate(y[:, :7], 3).shape == (3, 4)  # the oldest sample is dropped
