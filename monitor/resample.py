"""Streaming rational resampling from a source's rate to the model's rate.

The anti-aliasing filter is scipy's, designed exactly as ``scipy.signal.resample_poly``
designs it, so a chunked stream gives the same output as resampling the whole signal at
once. The filter is applied by hand because neither scipy nor mne keeps filter state between
chunks: we keep the last input samples as history instead, which is what removes artefacts at
chunk borders. The price is a delay of half the filter (about 10 input samples).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import firwin

#: The largest up/down fraction is tried last: its filter grows with max(up, down).
_DENOMINATORS = (100, 200, 400, 800, 1600, 3200)


def rate_ratio(source_rate: float, target_rate: float, tolerance: float = 1e-4) -> Fraction:
    """The simplest up/down within ``tolerance`` (relative) of target/source: the filter grows
    with max(up, down), so the smallest fraction that is close enough is the cheapest."""
    exact = target_rate / source_rate
    for limit in _DENOMINATORS:
        ratio = Fraction(exact).limit_denominator(limit)
        if abs(float(ratio) / exact - 1) <= tolerance:
            break
    return ratio


class StreamingResampler:
    """Resample (n_channels, n) chunks by up/down with a fixed polyphase FIR and history."""

    def __init__(self, source_rate: float, target_rate: float, n_channels: int):
        ratio = rate_ratio(source_rate, target_rate)
        self.up, self.down = ratio.numerator, ratio.denominator
        # As scipy.signal.resample_poly: half length 10 * max(up, down), Kaiser beta 5.
        max_rate = max(self.up, self.down)
        self.half = 10 * max_rate
        self.h = firwin(2 * self.half + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * self.up
        self.n_channels = n_channels
        self.reset()

    def reset(self) -> None:
        """Forget the history (after a gap in the stream)."""
        self._x = np.zeros((self.n_channels, 0), np.float64)
        self._ts = np.zeros(0, np.float64)
        self._truth = np.zeros(0, np.int8)
        self._x0 = 0  # input index of self._x[:, 0]
        self._m = 0  # next output index

    def process(self, data: np.ndarray, timestamps: np.ndarray, truth: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Feed input samples; return every output sample that can now be computed."""
        self._x = np.concatenate([self._x, data.astype(np.float64)], axis=1)
        self._ts = np.concatenate([self._ts, timestamps])
        self._truth = np.concatenate([self._truth, truth])
        n_in = self._x0 + self._x.shape[1]
        # Output m needs inputs up to floor((m*down + half) / up).
        m_stop = (n_in * self.up - self.half - 1) // self.down + 1
        m = np.arange(self._m, max(self._m, m_stop))
        if len(m) == 0:
            return (np.zeros((self.n_channels, 0), np.float32), np.zeros(0),
                    np.zeros(0, np.int8))
        lo = -(-(m * self.down - self.half) // self.up)  # first input index, ceil division
        taps = -(-(2 * self.half + 1) // self.up) + 1
        n_idx = lo[:, None] + np.arange(taps)[None, :]  # (M, taps) input indices
        k = m[:, None] * self.down - n_idx * self.up + self.half  # filter tap of each
        valid = (k >= 0) & (k < len(self.h)) & (n_idx >= 0)
        local = np.clip(n_idx - self._x0, 0, self._x.shape[1] - 1)
        weights = np.where(valid, self.h[np.clip(k, 0, len(self.h) - 1)], 0.0)
        out = np.einsum("cmt,mt->cm", self._x[:, local], weights)
        pos = m * self.down / self.up  # output positions in input samples
        ts = np.interp(pos, self._x0 + np.arange(len(self._ts)), self._ts)
        nearest = np.clip(np.rint(pos).astype(int) - self._x0, 0, len(self._truth) - 1)
        truth = self._truth[nearest]
        self._m = int(m[-1]) + 1
        # Keep only the history the next outputs can still need.
        keep_from = max(0, -(-(self._m * self.down - self.half) // self.up) - 1 - self._x0)
        keep_from = min(keep_from, self._x.shape[1])
        self._x, self._ts = self._x[:, keep_from:], self._ts[keep_from:]
        self._truth = self._truth[keep_from:]
        self._x0 += keep_from
        return out.astype(np.float32), ts, truth
