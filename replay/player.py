"""Pace a scenario against a clock, for in-process use and for the LSL publisher.

The number of samples due is computed from the time elapsed since :meth:`Player.start`, never
by sleeping once per sample, so a late pull catches up and the stream does not drift.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from replay.scenario import Scenario


@dataclass(frozen=True)
class Chunk:
    """Samples ``[start, start + n)`` of the stream (``start`` keeps growing across loops)."""

    data: np.ndarray
    start: int
    truth: np.ndarray

    def __len__(self) -> int:
        return int(self.data.shape[1])


class Player:
    """Hands out the samples of a scenario as they fall due.

    ``speed`` scales time (2 plays twice as fast); ``speed == 0`` plays as fast as the
    consumer pulls, ``max_chunk`` samples per pull. With ``loop`` the scenario wraps around
    forever and the stream index keeps growing. Stream time of sample ``i`` is ``i / rate``.
    """

    def __init__(
        self,
        scenario: Scenario,
        speed: float = 1.0,
        loop: bool = False,
        max_chunk: int = 64,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not speed >= 0 or math.isinf(speed):
            raise ValueError(f"speed must be a finite number of 0 or more, got {speed}.")
        if scenario.n_samples == 0:
            raise ValueError("the scenario has no samples to play.")
        if max_chunk < 1:
            raise ValueError(f"max_chunk must be at least 1, got {max_chunk}.")
        self.scenario = scenario
        self.speed = float(speed)
        self.loop = loop
        self.max_chunk = int(max_chunk)
        self._clock = clock
        self._t0: float | None = None
        self._sent = 0

    def start(self) -> None:
        """Start the clock; a second call keeps the first start time."""
        if self._t0 is None:
            self._t0 = self._clock()

    @property
    def t0(self) -> float | None:
        """Clock time of :meth:`start` (None before it): stream sample ``i`` is due at
        ``t0 + i / (rate * speed)``."""
        return self._t0

    @property
    def sent(self) -> int:
        """Samples handed out so far."""
        return self._sent

    @property
    def finished(self) -> bool:
        return not self.loop and self._sent >= self.scenario.n_samples

    def pull(self) -> Chunk | None:
        """The samples due by now (possibly none); None once a non-looping replay is done."""
        if self._t0 is None:
            raise RuntimeError("the player has not been started; call start() before pull().")
        if self.finished:
            return None
        if self.speed == 0:
            due = self._sent + self.max_chunk
        else:
            elapsed = self._clock() - self._t0
            due = max(self._sent, math.floor(elapsed * self.speed * self.scenario.sample_rate))
        n = self.scenario.n_samples
        if not self.loop:
            due = min(due, n)
        start, self._sent = self._sent, due
        if self.loop:
            idx = np.arange(start, due) % n
            return Chunk(self.scenario.data[:, idx], start, self.scenario.truth[idx])
        return Chunk(self.scenario.data[:, start:due], start, self.scenario.truth[start:due])
