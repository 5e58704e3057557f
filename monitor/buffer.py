"""RingBuffer: the one place samples live between the source and its readers."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """A copy of ``n`` consecutive samples ending (exclusive) at absolute index ``end``."""

    data: np.ndarray  # (n_channels, n) float32
    timestamps: np.ndarray  # (n,) float64, local clock
    truth: np.ndarray  # (n,) int8, -1 where unknown
    segment: np.ndarray  # (n,) int32: a new segment starts after each gap in the stream
    end: int


class RingBuffer:
    """Fixed-capacity multi-channel float32 ring with timestamps, truth and segment ids.

    One writer, any readers: the lock is held only to write and to copy a window out, so a
    reader (the worker, the dashboard) never waits on the source for long. Samples are
    addressed by absolute index (``written`` counts every sample ever written), so readers
    can ask for exactly the window they want and learn when it has been overwritten.
    """

    def __init__(self, n_channels: int, capacity: int):
        if capacity < 1 or n_channels < 1:
            raise ValueError("a ring buffer needs at least one channel and one sample")
        self.capacity = capacity
        self.n_channels = n_channels
        self._data = np.zeros((n_channels, capacity), np.float32)
        self._ts = np.zeros(capacity, np.float64)
        self._truth = np.full(capacity, -1, np.int8)
        self._segment = np.zeros(capacity, np.int32)
        self._lock = threading.Lock()
        self._written = 0
        self._new_data = threading.Condition(self._lock)

    @property
    def written(self) -> int:
        return self._written

    @property
    def overwritten(self) -> int:
        return max(0, self._written - self.capacity)

    def write(self, data: np.ndarray, timestamps: np.ndarray, truth: np.ndarray | None = None,
              segment: int = 0) -> None:
        n = data.shape[1]
        if n == 0:
            return
        if n > self.capacity:  # only the newest samples can be kept
            data, timestamps = data[:, -self.capacity:], timestamps[-self.capacity:]
            truth = None if truth is None else truth[-self.capacity:]
            skipped, n = n - self.capacity, self.capacity
        else:
            skipped = 0
        with self._lock:
            start = (self._written + skipped) % self.capacity
            idx = (start + np.arange(n)) % self.capacity
            self._data[:, idx] = data
            self._ts[idx] = timestamps
            self._truth[idx] = -1 if truth is None else truth
            self._segment[idx] = segment
            self._written += skipped + n
            self._new_data.notify_all()

    def wait(self, written: int, timeout: float) -> bool:
        """Block until more than ``written`` samples have been written, or ``timeout``."""
        with self._lock:
            return self._new_data.wait_for(lambda: self._written > written, timeout)

    def window(self, end: int, n: int) -> Window | None:
        """Samples [end - n, end), or None if they are not (or no longer) in the buffer."""
        with self._lock:
            if end > self._written or end - n < max(0, self._written - self.capacity) or n < 1:
                return None
            idx = np.arange(end - n, end) % self.capacity
            return Window(self._data[:, idx], self._ts[idx], self._truth[idx],
                          self._segment[idx], end)

    def copy_latest(self, out: np.ndarray, rows: np.ndarray) -> tuple[int, int]:
        """The newest samples of channels ``rows`` copied into ``out`` (len(rows), n), oldest
        first, allocating nothing (a dashboard frame): how many were copied (fewer than n at
        the start of a stream) and ``written`` at the time."""
        with self._lock:
            end = self._written
            m = min(out.shape[1], end, self.capacity)
            start = (end - m) % self.capacity
            first = min(m, self.capacity - start)  # up to the ring's end, then from its start
            np.take(self._data[:, start:start + first], rows, axis=0, out=out[:, :first],
                    mode="clip")
            if first < m:
                np.take(self._data[:, :m - first], rows, axis=0, out=out[:, first:m],
                        mode="clip")
        return m, end

    def latest(self, n: int) -> Window:
        """The newest ``n`` samples (fewer at the start of a stream)."""
        with self._lock:
            end = self._written
            n = min(n, end, self.capacity)
            idx = np.arange(end - n, end) % self.capacity
            return Window(self._data[:, idx], self._ts[idx], self._truth[idx],
                          self._segment[idx], end)
