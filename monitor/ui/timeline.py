"""Timeline: the recent predictions, in preallocated arrays the plots read without copying."""

from __future__ import annotations

import numpy as np

from model.data import CLASSES
from monitor.sinks import Prediction


class Timeline:
    """The last ``capacity`` predictions of one stream.

    Arrays are twice the capacity and rows are appended at the end; when the end is reached
    the newest ``capacity`` rows move to the front (once per ``capacity`` appends), so the
    rows of any time span are always one contiguous slice, ready for ``setData``.
    """

    def __init__(self, n_channels: int, capacity: int = 2048):
        self.capacity = capacity
        size = 2 * capacity
        self.t = np.zeros(size, np.float64)
        self.smoothed = np.zeros((size, len(CLASSES)), np.float32)  # lead channel
        self.raw = np.zeros((size, len(CLASSES)), np.float32)  # lead channel, NaN if invalid
        self.truth = np.full(size, -1, np.int8)  # class index, -1 unknown
        self.model = np.zeros(size, np.int8)  # argmax of the smoothed lead channel
        self.channel_seizure = np.zeros((size, n_channels), np.float32)
        self._arrays = (self.t, self.smoothed, self.raw, self.truth, self.model,
                        self.channel_seizure)
        self._end = 0
        self.last: Prediction | None = None

    def __len__(self) -> int:
        return min(self._end, self.capacity)

    def append(self, p: Prediction) -> None:
        if self._end == 2 * self.capacity:
            for a in self._arrays:
                a[:self.capacity] = a[self.capacity:]
            self._end = self.capacity
        i, lead = self._end, p.lead
        self.t[i] = p.t
        self.smoothed[i] = p.smoothed[lead]
        self.raw[i] = p.probs[lead]
        self.truth[i] = CLASSES.index(p.truth) if p.truth is not None else -1
        self.model[i] = int(np.argmax(p.smoothed[lead]))
        self.channel_seizure[i] = np.where(p.valid, p.smoothed[:, 0], np.nan)
        self._end += 1
        self.last = p

    def since(self, t0: float) -> slice:
        """The rows with ``t >= t0`` (stream time), as a slice of the arrays."""
        start = max(0, self._end - self.capacity)
        return slice(start + int(np.searchsorted(self.t[start:self._end], t0)), self._end)
