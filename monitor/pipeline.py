"""Pipeline: source -> ring buffer -> worker -> smoother -> alert policy -> sinks.

The only module that starts threads. The acquisition thread reads the source, resamples to
the model's rate and writes the ring buffer; the worker thread classifies, smooths, decides
alerts and calls every sink, in order. Status events from the acquisition thread reach the
worker through a bounded queue. A replay at speed 0 runs both steps in lockstep on one thread,
so it goes as fast as the worker can take it and no window is skipped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from dataclasses import replace

import numpy as np
import pylsl
import torch

from model.checkpoint import Classifier, load_classifier, pick_device
from model.data import CLASSES
from monitor.alerts import AlertPolicy
from monitor.buffer import RingBuffer
from monitor.resample import StreamingResampler
from monitor.settings import AlertSettings, MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.smoothing import Smoother
from monitor.sources import (
    ReplaySource,
    Source,
    SourceChunk,
    SourceError,
    SourceInfo,
    SourceInterrupted,
)
from monitor.worker import InferenceWorker, WindowResult

log = logging.getLogger(__name__)

#: timestamps this far (s) from where the declared rate puts them have jumped (or the rate is
#: wrong); far above clock-sync corrections and dejitter noise, which are milliseconds
JUMP_S = 0.5
#: at most one timestamp_jump report per this many wall-clock seconds: after a jump, liblsl's
#: dejitter takes a minute or more to settle, so the stamps keep wandering for a while
JUMP_REPORT_S = 10.0
#: while a stream is lost, how often (s) to look whether its producer came back changed, and
#: how long to wait to see it when its samples come back
VERIFY_EVERY_S, VERIFY_WAIT_S = 0.25, 1.0
#: wall-clock seconds of a live stream over which its rate is measured
RATE_WINDOW_S = 10.0


class Pipeline:
    """Wires the stages; ``start()`` / ``stop()`` are safe to call twice."""

    def __init__(self, source: Source, settings: MonitorSettings | None = None,
                 sinks: list[Sink] | None = None, classifier: Classifier | None = None):
        self.source = source
        self.settings = settings or MonitorSettings()
        self.sinks: list[Sink] = list(sinks or [])
        self.device = pick_device(self.settings.device)
        torch.set_num_threads(self.settings.torch_threads)
        self.classifier = (classifier or load_classifier(self.settings.checkpoint)).to(
            self.device)
        self.info: SourceInfo | None = None
        self.buffer: RingBuffer | None = None
        self.worker: InferenceWorker | None = None
        self.error: str | None = None
        self.done = threading.Event()  # set when the pipeline has stopped, for any reason
        self.ready = threading.Event()  # set when the source is open and the buffer exists
        self._stop = threading.Event()
        self._source_ended = threading.Event()
        self._status: queue.Queue[StatusEvent] = queue.Queue(maxsize=10_000)
        self._threads: list[threading.Thread] = []
        self._segment = 0
        self._t0: float | None = None
        self._last_sample_wall = time.monotonic()
        self._lost = False
        self._received = 0  # samples read from the source (at its own rate)
        self._ts_anchor: tuple[int, float] | None = None  # (sample count, its timestamp)
        self._jump_quiet_until = -np.inf
        self._settings_lock = threading.Lock()
        self._pending_alerts: AlertSettings | None = None
        self._pending_smoothing: float | None = None
        self._problems: dict[str, str] = {}
        self._last_segment = 0
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
        lockstep = isinstance(self.source, ReplaySource) and self.source.speed == 0
        targets = [self._run_lockstep] if lockstep else [self._run_acquisition, self._run_worker]
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

    def acknowledge(self, cls: str) -> None:
        """Record an acknowledgement (the dashboard's button) in every sink's log."""
        active = self.policy.active.get(cls) if hasattr(self, "policy") else None
        onset = f" (onset t={active.onset:.1f} s)" if active is not None else ""
        self._emit_status("acknowledged", f"{cls} alert{onset} acknowledged")

    # -- stages --------------------------------------------------------------------------
    def _open(self) -> None:
        self.info = info = self.source.open()
        for w in getattr(self.source, "warnings", []):
            self._emit_status("warning", w)
        rate = self.classifier.sample_rate
        self._resampler = None
        if abs(info.sample_rate - rate) > 1e-3 * rate:
            self._resampler = StreamingResampler(info.sample_rate, rate, len(info.channels))
            self._emit_status("resampling", f"{info.sample_rate:g} Hz -> {rate:g} Hz "
                                            f"(up {self._resampler.up}, down "
                                            f"{self._resampler.down})")
        self.buffer = RingBuffer(len(info.channels), int(self.settings.buffer_s * rate))
        hop = max(1, round(self.settings.hop_s * rate))
        lockstep = threading.current_thread().name == "run_lockstep"
        self.worker = InferenceWorker(self.classifier, self.buffer, hop, info.eeg,
                                      realtime=not lockstep)
        self.smoother = Smoother(self.settings.smoothing_s, self.settings.smoothing_mode)
        self._eeg_names = tuple(info.channels[i] for i in info.eeg)
        self.policy = AlertPolicy(self.settings.alerts, self._eeg_names)
        self._emit_status("started", f"{info.kind} {info.name!r} source_id={info.source_id!r} "
                                     f"host={info.hostname!r} {info.sample_rate:g} Hz, "
                                     f"{len(info.eeg)} EEG of {len(info.channels)} channels, "
                                     f"device {self.device}")
        # A slow open (an LSL resolve) is not silence from the stream.
        self._last_sample_wall = time.monotonic()
        self.ready.set()

    def _ingest(self, chunk: SourceChunk) -> None:
        """Resample if needed and write the buffer (the acquisition step)."""
        data, ts = chunk.data, chunk.timestamps
        truth = chunk.truth if chunk.truth is not None else np.full(len(ts), -1, np.int8)
        if self._resampler is not None:
            data, ts, truth = self._resampler.process(data, ts, truth)
        if self._t0 is None and len(ts):
            self._t0 = float(ts[0])
        self.buffer.write(data, ts, truth, self._segment)

    def _run_acquisition(self) -> None:
        try:
            self._open()
            rate_window: list[tuple[float, int]] = []
            next_verify = -np.inf
            while not self._stop.is_set():
                chunk = self.source.read()
                if chunk is None:
                    self._source_ended.set()
                    return
                now = time.monotonic()
                n = len(chunk.timestamps)
                if n:
                    if self._lost:
                        # A producer back with another rate is refused before its samples
                        # reach the buffer.
                        self.source.verify(wait=VERIFY_WAIT_S)
                        self._recover()
                        rate_window.clear()  # the silence is no measure of the rate
                    self._last_sample_wall = now
                    self._ingest(chunk)
                    self._check_rate(rate_window, chunk)
                elif not self._lost and now - self._last_sample_wall > self.settings.stale_s:
                    self._lost = True
                    self._emit_status("stream_lost", f"no sample from {self.info.name!r} "
                                                     f"(source_id {self.info.source_id!r}, "
                                                     f"host {self.info.hostname!r}) for "
                                                     f"{now - self._last_sample_wall:.1f} s")
                elif self._lost and now >= next_verify:
                    # liblsl never reconnects to a producer back with another channel count,
                    # so the stream would stay lost without saying why: look for it.
                    self.source.verify()
                    next_verify = time.monotonic() + VERIFY_EVERY_S
                if n == 0 and not getattr(self.source, "wait_s", 0):
                    time.sleep(0.002)  # sources that cannot wait for a sample are polled
        except SourceInterrupted:
            pass  # stopped (Ctrl-C) while waiting for the stream to appear: no failure
        except Exception as exc:
            self._fail("source", exc)

    def _recover(self) -> None:
        self._lost = False
        self._segment += 1
        self._ts_anchor = None  # the gap moved the timestamps on; a new anchor after it
        if self._resampler is not None:
            self._resampler.reset()
        self._emit_status("stream_recovered",
                          f"{self.info.name!r} is back after "
                          f"{time.monotonic() - self._last_sample_wall:.1f} s; the gap is "
                          "marked and no window spans it")

    def _check_rate(self, history: list[tuple[float, int]], chunk: SourceChunk) -> None:
        """Timestamps against the declared rate, and (live streams) the measured rate over
        RATE_WINDOW_S against the declared one."""
        ts = chunk.timestamps
        declared = self.info.sample_rate
        # Where the declared rate puts the chunk's last sample, counted from an anchor. liblsl's
        # dejitter turns a jump into a slope over many samples, so steps between neighbours
        # say little; the distance from the anchor grows past JUMP_S within a fraction of a
        # second of a jump either way.
        first = self._received
        self._received += len(ts)
        if self._ts_anchor is None:
            self._ts_anchor = (first, float(ts[0]))
        k0, t0 = self._ts_anchor
        off = float(ts[-1]) - (t0 + (self._received - 1 - k0) / declared)
        if abs(off) > JUMP_S:
            self._ts_anchor = (self._received - 1, float(ts[-1]))
            now = time.monotonic()
            if now >= self._jump_quiet_until:
                self._jump_quiet_until = now + JUMP_REPORT_S
                self._emit_status("timestamp_jump",
                                  f"timestamps of {self.info.name!r} are {off:+.2f} s off where "
                                  f"the declared {declared:g} Hz puts them (a clock jump, or "
                                  "a wrong declared rate); windows follow sample order")
        if self.info.kind != "lsl":
            return
        history.append((time.monotonic(), len(ts)))
        span = history[-1][0] - history[0][0]
        if span >= RATE_WINDOW_S:
            measured = sum(n for _, n in history[1:]) / span
            self.stats["measured_rate"] = measured
            if abs(measured - declared) > 0.1 * declared:
                self._emit_status("rate_mismatch", f"{self.info.name!r} declares "
                                                   f"{declared:g} Hz but delivers "
                                                   f"{measured:.1f} Hz")
            history.clear()

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
                while (result := self.worker.step()) is not None:
                    self._handle(result)
                self._drain_status()
        except Exception as exc:
            self._fail("replay", exc)
        finally:
            self._finish()

    def _handle(self, r: WindowResult) -> None:
        """Smoother, alert policy, sinks: one classified window (the worker step's result)."""
        self._apply_pending_settings()
        if r.segment != self._last_segment:
            self.smoother.reset()
            self.policy.reset()
        self._last_segment = r.segment
        t = r.timestamp - (self._t0 or 0.0)
        self.stats["windows"] += 1
        self.stats["infer_ms"] = r.infer_s * 1e3
        self.stats["skipped"] = self.worker.skipped_total  # the worker keeps the one count
        if self.stats["skipped"] > self._skipped_reported and t >= self._skip_report_t + 5:
            self._emit_status("skipped_windows", f"{self.stats['skipped']} windows skipped so "
                                                 "far to stay real time", t)
            self._skipped_reported = self.stats["skipped"]
            self._skip_report_t = t
        self._report_problems(r, t)
        latency = (pylsl.local_clock() - r.timestamp) * 1e3 if self.info.kind == "lsl" else None
        self.stats["latency_ms"] = latency
        # A channel whose window has bad samples is not classified: it counts as 0 for the
        # alert policy, so it raises no alert, and the smoother takes "no information"
        # (uniform) for it, so a long bad stretch fades the old state instead of holding it
        # for an alert the moment good signal returns.
        valid = r.valid[:, None]
        smoothed = self.smoother.update(t, np.where(valid, r.probs, 1.0 / r.probs.shape[1]))
        events = self.policy.update(t, np.where(valid, smoothed, 0.0))
        active = self.policy.active
        state = "seizure" if "seizure" in active else "tumor" if "tumor" in active else "normal"
        pred = Prediction(t, r.probs, smoothed, r.valid,
                          self._eeg_names,
                          CLASSES[r.truth] if r.truth >= 0 else None, state,
                          r.infer_s * 1e3, latency, self.stats["skipped"])
        self._deliver(*[("alert", ev) for ev in events], ("prediction", pred))

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
        for name, problem in zip(self._eeg_names, r.problems, strict=True):
            if self._problems.get(name) == problem:
                continue
            if problem is None:
                self._emit_status("signal_ok", f"channel {name}: signal quality back", t)
            else:
                self._emit_status("bad_samples", f"channel {name}: {problem}; its windows are "
                                                 "not classified", t)
            self._problems[name] = problem

    def _apply_pending_settings(self) -> None:
        with self._settings_lock:
            alerts, smoothing = self._pending_alerts, self._pending_smoothing
            self._pending_alerts = self._pending_smoothing = None
        if alerts is not None:
            self.policy.configure(alerts)
            self.settings = replace(self.settings, alerts=alerts)
        if smoothing is not None:
            self.smoother.seconds = smoothing
            self.settings = replace(self.settings, smoothing_s=smoothing)

    # -- status --------------------------------------------------------------------------
    def _now_t(self) -> float:
        if self.buffer is None or self._t0 is None or self.buffer.written == 0:
            return 0.0
        return float(self.buffer.latest(1).timestamps[-1] - self._t0)

    def _emit_status(self, event: str, detail: str, t: float | None = None) -> None:
        ev = StatusEvent(self._now_t() if t is None else t, event, detail)
        if threading.current_thread().name in ("run_worker", "run_lockstep"):
            self._drain_status()
            self._deliver(("status", ev))
        else:
            self._put_status(ev)

    def _put_status(self, ev: StatusEvent) -> None:
        """Never block the caller (the acquisition or GUI thread): on a full queue the oldest
        status event makes room, and the drop is counted."""
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
        self._put_status(StatusEvent(self._now_t(), "error", detail))
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
