"""InferenceWorker: the newest window of every EEG channel -> class probabilities."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from model.checkpoint import Classifier
from monitor.buffer import RingBuffer, Window
from monitor.quality import check_windows


@dataclass(frozen=True)
class WindowResult:
    end: int  # absolute index (exclusive) of the window's last sample in the buffer
    timestamp: float  # timestamp of the window's last sample
    probs: np.ndarray  # (n_eeg, n_classes); NaN rows for channels not classified
    valid: np.ndarray  # (n_eeg,) bool
    problems: tuple[str | None, ...]  # per EEG channel: why it was not classified
    truth: int  # class of the last sample, -1 if unknown
    segment: int
    skipped: int  # windows skipped (worker behind) since the previous result
    infer_s: float


class InferenceWorker:
    """One synchronous ``step()`` per hop; the pipeline's thread only calls it.

    Real time first: when more than one hop of samples has arrived since the last window, it
    jumps to the newest window on the hop grid and counts the windows it skipped, so it never
    queues work. Windows that span a gap in the stream (two segments) are not classified.
    """

    def __init__(self, classifier: Classifier, buffer: RingBuffer, hop: int,
                 eeg: tuple[int, ...], realtime: bool = True):
        if hop < 1:
            raise ValueError(f"hop must be at least one sample, got {hop}")
        self.clf = classifier
        self.buffer = buffer
        self.hop = hop
        self.eeg = np.asarray(eeg, dtype=int)
        self.window = classifier.window
        #: False: classify every window on the hop grid (a replay paced by the worker itself)
        self.realtime = realtime
        self._next_end = self.window
        self.skipped_total = 0
        self._unreported = 0  # skipped, not yet in a result's count

    @property
    def next_end(self) -> int:
        """The end (sample count) of the next window the worker will look at."""
        return self._next_end

    def step(self) -> WindowResult | None:
        """The next window due, classified; None when no window is due yet. Its ``skipped``
        counts every window jumped over since the last result, however many tries it took."""
        while True:
            written = self.buffer.written
            if written < self._next_end:
                return None
            behind = (written - self._next_end) // self.hop if self.realtime else 0
            end = self._next_end + behind * self.hop
            self._next_end = end + self.hop
            self.skipped_total += behind
            self._unreported += behind
            win = self.buffer.window(end, self.window)
            # A window overwritten while we were behind, or spanning a gap, is passed over.
            if win is not None and win.segment[0] == win.segment[-1]:
                skipped, self._unreported = self._unreported, 0
                return self._classify(win, skipped)

    def _classify(self, win: Window, skipped: int) -> WindowResult:
        x = win.data[self.eeg]
        problems = check_windows(x)
        valid = np.array([p is None for p in problems])
        probs = np.full((len(x), len(self.clf.classes)), np.nan, np.float32)
        start = time.perf_counter()
        if valid.any():
            probs[valid] = self.clf.predict_proba(x[valid])
        return WindowResult(win.end, float(win.timestamps[-1]), probs, valid, tuple(problems),
                            int(win.truth[-1]), int(win.segment[-1]), skipped,
                            time.perf_counter() - start)
