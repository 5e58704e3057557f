"""Smoother (monitor/smoothing.py), driven window by window in stream time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import probs

from model.data import CLASSES
from monitor.smoothing import Smoother

SEIZURE, NORMAL = (CLASSES.index(c) for c in ("seizure", "normal"))


@pytest.mark.parametrize("hop", [0.01, 0.1, 0.25])
def test_ema_reaches_63_percent_after_one_time_constant_whatever_the_hop(hop: float) -> None:
    tau = 2.0
    sm = Smoother(tau, "ema")
    sm.update(0.0, probs(0.0))
    n = round(tau / hop)
    for k in range(1, n + 1):
        out = sm.update(k * hop, probs(1.0))
    assert out[0, SEIZURE] == pytest.approx(1 - math.exp(-1), abs=1e-5)
    assert out[0, NORMAL] == pytest.approx(math.exp(-1), abs=1e-5)
    for k in range(n + 1, 10 * n):
        out = sm.update(k * hop, probs(1.0))
    assert out[0, SEIZURE] == pytest.approx(1.0, abs=1e-3)  # converges to the input


def test_mean_is_the_trailing_mean_over_the_window() -> None:
    sm = Smoother(1.0, "mean")
    values = np.random.default_rng(0).random(40)
    for k, v in enumerate(values):
        out = sm.update(k * 0.25, probs(v))
        lo = max(0, k - 3)  # the windows within the last second: (t - 1, t]
        assert out[0, SEIZURE] == pytest.approx(values[lo:k + 1].mean())


def test_reset_forgets_the_past_and_zero_seconds_passes_through() -> None:
    sm = Smoother(5.0)
    for k in range(20):
        sm.update(k * 0.1, probs(0.9))
    sm.reset()
    np.testing.assert_allclose(sm.update(2.0, probs(0.1)), probs(0.1), atol=1e-6)
    mean = Smoother(5.0, "mean")
    mean.update(0.0, probs(0.9))
    mean.reset()
    np.testing.assert_allclose(mean.update(0.1, probs(0.1)), probs(0.1))
    raw = Smoother(0.0)
    p = probs([0.2, 0.7])
    np.testing.assert_array_equal(raw.update(0.0, p), p)
    np.testing.assert_array_equal(raw.update(0.1, probs([0.9, 0.1])), probs([0.9, 0.1]))


def test_smoother_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="'ema' or 'mean'"):
        Smoother(1.0, "median")
    with pytest.raises(ValueError, match=">= 0"):
        Smoother(-1.0)
