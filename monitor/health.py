"""StreamHealth: is the stream alive, on time and at its declared rate?

Judged from what the source delivers and when, by a synchronous object the acquisition loop
feeds (tests drive it with a clock of their own). It says what to report; the pipeline reports
it and acts on it (a recovered stream starts a new segment, so no window spans the gap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.sources import SourceInfo

#: timestamps this far (s) from where the declared rate puts them have jumped (or the rate is
#: wrong); far above clock-sync corrections and dejitter noise, which are milliseconds
JUMP_S = 0.5
#: at most one timestamp_jump report per this many wall-clock seconds: after a jump, liblsl's
#: dejitter takes a minute or more to settle, so the stamps keep wandering for a while
JUMP_REPORT_S = 10.0
#: while a stream is lost, how often (s) to look whether its producer came back changed
VERIFY_EVERY_S = 0.25
#: wall-clock seconds of a live stream over which its rate is measured
RATE_WINDOW_S = 10.0


@dataclass(frozen=True)
class HealthEvent:
    event: str  # stream_lost, stream_recovered, timestamp_jump, rate_mismatch
    detail: str


class StreamHealth:
    """``samples()`` for every read that brought samples, ``silence()`` for one that did not;
    each returns the events to report. ``now`` is a monotonic wall clock in seconds."""

    def __init__(self, info: SourceInfo, stale_s: float, now: float):
        self.info = info
        self.stale_s = stale_s
        self.lost = False
        #: counts the gaps: the stream's samples after the n-th recovery are segment n
        self.segment = 0
        self.measured_rate: float | None = None
        self._last_sample = now
        self._received = 0  # samples read from the source (at its own rate)
        self._anchor: tuple[int, float] | None = None  # (sample count, its timestamp)
        self._jump_quiet_until = -np.inf
        self._rate_window: list[tuple[float, int]] = []
        self._next_verify = -np.inf

    def silence(self, now: float) -> list[HealthEvent]:
        """A read brought nothing: lost once nothing has come for ``stale_s``."""
        if self.lost or now - self._last_sample <= self.stale_s:
            return []
        self.lost = True
        i = self.info
        return [HealthEvent("stream_lost", f"no sample from {i.name!r} (source_id "
                                           f"{i.source_id!r}, host {i.hostname!r}) for "
                                           f"{now - self._last_sample:.1f} s")]

    def verify_due(self, now: float) -> bool:
        """While lost, whether to look at the producer now (liblsl never reconnects to one back
        with another channel count, so the stream would stay lost without saying why)."""
        if not self.lost or now < self._next_verify:
            return False
        self._next_verify = now + VERIFY_EVERY_S
        return True

    def samples(self, timestamps: np.ndarray, now: float) -> list[HealthEvent]:
        """A read brought these samples (their timestamps); a lost stream is back."""
        events = []
        if self.lost:
            self.lost = False
            self.segment += 1
            self._anchor = None  # the gap moved the timestamps on; a new anchor after it
            self._rate_window.clear()  # the silence is no measure of the rate
            events.append(HealthEvent(
                "stream_recovered", f"{self.info.name!r} is back after "
                                    f"{now - self._last_sample:.1f} s; the gap is marked and "
                                    "no window spans it"))
        self._last_sample = now
        events += self._check_timestamps(timestamps, now)
        if self.info.kind == "lsl":
            events += self._check_rate(len(timestamps), now)
        return events

    def _check_timestamps(self, ts: np.ndarray, now: float) -> list[HealthEvent]:
        # Where the declared rate puts the chunk's last sample, counted from an anchor. liblsl's
        # dejitter turns a jump into a slope over many samples, so steps between neighbours
        # say little; the distance from the anchor grows past JUMP_S within a fraction of a
        # second of a jump either way.
        declared = self.info.sample_rate
        first = self._received
        self._received += len(ts)
        if self._anchor is None:
            self._anchor = (first, float(ts[0]))
        k0, t0 = self._anchor
        off = float(ts[-1]) - (t0 + (self._received - 1 - k0) / declared)
        if abs(off) <= JUMP_S:
            return []
        self._anchor = (self._received - 1, float(ts[-1]))
        if now < self._jump_quiet_until:
            return []
        self._jump_quiet_until = now + JUMP_REPORT_S
        return [HealthEvent("timestamp_jump",
                            f"timestamps of {self.info.name!r} are {off:+.2f} s off where the "
                            f"declared {declared:g} Hz puts them (a clock jump, or a wrong "
                            "declared rate); windows follow sample order")]

    def _check_rate(self, n: int, now: float) -> list[HealthEvent]:
        """The rate measured over RATE_WINDOW_S of wall clock against the declared one."""
        history = self._rate_window
        history.append((now, n))
        span = history[-1][0] - history[0][0]
        if span < RATE_WINDOW_S:
            return []
        measured = sum(k for _, k in history[1:]) / span
        history.clear()
        self.measured_rate = measured
        declared = self.info.sample_rate
        if abs(measured - declared) <= 0.1 * declared:
            return []
        return [HealthEvent("rate_mismatch", f"{self.info.name!r} declares {declared:g} Hz "
                                             f"but delivers {measured:.1f} Hz")]
