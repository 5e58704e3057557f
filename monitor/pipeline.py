"""Pipeline: source -> ring buffer -> worker -> decision stage -> sinks.

The runtime's only module that starts threads. Two modes, chosen when it is built:
- ``threaded`` (a live stream, or a replay paced against the clock): an acquisition thread
  reads the source, resamples to the model's rate and writes the ring buffer; a worker thread
  classifies the newest window every hop, steps the decision stage and calls every sink, in
  order. Status events from the acquisition thread (or the GUI) reach the worker through a
  bounded queue.
- ``lockstep`` (a replay at speed 0): one thread reads, classifies every window and decides,
  as fast as the CPU allows, so no window is skipped.

Readers outside the stages get what they need through ``snapshot()`` (the dashboard) and taps
(tools that watch raw chunks or classified windows: the bench's clocks, a recorder).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from dataclasses import dataclass, replace

import numpy as np
import pylsl
import torch

from model.checkpoint import Classifier, load_classifier, pick_device
from model.data import CLASSES
from monitor.buffer import RingBuffer
from monitor.decision import DecisionStage, check_decision
from monitor.health import StreamHealth
from monitor.resample import StreamingResampler
from monitor.settings import AlertSettings, MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.sources import Source, SourceChunk, SourceError, SourceInfo, SourceInterrupted
from monitor.worker import InferenceWorker, WindowResult

log = logging.getLogger(__name__)

#: how long to wait to see a lost stream's producer when its samples come back
VERIFY_WAIT_S = 1.0
MODES = ("threaded", "lockstep")


class Tap:
    """A read-only tap on the pipeline for tools: a recorder, the bench's clocks.

    Called on the pipeline's threads (``chunk`` on the acquisition thread, ``window`` on the
    worker's): return at once, handing anything slow to a thread of your own.
    """

    def opened(self, info: SourceInfo) -> None:
        """The source is open: what it is (channels, rate, scale)."""

    def chunk(self, chunk: SourceChunk, first: int) -> None:
        """Samples as the source delivered them (its rate and channels, microvolts), before
        resampling; ``first`` is the ring-buffer index their first sample is written at."""

    def window(self, result: WindowResult) -> None:
        """A window classified (before the decision stage and the sinks)."""


@dataclass
class Snapshot:
    """What the dashboard draws of a running pipeline. ``Pipeline.snapshot()`` allocates it
    once; ``Pipeline.snapshot(into)`` refills it, copying under the ring buffer's lock, so a
    frame allocates nothing and never touches a stage."""

    info: SourceInfo
    sample_rate: float  # the model's rate: the ring buffer's and the traces'
    device: str
    speed: float | None  # a replay's speed (0: as fast as possible); None live
    capacity: int  # samples the ring buffer holds
    traces: np.ndarray  # (n_eeg, n) the newest samples of the EEG channels, oldest first
    filled: int = 0  # traces[:, :filled] are valid
    written: int = 0  # samples written in all, at the model's rate
    windows: int = 0
    skipped: int = 0
    infer_ms: float = 0.0
    latency_ms: float | None = None


class Pipeline:
    """Wires the stages; ``start()`` / ``stop()`` are safe to call twice.

    ``mode`` defaults to lockstep for a replay at speed 0, threaded otherwise. ``realtime``
    False makes a threaded worker classify every window however far behind it falls (tests
    that compare it with lockstep; never a live monitor, which skips to the newest window).
    """

    def __init__(self, source: Source, settings: MonitorSettings | None = None,
                 sinks: list[Sink] | None = None, classifier: Classifier | None = None,
                 taps: list[Tap] | None = None, mode: str | None = None,
                 realtime: bool = True):
        self.source = source
        self.settings = settings or MonitorSettings()
        self.sinks: list[Sink] = list(sinks or [])
        self.taps: list[Tap] = list(taps or [])
        self.mode = mode or ("lockstep" if source.speed == 0 else "threaded")
        if self.mode not in MODES:
            raise ValueError(f"pipeline mode must be one of {MODES}, got {self.mode!r}")
        self.realtime = realtime and self.mode == "threaded"
        self.device = pick_device(self.settings.device)
        torch.set_num_threads(self.settings.torch_threads)
        self.classifier = (classifier or load_classifier(self.settings.checkpoint)).to(
            self.device)
        check_decision(self.settings, self.classifier,
                       str(self.settings.checkpoint or "the shipped checkpoint"))
        self.info: SourceInfo | None = None
        self.buffer: RingBuffer | None = None
        self.worker: InferenceWorker | None = None
        self.decision: DecisionStage | None = None
        self.health: StreamHealth | None = None
        self.error: str | None = None
        self.done = threading.Event()  # set when the pipeline has stopped, for any reason
        self.ready = threading.Event()  # set when the source is open and the buffer exists
        self._stop = threading.Event()
        self._source_ended = threading.Event()
        self._status: queue.Queue[StatusEvent] = queue.Queue(maxsize=10_000)
        self._threads: list[threading.Thread] = []
        self._resampler: StreamingResampler | None = None
        self._t0: float | None = None
        self._settings_lock = threading.Lock()
        self._pending_alerts: AlertSettings | None = None
        self._pending_smoothing: float | None = None
        self._problems: dict[str, str | None] = {}
        self._skipped_reported = 0
        self._skip_report_t = -np.inf
        self.stats = {"windows": 0, "skipped": 0, "infer_ms": 0.0, "latency_ms": None,
                      "measured_rate": None}

    # -- control -------------------------------------------------------------------------
    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def start(self) -> Pipeline:
        if self._threads:
            return self
        targets = [self._run_lockstep] if self.mode == "lockstep" else \
            [self._run_acquisition, self._run_worker]
        for target in targets:
            t = threading.Thread(target=target, name=target.__name__.strip("_"), daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.source.interrupt()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def configure(self, alerts: AlertSettings | None = None,
                  smoothing_s: float | None = None) -> None:
        """Change thresholds or smoothing while running (applied by the worker thread)."""
        with self._settings_lock:
            self._pending_alerts = alerts or self._pending_alerts
            self._pending_smoothing = smoothing_s if smoothing_s is not None else \
                self._pending_smoothing

    def acknowledge(self, cls: str, by: str = "", where: str = "") -> None:
        """Record an acknowledgement (the dashboard's button, or a ward station's) in every
        sink's log; any thread may call it."""
        active = self.decision.active.get(cls) if self.decision is not None else None
        onset = f" (onset t={active.onset:.1f} s)" if active is not None else ""
        who = "".join(f" {word} {name}" for word, name in (("by", by), ("at", where)) if name)
        self._post_status(StatusEvent(self._now_t(), "acknowledged",
                                      f"{cls} alert{onset} acknowledged{who}"))

    def report(self, event: str, detail: str) -> None:
        """A status event from a tool or sink beside the stages (a recorder whose disk is
        full, the ward publisher going offline), delivered to every sink in order; any thread
        may call it."""
        self._post_status(StatusEvent(self._now_t(), event, detail))

    def snapshot(self, into: Snapshot | None = None, seconds: float = 10.0) -> Snapshot | None:
        """What the dashboard draws: ``into`` refilled, or (None) a new Snapshot holding
        ``seconds`` of traces; None until the source is open."""
        if self.buffer is None or self.info is None:
            return None
        if into is None:
            n = max(2, round(seconds * self.classifier.sample_rate))
            into = Snapshot(self.info, self.classifier.sample_rate, str(self.device),
                            self.source.speed, self.buffer.capacity,
                            np.empty((len(self.info.eeg), n), np.float32))
        into.filled, into.written = self.buffer.copy_latest(into.traces, self._eeg_rows)
        s = self.stats
        into.windows, into.skipped = s["windows"], s["skipped"]
        into.infer_ms, into.latency_ms = s["infer_ms"], s["latency_ms"]
        return into

    # -- acquisition ---------------------------------------------------------------------
    def _open(self) -> None:
        self.info = info = self.source.open()
        for w in self.source.warnings:
            self._post_status(StatusEvent(0.0, "warning", w))
        rate = self.classifier.sample_rate
        if abs(info.sample_rate - rate) > 1e-3 * rate:
            self._resampler = StreamingResampler(info.sample_rate, rate, len(info.channels))
            self._post_status(StatusEvent(0.0, "resampling",
                                          f"{info.sample_rate:g} Hz -> {rate:g} Hz (up "
                                          f"{self._resampler.up}, down {self._resampler.down})"))
        self.buffer = RingBuffer(len(info.channels), int(self.settings.buffer_s * rate))
        self._eeg_rows = np.asarray(info.eeg, np.intp)
        hop = max(1, round(self.settings.hop_s * rate))
        self.worker = InferenceWorker(self.classifier, self.buffer, hop, info.eeg,
                                      realtime=self.realtime)
        self.decision = DecisionStage(self.settings, tuple(info.channels[i] for i in info.eeg),
                                      self.classifier.context)
        # A slow open (an LSL resolve) is not silence from the stream.
        self.health = StreamHealth(info, self.settings.stale_s, time.monotonic())
        for tap in self.taps:
            tap.opened(info)
        self._post_status(StatusEvent(0.0, "started",
                                      f"{info.kind} {info.name!r} source_id={info.source_id!r} "
                                      f"host={info.hostname!r} {info.sample_rate:g} Hz, "
                                      f"{len(info.eeg)} EEG of {len(info.channels)} channels, "
                                      f"device {self.device}"))
        self.ready.set()

    def _ingest(self, chunk: SourceChunk) -> None:
        """Resample if needed and write the buffer (the acquisition step)."""
        for tap in self.taps:
            tap.chunk(chunk, self.buffer.written)
        data, ts = chunk.data, chunk.timestamps
        truth = chunk.truth if chunk.truth is not None else np.full(len(ts), -1, np.int8)
        if self._resampler is not None:
            data, ts, truth = self._resampler.process(data, ts, truth)
        if self._t0 is None and len(ts):
            self._t0 = float(ts[0])
        self.buffer.write(data, ts, truth, self.health.segment)

    def _run_acquisition(self) -> None:
        try:
            self._open()
            while not self._stop.is_set():
                chunk = self.source.read()
                if chunk is None:
                    self._source_ended.set()
                    return
                self._acquire(chunk)
        except SourceInterrupted:
            pass  # stopped (Ctrl-C) while waiting for the stream to appear: no failure
        except Exception as exc:
            self._fail("source", exc)

    def _acquire(self, chunk: SourceChunk) -> None:
        """One read of a live-paced source: its health, then its samples."""
        now = time.monotonic()
        health = self.health
        if len(chunk.timestamps):
            if health.lost:
                # A producer back with another rate is refused before its samples reach the
                # buffer.
                self.source.verify(wait=VERIFY_WAIT_S)
            events = health.samples(chunk.timestamps, now)
            if events and events[0].event == "stream_recovered" and self._resampler:
                self._resampler.reset()
            self._ingest(chunk)
            self.stats["measured_rate"] = health.measured_rate
        else:
            if health.verify_due(now):  # lost since an earlier read
                self.source.verify()
            events = health.silence(now)
            if not self.source.wait_s:
                time.sleep(0.002)  # sources that cannot wait for a sample are polled
        for ev in events:
            self._post_status(StatusEvent(self._now_t(), ev.event, ev.detail))

    # -- classification and decisions ----------------------------------------------------
    def _run_worker(self) -> None:
        try:
            while not self.ready.wait(0.1):
                if self._stop.is_set():
                    return
            if self.buffer is None:  # the source failed to open
                return
            while True:
                self._drain_status()
                result = self.worker.step()
                if result is not None:
                    self._handle(result)
                    continue
                if self._source_ended.is_set() and self.buffer.written < self.worker.next_end:
                    break
                if self._stop.is_set():
                    break
                self.buffer.wait(self.buffer.written, timeout=0.05)
            self._drain_status()
        except Exception as exc:
            self._fail("worker", exc)
        finally:
            self._finish()

    def _run_lockstep(self) -> None:
        try:
            self._open()
            while not self._stop.is_set():
                chunk = self.source.read()
                if chunk is None:
                    break
                self._ingest(chunk)
                self._drain_status()
                while (result := self.worker.step()) is not None:
                    self._handle(result)
        except Exception as exc:
            self._fail("replay", exc)
        finally:
            self._finish()

    def _handle(self, r: WindowResult) -> None:
        """The decision stage and the sinks: one classified window (the worker's result)."""
        for tap in self.taps:
            tap.window(r)
        self._apply_pending_settings()
        t = r.timestamp - (self._t0 or 0.0)
        stats = self.stats
        stats["windows"] += 1
        stats["infer_ms"] = r.infer_s * 1e3
        stats["skipped"] = self.worker.skipped_total  # the worker keeps the one count
        if stats["skipped"] > self._skipped_reported and t >= self._skip_report_t + 5:
            self._status_now(StatusEvent(t, "skipped_windows", f"{stats['skipped']} windows "
                                                               "skipped so far to stay real "
                                                               "time"))
            self._skipped_reported = stats["skipped"]
            self._skip_report_t = t
        self._report_problems(r, t)
        latency = (pylsl.local_clock() - r.timestamp) * 1e3 if self.info.kind == "lsl" else None
        stats["latency_ms"] = latency
        d = self.decision.step(t, r.probs, r.valid, r.segment)
        pred = Prediction(t, r.probs, d.smoothed, r.valid, self.decision.policy.channel_names,
                          CLASSES[r.truth] if r.truth >= 0 else None, d.state,
                          r.infer_s * 1e3, latency, stats["skipped"])
        self._deliver(*[("alert", ev) for ev in d.events], ("prediction", pred))

    def _deliver(self, *calls: tuple[str, object]) -> None:
        """Hand results to every sink (``("alert", event)``...). A sink that fails (an event
        log on a full disk) fails the pipeline, but only after every sink has had every one
        of them, so no alert is lost with it."""
        failed: Exception | None = None
        for method, item in calls:
            for sink in self.sinks:
                try:
                    getattr(sink, method)(item)
                except Exception as exc:
                    failed = failed or exc
        if failed is not None:
            raise failed

    def _report_problems(self, r: WindowResult, t: float) -> None:
        """A status event when a channel's signal quality changes, not on every window."""
        for name, problem in zip(self.decision.policy.channel_names, r.problems, strict=True):
            if self._problems.get(name) == problem:
                continue
            if problem is None:
                self._status_now(StatusEvent(t, "signal_ok",
                                             f"channel {name}: signal quality back"))
            else:
                self._status_now(StatusEvent(t, "bad_samples", f"channel {name}: {problem}; "
                                                               "its windows are not classified"))
            self._problems[name] = problem

    def _apply_pending_settings(self) -> None:
        with self._settings_lock:
            alerts, smoothing = self._pending_alerts, self._pending_smoothing
            self._pending_alerts = self._pending_smoothing = None
        if alerts is None and smoothing is None:
            return
        self.decision.configure(alerts, smoothing)
        self.settings = replace(self.settings, alerts=alerts or self.settings.alerts,
                                smoothing_s=self.settings.smoothing_s if smoothing is None
                                else smoothing)

    # -- status --------------------------------------------------------------------------
    def _now_t(self) -> float:
        if self.buffer is None or self._t0 is None or self.buffer.written == 0:
            return 0.0
        return float(self.buffer.latest(1).timestamps[-1] - self._t0)

    def _status_now(self, ev: StatusEvent) -> None:
        """A status event from the worker side: delivered in order after the queued ones."""
        self._drain_status()
        self._deliver(("status", ev))

    def _post_status(self, ev: StatusEvent) -> None:
        """A status event from any other thread (acquisition, GUI), for the worker to deliver.
        Never blocks the caller: on a full queue the oldest status event makes room, and the
        drop is counted."""
        while True:
            try:
                self._status.put_nowait(ev)
                return
            except queue.Full:
                try:
                    self._status.get_nowait()
                    self.stats["status_dropped"] = self.stats.get("status_dropped", 0) + 1
                except queue.Empty:
                    pass

    def _drain_status(self) -> None:
        while True:
            try:
                ev = self._status.get_nowait()
            except queue.Empty:
                return
            self._deliver(("status", ev))

    def _fail(self, where: str, exc: Exception) -> None:
        if isinstance(exc, SourceError):
            # A source that is not as asked (no such stream, two of one name, a producer back
            # changed): its message says what was found and how to fix it; a traceback would
            # only bury that. The status event and the caller report it.
            self.error = f"{where}: {exc}"
            detail = self.error
            log.info("%s", self.error)
        else:
            self.error = f"{where}: {type(exc).__name__}: {exc}"
            detail = f"{self.error}\n{traceback.format_exc(limit=8)}"
            log.error("%s failed:\n%s", where, traceback.format_exc())
        self._stop.set()
        self._post_status(StatusEvent(self._now_t(), "error", detail))
        self.ready.set()  # let a worker waiting for the source see the failure

    def _finish(self) -> None:
        """Join, close the source, then give every sink the last status events (ending with
        "stopped") and close it. A sink that fails here (a full disk) is logged and passed
        over, so the others still hear of it and the caller is never left waiting."""
        self._stop.set()
        last = self._take_status()  # a full queue would block the acquisition thread's put
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(5.0)
        last += self._take_status()
        try:
            self.source.close()  # inlets before the sinks' outlets
        except Exception:
            log.exception("closing the source failed")
        if self.worker is not None:  # windows skipped after the last result count too
            self.stats["skipped"] = self.worker.skipped_total
        last.append(StatusEvent(self._now_t(), "stopped",
                                f"{self.stats['windows']} windows classified, "
                                f"{self.stats['skipped']} skipped"
                                + ("; after an error" if self.error else "")))
        for sink in self.sinks:
            try:
                for ev in last:
                    sink.status(ev)
            except Exception:
                log.exception("%s failed while stopping", type(sink).__name__)
            try:
                sink.close()
            except Exception:
                log.exception("closing %s failed", type(sink).__name__)
        self.done.set()

    def _take_status(self) -> list[StatusEvent]:
        out = []
        while True:
            try:
                out.append(self._status.get_nowait())
            except queue.Empty:
                return out
