"""Publish a scenario as a real LSL EEG stream, with its ground truth on a marker stream.

Any LSL client (the monitor, LabRecorder, mne-lsl) sees an ordinary EEG amplifier; the
``<name>-truth`` marker stream says which class each recording is, so a live run can be scored.
"""

from __future__ import annotations

import math
import threading
import uuid

import numpy as np
import pylsl

from replay.player import Chunk, Player
from replay.scenario import Scenario

MANUFACTURER = "seizure-monitor replay"
#: how long stop() waits for a push loop running in another thread to notice
_STOP_TIMEOUT = 5.0


class LSLReplay:
    """Pushes a scenario's samples as they fall due, stamped ``t0 + i / rate``.

    Sample ``i`` of the stream is stamped ``t0 + i / rate`` (``t0``: ``local_clock()`` when the
    pushing began), so timestamps agree with the nominal rate whatever the speed and agree
    with ``local_clock()`` at speed 1. ``speed == 0`` pushes as fast as possible, in chunks of
    ``chunk_seconds`` of signal: an inlet must be open before :meth:`run` (LSL does not keep
    samples for consumers that connect later) and its buffer must hold the whole scenario.
    One-shot: after :meth:`stop` the outlets are gone.
    """

    def __init__(
        self,
        scenario: Scenario,
        name: str = "SeizureMonitorReplay",
        speed: float = 1.0,
        loop: bool = False,
        source_id: str | None = None,
        chunk_seconds: float = 0.02,
    ) -> None:
        if not chunk_seconds > 0:
            raise ValueError(f"chunk_seconds must be more than 0, got {chunk_seconds}.")
        self.scenario = scenario
        self.name = name
        self.source_id = source_id or f"{name}-{uuid.uuid4().hex[:12]}"
        self.chunk_seconds = float(chunk_seconds)
        self.player = Player(
            scenario, speed=speed, loop=loop,
            max_chunk=max(1, math.ceil(chunk_seconds * scenario.sample_rate)),
            clock=pylsl.local_clock,
        )
        self._segment_starts = np.array([seg.start for seg in scenario.segments])
        self._eeg: pylsl.StreamOutlet | None = None
        self._markers: pylsl.StreamOutlet | None = None
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False

    @property
    def sent(self) -> int:
        """Samples pushed so far."""
        return self.player.sent

    def start(self) -> None:
        """Create the outlets (the streams become visible); a second call does nothing."""
        if self._closed:
            raise RuntimeError("this replay was stopped; create a new LSLReplay to publish again.")
        if self._eeg is None:
            self._eeg = pylsl.StreamOutlet(self._eeg_info())
            self._markers = pylsl.StreamOutlet(pylsl.StreamInfo(
                f"{self.name}-truth", "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                f"{self.source_id}-truth",
            ))

    def wait_for_consumer(self, timeout: float) -> bool:
        """True once an inlet is connected to the EEG stream (False after ``timeout`` s)."""
        self.start()
        return self._eeg.wait_for_consumers(timeout)

    def stop(self) -> None:
        """Stop a running push loop and close the outlets; safe to call twice."""
        self._stop.set()
        if not self._idle.wait(_STOP_TIMEOUT):
            raise RuntimeError(f"the push loop of {self.name!r} did not stop within "
                               f"{_STOP_TIMEOUT:g} s.")
        self._closed = True
        # Dropping the last reference destroys the outlet (pylsl's __del__).
        self._eeg = self._markers = None

    def __enter__(self) -> LSLReplay:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def run(self, duration: float | None = None) -> None:
        """Push until the scenario ends, ``duration`` seconds have passed, or :meth:`stop`."""
        self.start()
        self._idle.clear()
        try:
            self.player.start()
            deadline = None if duration is None else pylsl.local_clock() + duration
            while not self._stop.is_set():
                chunk = self.player.pull()
                if chunk is None:
                    break
                self._push(chunk)
                now = pylsl.local_clock()
                if deadline is not None and now >= deadline:
                    break
                if self.player.speed > 0:
                    wait = self.chunk_seconds if deadline is None else deadline - now
                    self._stop.wait(min(self.chunk_seconds, wait))
        finally:
            self._idle.set()

    def _push(self, chunk: Chunk) -> None:
        n = len(chunk)
        if n == 0:
            return
        rate, t0 = self.scenario.sample_rate, self.player.t0
        total = self.scenario.n_samples
        stop = chunk.start + n
        # Markers go first, so a consumer that has a segment's first sample can know its truth.
        for lap in range(chunk.start // total, (stop - 1) // total + 1):
            base = lap * total
            first, last = np.searchsorted(self._segment_starts, [chunk.start - base, stop - base])
            for seg in self.scenario.segments[first:last]:
                text = f"truth={seg.class_name or 'unknown'};recording={seg.recording_id}"
                self._markers.push_sample([text], t0 + (base + seg.start) / rate)
        stamps = t0 + np.arange(chunk.start, stop) / rate
        # A list of stamps sends each one exactly; a single stamp would have liblsl derive the
        # others by repeated addition of 1 / rate.
        self._eeg.push_chunk(np.ascontiguousarray(chunk.data.T), stamps.tolist())

    def _eeg_info(self) -> pylsl.StreamInfo:
        sc = self.scenario
        info = pylsl.StreamInfo(self.name, "EEG", sc.data.shape[0], sc.sample_rate,
                                pylsl.cf_float32, self.source_id)
        channels = info.desc().append_child("channels")
        for label in sc.channels:
            ch = channels.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", "microvolts")
            ch.append_child_value("type", "EEG")
        info.desc().append_child("acquisition").append_child_value("manufacturer", MANUFACTURER)
        return info
