"""Smoother: class probabilities averaged over time, per channel."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

#: the smoothing modes Smoother knows
SMOOTHING_MODES = ("ema", "mean")


class Smoother:
    """Exponential (time constant ``seconds``) or trailing mean (over ``seconds``) of probs.

    Time is stream time, so a replay at 10x speed smooths exactly as at 1x. ``reset()`` after
    a gap in the stream, so probabilities from before the gap do not leak into the next alert.
    """

    def __init__(self, seconds: float, mode: str = "ema"):
        if mode not in SMOOTHING_MODES:
            raise ValueError(f"smoothing mode must be 'ema' or 'mean', got {mode!r}")
        if seconds < 0:
            raise ValueError(f"smoothing time must be >= 0 s, got {seconds}")
        self.seconds = seconds
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        self._state: np.ndarray | None = None
        self._t: float | None = None
        self._history: deque[tuple[float, np.ndarray]] = deque()

    def update(self, t: float, probs: np.ndarray) -> np.ndarray:
        """Add the probabilities (n_channels, n_classes) of the window ending at ``t``."""
        if self.seconds == 0:
            return probs.copy()
        if self.mode == "mean":
            self._history.append((t, probs))
            while self._history and self._history[0][0] <= t - self.seconds:
                self._history.popleft()
            return np.mean([p for _, p in self._history], axis=0)
        if self._state is None or self._state.shape != probs.shape or self._t is None:
            self._state = probs.astype(np.float64)
        else:
            alpha = 1.0 - math.exp(-max(t - self._t, 0.0) / self.seconds)
            self._state += alpha * (probs - self._state)
        self._t = t
        return self._state.astype(np.float32)
