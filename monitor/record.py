"""Recording: the stream as it arrived, kept as a BrainVision file set next to what the monitor
made of it.

``PATH.vhdr`` (the header, written by pybv before the first sample), ``PATH.eeg`` (float32,
multiplexed, in microvolts at the source's own rate and channels, before any resampling,
appended as samples come), ``PATH.vmrk`` (markers, appended as they happen) and
``PATH_predictions.tsv`` (the smoothed probabilities of every classified window). mne, EEGLAB,
FieldTrip and BrainVision Analyzer read the first three; the BrainVision header has no sample
count, so a file cut short by a crash is still a valid recording of what reached the disk.

:class:`BrainVisionWriter` is the synchronous step (tests drive it directly);
:class:`Recorder` is both a pipeline tap (raw chunks, on the acquisition thread) and a sink
(alerts, status events, predictions, on the worker thread), handing everything to its own
thread through one bounded queue, so the monitor never waits on the disk, except that an
alert is on disk before ``alert()`` returns, as with the event log.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pylsl

from model.data import CLASSES
from monitor.alerts import AlertEvent
from monitor.pipeline import Tap
from monitor.settings import MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.sources import SourceChunk, SourceInfo

log = logging.getLogger(__name__)

#: samples are written to the .eeg at least this often (s of stream): a kill loses at most this
FLUSH_S = 0.5
#: the files are fsynced at most this often (s of wall clock), for a power cut
SYNC_S = 1.0
#: an alert waits at most this long (s) for its marker to reach the disk
ALERT_WAIT_S = 2.0
#: a recording is refused at start when the disk has less free space than this
MIN_FREE_BYTES = 16 * 2**20
#: items (chunks, markers, predictions) the recorder's queue holds
QUEUE_ITEMS = 4096
#: the recorder's thread writes what has come this often (s), or at once for an alert
POLL_S = 0.05
#: the sample index of a stream time is kept every this many seconds of stream...
ANCHOR_EVERY_S = 0.5
#: ...for this many anchors (10 minutes): events refer to the last few seconds
ANCHORS_KEPT = 1200
#: a pipeline status event longer than this is cut in its marker (the event log keeps it all)
MARKER_TEXT = 200

#: marker types this monitor writes (besides BrainVision's own "New Segment")
ALERT, STATUS, TRUTH, LABEL = "Alert", "Status", "Truth", "Label"
MONITOR_MARKERS = (ALERT, STATUS, TRUTH, LABEL, "New Segment")
#: the first line of the header's [Comment] section in a recording of this monitor
COMMENT_TITLE = "seizure-monitor recording"
#: columns of the predictions sidecar (docs/record-review.md says what each holds)
PREDICTION_COLUMNS = ("t", "sample", "state", "truth", "channel", "p_seizure", "p_tumor",
                      "p_normal", "raw_seizure", "raw_tumor", "raw_normal", "max_tumor",
                      "classified")


@dataclass(frozen=True)
class RecordingPaths:
    """The four files of one recording."""

    vhdr: Path
    eeg: Path
    vmrk: Path
    predictions: Path

    @classmethod
    def of(cls, vhdr: str | Path) -> RecordingPaths:
        vhdr = Path(vhdr)
        return cls(vhdr, vhdr.with_suffix(".eeg"), vhdr.with_suffix(".vmrk"),
                   vhdr.with_name(vhdr.stem + "_predictions.tsv"))

    def all(self) -> tuple[Path, ...]:
        return (self.vhdr, self.eeg, self.vmrk, self.predictions)


def check_record_path(path: str | Path) -> RecordingPaths:
    """What can be known before the stream starts: a .vhdr name, no file of the set there
    already (a recording never overwrites), a folder that is or can be made writable, and room
    on its disk. Raises ValueError naming the path and the fix."""
    paths = RecordingPaths.of(path)
    if paths.vhdr.suffix.lower() != ".vhdr":
        raise ValueError(f"{path}: a recording is a BrainVision file set; give a name ending "
                         "in .vhdr (the .eeg and .vmrk are written next to it).")
    existing = [str(p) for p in paths.all() if p.exists()]
    if existing:
        raise ValueError(f"{path}: {', '.join(existing)} exists already; a recording never "
                         "overwrites, so give a new name or move the old one.")
    folder = paths.vhdr.parent
    existing_dir = folder
    while not existing_dir.exists() and existing_dir != existing_dir.parent:
        existing_dir = existing_dir.parent
    if not existing_dir.is_dir():
        raise ValueError(f"{path}: cannot create folder {folder}: {existing_dir} is a file; "
                         "give a path in a folder.")
    if not os.access(existing_dir, os.W_OK):
        raise ValueError(f"{path}: {existing_dir} is not writable; give a path in a folder "
                         "you can write.")
    free = shutil.disk_usage(existing_dir).free
    if free < MIN_FREE_BYTES:
        raise ValueError(f"{path}: only {free / 2**20:.1f} MiB free on that disk; free some "
                         "space or record elsewhere.")
    return paths


def settings_json(settings: MonitorSettings) -> str:
    """The settings as one line of JSON (the header's ``settings=``; the review reads the
    alert thresholds from it)."""
    return json.dumps(asdict(settings), default=str)


def checkpoint_text(settings: MonitorSettings, classifier) -> str:
    """Which model: its file and the hash of its weights."""
    from model.checkpoint import shipped_checkpoint

    path = settings.checkpoint or shipped_checkpoint()
    return f"{path} weights_sha256={classifier.meta.get('weights_sha256', '?')}"


def recording_meta(settings: MonitorSettings, classifier) -> dict[str, str]:
    """What a recording's header keeps of how it was monitored."""
    return {"settings": settings_json(settings),
            "checkpoint": checkpoint_text(settings, classifier)}


def escape(text: str) -> str:
    """A marker field: BrainVision codes commas as \\1, and a marker is one line."""
    return " ".join(str(text).split()).replace(",", r"\1")


def marker_line(number: int, mtype: str, description: str, position: int, size: int = 1,
                date: datetime | None = None) -> str:
    """``Mk<n>=<type>,<description>,<position (1-based)>,<size>,<channel (0 = all)>[,date]``."""
    line = f"Mk{number}={escape(mtype)},{escape(description)},{position + 1},{size},0"
    if date is not None:
        line += "," + date.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S%f")
    return line + "\n"


def count_markers(vmrk: Path) -> int:
    """How many ``Mk`` lines a marker file holds (the next one is numbered one more)."""
    with open(vmrk, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if line.startswith("Mk"))


def append_markers(vmrk: Path, lines: list[tuple[str, str, int, int]]) -> None:
    """Append (type, description, position, size) markers to an existing .vmrk, fsynced (the
    review's labels)."""
    n = count_markers(vmrk)
    text = "".join(marker_line(n + i + 1, *m) for i, m in enumerate(lines))
    fd = os.open(vmrk, os.O_WRONLY | os.O_APPEND)
    try:
        _write_all(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def alert_description(ev: AlertEvent) -> str:
    a = ev.alert
    t = a.raised if ev.state == "on" else a.end
    return (f"{a.cls} {ev.state} t={t:.3f} onset={a.onset:.3f} p={a.peak:.4f} "
            f"ch={'|'.join(a.channels)}")


def status_description(ev: StatusEvent) -> str:
    first = ev.detail.splitlines()[0] if ev.detail else ""
    text = f"{ev.event} t={ev.t:.3f}: {first}"
    return text if len(text) <= MARKER_TEXT else text[:MARKER_TEXT - 3] + "..."


def _write_all(fd: int, data: bytes) -> None:
    """os.write until done: a short write (a nearly full disk) is finished or raises."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _unique(names: tuple[str, ...]) -> list[str]:
    """pybv needs unique channel names; LSL does not promise them."""
    out: list[str] = []
    for name in names:
        base, k = name or "ch", 1
        while name in out or not name:
            k += 1
            name = f"{base}-{k}"
        out.append(name)
    return out


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.4f}"


class BrainVisionWriter:
    """The synchronous recorder: samples appended to the .eeg, markers to the .vmrk, rows to
    the predictions TSV. Stream times (``t``, seconds since the stream's first sample, as in
    every event) become sample positions through anchors kept as samples arrive, so markers
    land on the right sample across gaps and a drifting clock."""

    def __init__(self, paths: RecordingPaths, info: SourceInfo, meas_date: datetime,
                 t0: float, meta: dict[str, str] | None = None, flush_s: float = FLUSH_S):
        import pybv

        self.paths = paths
        self.info = info
        self.rate = float(info.sample_rate)
        self.n_channels = len(info.channels)
        self.t0 = t0
        self.flush_samples = max(1, int(flush_s * self.rate))
        folder = paths.vhdr.parent
        folder.mkdir(parents=True, exist_ok=True)
        # pybv writes the header and the first "New Segment" (with the date) in its own
        # layout; one dummy sample goes into the .eeg, cut off at once: samples are ours.
        pybv.write_brainvision(
            data=np.zeros((self.n_channels, 1)), sfreq=self.rate,
            ch_names=_unique(info.channels), fname_base=paths.vhdr.stem,
            folder_out=folder, overwrite=False, resolution=1.0, unit="µV",
            fmt="binary_float32", meas_date=meas_date)
        with open(paths.vhdr, "a", encoding="utf-8") as f:
            f.write(self._comment(meta or {}))
        os.truncate(paths.eeg, 0)
        self._eeg = os.open(paths.eeg, os.O_WRONLY | os.O_APPEND)
        self._vmrk = os.open(paths.vmrk, os.O_WRONLY | os.O_APPEND)
        self._tsv = os.open(paths.predictions, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        _write_all(self._tsv, ("\t".join(PREDICTION_COLUMNS) + "\n").encode())
        for fd in (self._eeg, self._vmrk, self._tsv):
            os.fsync(fd)
        _fsync_dir(folder)
        self.markers = count_markers(paths.vmrk)
        self.samples = 0  # accepted (written or pending)
        self.bytes = sum(p.stat().st_size for p in paths.all())
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._truth = -2  # the truth of the last sample (-1 unknown, -2 none yet)
        self._anchor_ts: deque[float] = deque(maxlen=ANCHORS_KEPT)
        self._anchor_idx: deque[int] = deque(maxlen=ANCHORS_KEPT)
        self._last: tuple[int, float] | None = None
        self._last_sync = time.monotonic()
        self.closed = False

    def _comment(self, meta: dict[str, str]) -> str:
        eeg = ", ".join(self.info.channels[i] for i in self.info.eeg)
        lines = [COMMENT_TITLE,
                 f"source={self.info.kind} {self.info.name!r} source_id="
                 f"{self.info.source_id!r} host={self.info.hostname!r}",
                 f"classified={eeg}",
                 "units=all channels as the monitor received them, in microvolts for EEG",
                 *(f"{k}={' '.join(str(v).split())}" for k, v in meta.items())]
        # mne splits the header at "[Comment]": the text must not hold another one.
        return "\n".join(line.replace("[", "(").replace("]", ")") for line in lines) + "\n"

    # -- samples -------------------------------------------------------------------------
    def write(self, chunk: SourceChunk, new_segment: bool = False,
              date: datetime | None = None) -> None:
        """Append a chunk (microvolts, the source's channels); ``new_segment`` marks a gap
        before it (the stream was lost, or samples were dropped)."""
        n = len(chunk.timestamps)
        if n == 0:
            return
        ts = chunk.timestamps
        first = self.samples
        gap = self._last is not None and ts[0] - self._last[1] > ANCHOR_EVERY_S
        if new_segment or gap or not self._anchor_ts or ts[0] - self._anchor_ts[-1] >= \
                ANCHOR_EVERY_S:
            self._anchor_ts.append(float(ts[0]))
            self._anchor_idx.append(first)
        self._last = (first + n - 1, float(ts[-1]))
        self._pending.append(np.ascontiguousarray(chunk.data.T, dtype="<f4"))
        self._pending_n += n
        self.samples += n
        if new_segment and first > 0:  # (after the samples: a marker flushes what it marks)
            self.marker("New Segment", "", first, date=date)
        if chunk.truth is not None:
            self._truth_markers(chunk.truth, first)
        if self._pending_n >= self.flush_samples:
            self.flush()

    def _truth_markers(self, truth: np.ndarray, first: int) -> None:
        """A Truth marker wherever the replay's true class changes: it holds until the next."""
        prev = np.concatenate([[self._truth], truth[:-1]])
        for i in np.flatnonzero(truth != prev):
            value = int(truth[i])
            self.marker(TRUTH, CLASSES[value] if value >= 0 else "unknown", first + int(i))
        self._truth = int(truth[-1])

    def flush(self) -> None:
        """Pending samples to the .eeg (one write; a kill after it loses nothing of them)."""
        if self._pending:
            data = b"".join(a.tobytes() for a in self._pending)
            self._pending, self._pending_n = [], 0
            _write_all(self._eeg, data)
            self.bytes += len(data)

    def sync(self, force: bool = False) -> None:
        """fsync every file, at most every SYNC_S unless forced."""
        now = time.monotonic()
        if force or now - self._last_sync >= SYNC_S:
            self.flush()
            for fd in (self._eeg, self._vmrk, self._tsv):
                os.fsync(fd)
            self._last_sync = now

    # -- time -> sample ------------------------------------------------------------------
    def position(self, t: float) -> int:
        """The sample of stream time ``t``: from the nearest anchor before it, at the declared
        rate, never past the next anchor (a gap) or the last sample."""
        if self._last is None:
            return 0
        ts = self.t0 + t
        last_idx, last_ts = self._last
        if ts >= last_ts:
            return last_idx
        i = bisect.bisect_right(self._anchor_ts, ts + 0.5 / self.rate) - 1
        if i < 0:
            return self._anchor_idx[0]
        upper = self._anchor_idx[i + 1] - 1 if i + 1 < len(self._anchor_idx) else last_idx
        idx = self._anchor_idx[i] + round((ts - self._anchor_ts[i]) * self.rate)
        return int(min(max(idx, self._anchor_idx[i]), upper))

    # -- markers and predictions ---------------------------------------------------------
    def marker(self, mtype: str, description: str, position: int, size: int = 1,
               date: datetime | None = None, sync: bool = False) -> None:
        """Append a marker; the samples it points at are written first, so a marker never
        points past the data a crash leaves."""
        self.flush()
        self.markers += 1
        line = marker_line(self.markers, mtype, description, position, size, date).encode()
        _write_all(self._vmrk, line)
        self.bytes += len(line)
        if sync:
            os.fsync(self._eeg)
            os.fsync(self._vmrk)

    def alert(self, ev: AlertEvent) -> None:
        a = ev.alert
        self.marker(ALERT, alert_description(ev),
                    self.position(a.raised if ev.state == "on" else a.end), sync=True)

    def status(self, ev: StatusEvent) -> None:
        self.marker(STATUS, status_description(ev), self.position(ev.t))

    def prediction(self, p: Prediction) -> None:
        lead = p.lead
        valid = p.valid
        max_tumor = float(np.max(p.smoothed[valid, 1])) if valid.any() else np.nan
        row = [f"{p.t:.3f}", str(self.position(p.t)), p.state, p.truth or "n/a",
               p.channels[lead], *(_fmt(x) for x in p.smoothed[lead]),
               *(_fmt(x) for x in p.probs[lead]), _fmt(max_tumor), str(int(valid.sum()))]
        line = ("\t".join(row) + "\n").encode()
        _write_all(self._tsv, line)
        self.bytes += len(line)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sync(force=True)
        finally:
            for fd in (self._eeg, self._vmrk, self._tsv):
                os.close(fd)

    def abandon(self) -> None:
        """After a write failed: close the files, writing nothing more (what is on disk is a
        valid recording up to its last whole sample)."""
        if not self.closed:
            self.closed = True
            for fd in (self._eeg, self._vmrk, self._tsv):
                with contextlib.suppress(OSError):
                    os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """The new files' names are on disk too, not only their contents."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lsl_wall_time(timestamp: float) -> datetime:
    """The wall-clock time of an LSL timestamp (local_clock seconds)."""
    return datetime.fromtimestamp(time.time() - (pylsl.local_clock() - timestamp), timezone.utc)


@dataclass
class _Chunk:
    chunk: SourceChunk
    info: SourceInfo
    new_segment: bool
    dropped: int  # samples dropped (queue full) just before this chunk


class Recorder(Sink, Tap):
    """Records a pipeline's stream and results into a BrainVision file set.

    A tap (``opened``, then ``chunk`` on the acquisition thread, ``window`` on the worker's)
    and a sink (on the worker thread); both only queue. The writer is opened with the first
    chunk, when the first timestamp is known; status events before it are written at sample 0.
    A full queue (a disk slower than the stream) drops samples, never blocks, unless ``block``
    (a replay at full speed, where the pipeline can wait); the gap is marked as a new segment.
    A disk error ends the recording, not the monitor: ``on_status(event, detail)`` reports it
    (the pipeline's status events).

    Stream times (every event's ``t``) count from the pipeline's first sample. A recorder
    started with the stream takes that from its first chunk; one started later (the
    dashboard's toggle) learns it from the first classified window, whose timestamp the tap
    sees just before its prediction reaches the sink.
    """

    def __init__(self, path: str | Path, meta: dict[str, str] | None = None,
                 on_status: Callable[[str, str], None] | None = None, block: bool = False,
                 info: SourceInfo | None = None, from_start: bool = True,
                 stale_s: float = 1.5, flush_s: float = FLUSH_S):
        self.paths = check_record_path(path)
        self.meta = dict(meta or {})
        self.on_status = on_status
        self.block = block
        self.info = info
        self.from_start = from_start
        self.stale_s = stale_s
        self.flush_s = flush_s
        self.writer: BrainVisionWriter | None = None
        self.failed: str | None = None
        self.dropped = 0  # samples dropped because the queue was full
        self._unmarked_drop = 0
        self._last_chunk_wall: float | None = None
        self._window_ts: float | None = None
        self._t0_known = False
        self._learned_t0: float | None = None  # the stream's time origin, once learned
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_ITEMS)
        self._wake = threading.Event()
        self._early: list[StatusEvent] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        return self.paths.vhdr

    @property
    def size(self) -> int:
        """Bytes of the recording on disk so far (0 before the first sample)."""
        writer = self.writer
        return writer.bytes if writer is not None else 0

    # -- tap -----------------------------------------------------------------------------
    def opened(self, info: SourceInfo) -> None:
        self.info = info

    def chunk(self, chunk: SourceChunk, first: int = 0) -> None:
        n = len(chunk.timestamps)
        if n == 0 or self._closed or self.failed or self.info is None:
            return
        now = time.monotonic()
        gap = self._last_chunk_wall is not None and now - self._last_chunk_wall > self.stale_s
        self._last_chunk_wall = now
        item = _Chunk(chunk, self.info, gap or self._unmarked_drop > 0, self._unmarked_drop)
        if self.block:
            self._queue.put(item)
            return
        try:
            self._queue.put_nowait(item)
            self._unmarked_drop = 0
        except queue.Full:
            self.dropped += n
            self._unmarked_drop += n

    def window(self, result) -> None:
        """The timestamp of the window whose prediction comes next (to learn the pipeline's
        time origin where the recording did not start with the stream)."""
        self._window_ts = float(result.timestamp)

    # -- sink ----------------------------------------------------------------------------
    def prediction(self, p: Prediction) -> None:
        if not self._closed and not self.failed:
            if not self._t0_known and self._window_ts is not None:
                self._t0_known = True
                item = (p, self._window_ts - p.t)
            else:
                item = (p, None)
            # On a full queue the trend has one point fewer: samples and markers matter more.
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(item)

    def alert(self, ev: AlertEvent) -> None:
        if self._closed or self.failed:
            return
        done = threading.Event()
        try:
            self._queue.put((ev, done), timeout=ALERT_WAIT_S)
            self._wake.set()
        except queue.Full:
            log.error("recorder: queue full, alert marker not written: %s", ev)
            return
        # As the event log: on disk before the next sink prints it.
        done.wait(ALERT_WAIT_S)

    def status(self, ev: StatusEvent) -> None:
        if self._closed or self.failed:
            return
        try:
            self._queue.put(ev, timeout=ALERT_WAIT_S)
        except queue.Full:
            log.error("recorder: queue full, status marker not written: %s", ev)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(None, timeout=ALERT_WAIT_S)
            self._wake.set()
        except queue.Full:  # a disk that hangs: the thread is a daemon, the files stay valid
            log.error("recorder: %s not closed (the disk does not answer)", self.path)
            return
        self._thread.join(10.0)

    # -- the recorder's thread -----------------------------------------------------------
    def _run(self) -> None:
        """Wake every POLL_S (at once for an alert or the end) and write whatever has come:
        one wake-up for many chunks, so the recorder takes little from the threads that
        classify."""
        while True:
            self._wake.wait(POLL_S)
            self._wake.clear()
            items = []
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self._queue.get_nowait())
            for item in items or [...]:  # nothing came: time to flush what is pending
                if item is None:
                    self._finish()
                    return
                if not self.failed:
                    try:
                        self._step(item)
                    except OSError as exc:
                        self._fail(exc)
                if isinstance(item, tuple) and isinstance(item[1], threading.Event):
                    item[1].set()

    def _finish(self) -> None:
        if self.writer is not None and not self.failed:
            try:
                self.writer.close()
            except OSError as exc:
                self._fail(exc)

    def _step(self, item) -> None:
        w = self.writer
        if item is ...:
            if w is not None:
                w.flush()
                w.sync()
            return
        if isinstance(item, _Chunk):
            if w is None:
                w = self.writer = self._open(item)
                for ev in self._early:
                    w.marker(STATUS, status_description(ev), 0)
                self._early.clear()
                w.write(item.chunk)
            else:
                date = lsl_wall_time(float(item.chunk.timestamps[0])) \
                    if item.info.kind == "lsl" else datetime.now(timezone.utc)
                w.write(item.chunk, item.new_segment, date)
                if item.dropped:
                    w.marker(STATUS, f"recording_gap: {item.dropped} samples dropped (the "
                                     "disk did not keep up)", w.samples - len(
                                         item.chunk.timestamps))
                    self._report("recording_gap", f"{self.path}: {item.dropped} samples not "
                                                  "recorded (the disk did not keep up)")
        elif isinstance(item, tuple) and isinstance(item[0], Prediction):
            p, t0 = item
            if t0 is not None and not self.from_start:
                # Kept until the writer opens: the first prediction can come before the
                # first chunk reaches a recorder started mid-stream.
                self._learned_t0 = t0
                if w is not None:
                    w.t0 = t0
            if w is not None:
                w.prediction(p)
        elif isinstance(item, tuple):
            if w is not None:
                w.alert(item[0])
        elif isinstance(item, StatusEvent):
            if w is None:
                self._early.append(item)
            else:
                w.status(item)
        if w is not None:
            w.sync()

    def _open(self, item: _Chunk) -> BrainVisionWriter:
        ts0 = float(item.chunk.timestamps[0])
        date = lsl_wall_time(ts0) if item.info.kind == "lsl" else datetime.now(timezone.utc)
        t0 = ts0 if self._learned_t0 is None else self._learned_t0
        writer = BrainVisionWriter(self.paths, item.info, date, t0, self.meta, self.flush_s)
        self._report("recording", f"recording to {self.path} ({len(item.info.channels)} "
                                  f"channels at {item.info.sample_rate:g} Hz)")
        return writer

    def _fail(self, exc: OSError) -> None:
        self.failed = f"{self.path}: {exc.strerror or exc}"
        log.error("recording failed: %s", self.failed)
        if self.writer is not None:
            self.writer.abandon()
        self._report("recording_failed", f"{self.failed}; the monitor goes on without "
                                         "recording")

    def _report(self, event: str, detail: str) -> None:
        if self.on_status is not None:
            try:
                self.on_status(event, detail)
            except Exception:
                log.exception("reporting %s failed", event)
