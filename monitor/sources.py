"""Sources of samples: a live LSL inlet, or a replay of recordings paced by the clock."""

from __future__ import annotations

import socket
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pylsl

from replay.player import Player
from replay.scenario import Scenario

#: unit string -> factor to the dataset's units (about microvolts)
UNIT_SCALE = {
    "microvolts": 1.0, "microvolt": 1.0, "uv": 1.0, "µv": 1.0, "μv": 1.0,
    "millivolts": 1e3, "millivolt": 1e3, "mv": 1e3,
    "volts": 1e6, "volt": 1e6, "v": 1e6,
    "nanovolts": 1e-3, "nanovolt": 1e-3, "nv": 1e-3,
}
EEG_TYPES = {"eeg", "seeg", "ecog"}
LSL_FORMATS = {
    pylsl.cf_float32: np.float32, pylsl.cf_double64: np.float64,
    pylsl.cf_int16: np.int16, pylsl.cf_int32: np.int32, pylsl.cf_int8: np.int8,
    pylsl.cf_int64: np.int64,
}
#: liblsl's channel format codes, for messages
LSL_FORMAT_NAMES = {pylsl.cf_float32: "float32", pylsl.cf_double64: "double64",
                    pylsl.cf_string: "string", pylsl.cf_int32: "int32", pylsl.cf_int16: "int16",
                    pylsl.cf_int8: "int8", pylsl.cf_int64: "int64"}


class SourceError(ValueError):
    """A source that cannot be opened as asked; the message lists what was found."""


class SourceInterrupted(SourceError):
    """``open()`` gave up because the monitor was stopped while it waited."""


@dataclass(frozen=True)
class SourceInfo:
    name: str
    kind: str  # "lsl" or "replay"
    sample_rate: float
    channels: tuple[str, ...]
    eeg: tuple[int, ...]  # indices of the channels that are classified
    scale: tuple[float, ...]  # per channel factor to dataset units
    source_id: str = ""
    hostname: str = ""
    labelled: bool = False


@dataclass(frozen=True)
class SourceChunk:
    data: np.ndarray  # (n_channels, n) float32 in dataset units
    timestamps: np.ndarray  # (n,) float64
    truth: np.ndarray | None = None  # (n,) int8 class per sample, replays only


class Source(ABC):
    """A stream of samples: ``open()`` once, ``read()`` often, ``close()`` (idempotent).

    The class attributes below are the optional capabilities a pipeline asks about; a kind of
    source that has one sets it.
    """

    info: SourceInfo
    #: replay speed, x real time (0: as fast as it is read); None for a live stream
    speed: float | None = None
    #: seconds ``read()`` itself waits for a sample when none has come; 0: it returns at once,
    #: and the pipeline polls it
    wait_s: float = 0.0
    #: what ``open()`` noticed that the user should hear (a unit it could not read, ...)
    warnings: tuple[str, ...] = ()

    @abstractmethod
    def open(self) -> SourceInfo: ...

    @abstractmethod
    def read(self) -> SourceChunk | None:
        """Samples available now (possibly none); None when a finite source has ended."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release the source; safe to call twice."""

    def interrupt(self) -> None:  # noqa: B027 - most sources open at once
        """Make an ``open()`` that is waiting (for a stream to appear) give up soon; called
        from another thread, so Ctrl-C does not wait out the resolve timeout."""

    def verify(self, wait: float = 0.0) -> None:  # noqa: B027 - a recording cannot change
        """Raise SourceError if the source is no longer what ``open()`` found (a producer
        that came back with another channel count or rate), waiting up to ``wait`` s to see."""

    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ReplaySource(Source):
    """A scenario of recordings paced against the clock (``speed`` 0 = as fast as read)."""

    def __init__(self, scenario: Scenario, speed: float = 1.0, loop: bool = False,
                 name: str = "replay", chunk: int = 64):
        self.scenario = scenario
        self.player = Player(scenario, speed=speed, loop=loop, max_chunk=chunk)
        self.speed = speed
        n = len(scenario.channels)
        self.info = SourceInfo(name, "replay", scenario.sample_rate, scenario.channels,
                               tuple(range(n)), (1.0,) * n, f"replay:{name}",
                               socket.gethostname(), labelled=bool((scenario.truth >= 0).any()))

    def open(self) -> SourceInfo:
        self.player.start()
        return self.info

    def read(self) -> SourceChunk | None:
        chunk = self.player.pull()
        if chunk is None:
            return None
        # Replay timestamps are stream time: the sample index over the rate.
        ts = (chunk.start + np.arange(chunk.data.shape[1])) / self.scenario.sample_rate
        return SourceChunk(chunk.data, ts, chunk.truth)


def describe(info: pylsl.StreamInfo) -> str:
    return (f"name={info.name()!r} type={info.type()!r} source_id={info.source_id()!r} "
            f"host={info.hostname()!r} rate={info.nominal_srate():g} "
            f"channels={info.channel_count()}")


def resolve_stream(name: str | None = None, stype: str | None = None,
                   source_id: str | None = None, host: str | None = None,
                   timeout: float = 30.0,
                   cancel: threading.Event | None = None) -> pylsl.StreamInfo:
    """The one stream matching all given properties, waiting up to ``timeout`` for it (or
    until ``cancel`` is set: it is checked every second).

    LSL has no authentication: anyone can publish a stream of the same name, so when more
    than one matches we refuse to guess and list them all.
    """
    deadline = time.monotonic() + timeout
    while True:
        if cancel is not None and cancel.is_set():
            wanted = name or stype or source_id
            raise SourceInterrupted(f"stopped while looking for LSL stream {wanted!r}.")
        found = pylsl.resolve_streams(wait_time=min(1.0, max(0.1, deadline - time.monotonic())))
        matches = [s for s in found
                   if (name is None or s.name() == name) and (stype is None or s.type() == stype)
                   and (source_id is None or s.source_id() == source_id)
                   and (host is None or s.hostname() == host)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listing = "; ".join(describe(s) for s in matches)
            raise SourceError(f"{len(matches)} LSL streams match ({listing}); pick one with "
                              "--source-id or --host.")
        if time.monotonic() >= deadline:
            wanted = ", ".join(f"{k}={v!r}" for k, v in
                               (("name", name), ("type", stype), ("source_id", source_id),
                                ("host", host)) if v is not None)
            listing = "; ".join(describe(s) for s in found) or "none"
            raise SourceError(f"no LSL stream with {wanted} found within {timeout:g} s. "
                              f"Streams found: {listing}.")


def channel_metadata(info: pylsl.StreamInfo) -> tuple[list[str], list[str], list[str]]:
    """Labels, types and units from the stream's <channels> description ('' where absent)."""
    labels, types, units = [], [], []
    ch = info.desc().child("channels").child("channel")
    for i in range(info.channel_count()):
        if ch.empty():
            labels.append(f"ch{i + 1}")
            types.append("")
            units.append("")
            continue
        labels.append(ch.child_value("label") or f"ch{i + 1}")
        types.append(ch.child_value("type"))
        units.append(ch.child_value("unit"))
        ch = ch.next_sibling("channel")
    return labels, types, units


def unit_scale(unit: str) -> float | None:
    """Factor from a unit string ("uV", "volts", or MNE's exponent "-6") to dataset units."""
    text = unit.strip().lower()
    if text in UNIT_SCALE:
        return UNIT_SCALE[text]
    try:
        return 10.0 ** (int(text) + 6)  # MNE writes the power of ten of volts
    except ValueError:
        return None


class LSLSource(Source):
    """A live LSL inlet: time-corrected chunks pulled into a preallocated array.

    The inlet recovers by itself when a producer with the same source_id returns; the
    pipeline notices the silence in between and marks the gap.
    """

    def __init__(self, name: str | None = None, stype: str | None = None,
                 source_id: str | None = None, host: str | None = None,
                 timeout: float = 30.0, scale: float | None = None, max_chunk: int = 1024):
        if name is None and stype is None and source_id is None:
            raise SourceError("give a stream name (--lsl), type (--lsl-type) or --source-id.")
        self._query = (name, stype, source_id, host, timeout)
        self._scale_override = scale
        self._max_chunk = max_chunk
        self._inlet: pylsl.StreamInlet | None = None
        #: read() waits in liblsl for a first sample, so the pipeline need not poll
        self.wait_s = 0.005
        self._watch: pylsl.ContinuousResolver | None = None
        self._closed = False
        self._interrupted = threading.Event()

    def interrupt(self) -> None:
        self._interrupted.set()

    def open(self) -> SourceInfo:
        stream = resolve_stream(*self._query, cancel=self._interrupted)
        if self._closed:  # stopped while the resolve was waiting
            raise SourceError(f"stopped while looking for LSL stream {stream.name()!r}.")
        fmt = stream.channel_format()
        if fmt not in LSL_FORMATS:
            raise SourceError(f"LSL stream {stream.name()!r} has channel format "
                              f"{LSL_FORMAT_NAMES.get(fmt, fmt)}, not a numeric format "
                              "(float32, double64, int8/16/32/64).")
        rate = stream.nominal_srate()
        if rate <= 0:
            raise SourceError(f"LSL stream {stream.name()!r} has an irregular rate; the "
                              "monitor needs a stream with a nominal sampling rate.")
        self._inlet = pylsl.StreamInlet(
            stream, max_buflen=30, recover=True,
            processing_flags=pylsl.proc_clocksync | pylsl.proc_dejitter,
        )
        try:
            full = self._inlet.info(timeout=5.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            raise self._vanished(stream.name(), exc) from None
        labels, types, units = channel_metadata(full)
        if any(types):
            eeg = tuple(i for i, t in enumerate(types) if t.lower() in EEG_TYPES)
        else:
            eeg = tuple(range(len(labels))) if full.type().lower() in EEG_TYPES | {""} else ()
        if not eeg:
            raise SourceError(f"LSL stream {full.name()!r} has no EEG channels "
                              f"(channel types: {sorted(set(types))}).")
        scale, warnings = [], []
        for i, (label, unit) in enumerate(zip(labels, units, strict=True)):
            factor = unit_scale(unit) if unit else None
            if self._scale_override is not None:
                factor = self._scale_override
            elif factor is None and i not in eeg:
                factor = 1.0  # not classified, so its units do not matter
            elif factor is None:
                warnings.append(f"channel {label}: unit {unit or 'missing'!r} unknown; "
                                "assuming microvolts (use --scale to override)")
                factor = 1.0
            scale.append(factor)
        self.warnings = tuple(warnings)
        self._format = fmt
        self._dest = np.empty((self._max_chunk, full.channel_count()), LSL_FORMATS[fmt])
        self._scale = np.asarray(scale, np.float64)[:, None]
        self.info = SourceInfo(full.name(), "lsl", rate, tuple(labels), eeg, tuple(scale),
                               full.source_id(), full.hostname())
        try:
            self._inlet.open_stream(timeout=5.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            raise self._vanished(full.name(), exc) from None
        if self._closed:  # close() ran while the inlet was being opened: do not leak it
            self.close()
            raise SourceError(f"stopped while opening LSL stream {full.name()!r}.")
        return self.info

    @staticmethod
    def _vanished(name: str, exc: Exception) -> SourceError:
        return SourceError(f"LSL stream {name!r} was found but did not answer when opened "
                           f"({exc}); is its producer still running?")

    def verify(self, wait: float = 0.0) -> None:
        """Refuse our producer if it is back on the network with another shape.

        liblsl reconnects an inlet to any stream with the same source_id: one back with another
        rate would be read at the old rate, one with another channel count never delivers. A
        continuous resolver watches for it in the background from the first call (a one-shot
        resolve can block for seconds whatever its timeout); ``wait`` is how long to wait for
        it to show up.
        """
        info = self.info
        if self._watch is None:
            prop, value = ("source_id", info.source_id) if info.source_id else ("name", info.name)
            # Forgotten soon after it goes, so what is seen after a loss is what came back.
            self._watch = pylsl.ContinuousResolver(prop=prop, value=value, forget_after=1.0)
        deadline = time.monotonic() + wait
        while True:
            found = [s for s in self._watch.results() if s.name() == info.name
                     and (info.source_id or s.hostname() == info.hostname)]
            for s in found:
                n, rate, fmt = s.channel_count(), s.nominal_srate(), s.channel_format()
                if (n, fmt) != (len(info.channels), self._format) or \
                        abs(rate - info.sample_rate) > 1e-6 * info.sample_rate:
                    raise SourceError(
                        f"LSL stream {info.name!r} (source_id {info.source_id!r}, host "
                        f"{s.hostname()!r}) came back with {n} channels at {rate:g} Hz, but it "
                        f"was opened with {len(info.channels)} channels at "
                        f"{info.sample_rate:g} Hz; restart the monitor to follow the changed "
                        "stream.")
            if found or time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    def read(self) -> SourceChunk:
        """What has arrived; when nothing has, wait up to ``wait_s`` inside liblsl for the first
        sample, which wakes us as soon as it lands (a sleep-and-poll loop adds its period to
        every sample's latency)."""
        assert self._inlet is not None, "open() first"
        _, ts = self._inlet.pull_chunk(timeout=0.0, max_samples=self._max_chunk,
                                       dest_obj=self._dest)
        if len(ts) == 0 and self.wait_s > 0:
            sample, t = self._inlet.pull_sample(timeout=self.wait_s)
            if t is not None:
                self._dest[0] = sample
                _, more = self._inlet.pull_chunk(timeout=0.0, max_samples=self._max_chunk - 1,
                                                 dest_obj=self._dest[1:])
                ts = [t, *more]
        n = len(ts)
        data = (self._dest[:n].T * self._scale).astype(np.float32)
        return SourceChunk(data, np.asarray(ts, np.float64))

    def close(self) -> None:
        self._closed = True
        self._watch = None
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
