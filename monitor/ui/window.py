"""MainWindow: the dashboard, composed of its parts and fed by one pipeline at a time.

The GUI thread only draws. Results arrive from the worker thread through a QtSink (queued
signals) and go into preallocated arrays; a QTimer draws them about 30 times a second. The
window never waits on a source, the model or a lock held for long: pipelines are stopped
without joining, and sources are built in a background thread.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QApplication,
    QGroupBox,
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from model.checkpoint import Classifier
from model.data import CLASSES
from monitor.alerts import Alert, AlertEvent
from monitor.launch import attach_recorder, standard_sinks
from monitor.pipeline import Pipeline, Snapshot
from monitor.record import Recorder
from monitor.settings import AlertSettings, MonitorSettings
from monitor.sinks import EventLog, Prediction, Sink, StatusEvent, status_json
from monitor.sources import Source
from monitor.ui import theme
from monitor.ui.banner import ErrorBanner, StateBanner
from monitor.ui.bridge import QtSink
from monitor.ui.controls import ControlPanel, SourceRequest, build_source
from monitor.ui.finder import StreamFinder
from monitor.ui.history import AlertHistoryTable, clock
from monitor.ui.probabilities import SECONDS as PROB_SECONDS
from monitor.ui.probabilities import ProbabilityView
from monitor.ui.score import RunningScore
from monitor.ui.statusbar import HealthStatusBar
from monitor.ui.timeline import Timeline
from monitor.ui.traces import SECONDS as TRACE_SECONDS
from monitor.ui.traces import TracesView
from monitor.ward.publisher import ACK_DETAIL, RedisPublisher

#: timer interval: a little under 16.7 ms, so timer jitter still leaves 60 frames a second
#: where the machine can draw them (a frame copies the pipeline's snapshot and allocates
#: nothing; the probability plots redraw only when a window arrives, 10 times a second)
FRAME_MS = 15
STATUS_EVERY_S = 0.25
BEEP_EVERY_S = 1.0
#: status events not repeated as the status bar's message
QUIET_EVENTS = {"acknowledged"}


class MainWindow(QMainWindow):
    #: (generation, Source or None, error message): a source built in the background
    _source_built = pyqtSignal(int, object, str)
    #: one frame drawn (for the frame meter)
    frame_drawn = pyqtSignal()

    #: (generation, Recorder or None, error message): a recorder made in the background
    _recorder_built = pyqtSignal(int, object, str)

    def __init__(self, settings: MonitorSettings, classifier: Classifier,
                 events: Path | None = None, find_streams: bool = True,
                 lsl_out: bool = False, record: Path | None = None,
                 publisher: RedisPublisher | None = None, patient: str | None = None):
        """``record``: record the first session to this .vhdr (the Record button is on);
        later recordings go to its folder (the working folder without it), named by time.
        ``publisher``: to the ward, every pipeline of this window, one session."""
        super().__init__()
        self.settings = settings
        self.classifier = classifier
        self.events = events
        self.lsl_out = lsl_out
        self.recorder: Recorder | None = None
        self._record_generation = 0
        self._record_next = record
        self._record_dir = record.parent if record is not None else Path.cwd()
        self.publisher = publisher
        self.patient = patient
        self._acked_by: dict[str, str] = {}  # class -> who acknowledged it where (a ward)
        self.pipeline: Pipeline | None = None
        self._pipelines: list[Pipeline] = []
        self.bridge: QtSink | None = None
        self.request: SourceRequest | None = None
        self.timeline = Timeline(1)
        self.score = RunningScore()
        self.active: dict[str, Alert] = {}
        self.view: Snapshot | None = None  # what the frames draw, refilled from the pipeline
        self._configured = False
        self._generation = 0
        self._ack_writer: threading.Thread | None = None
        self._last_status = 0.0
        self._last_beep = 0.0
        self._written: deque[tuple[float, int]] = deque()
        self._error: str | None = None
        self._stop_asked = False
        self.setWindowTitle("seizure-monitor (research tool, not a medical device)")
        self.setStyleSheet(theme.STYLE_SHEET)
        self._build()
        self._source_built.connect(self._on_source_built)
        self._recorder_built.connect(self._on_recorder_built)
        if record is not None:
            self.controls.record.blockSignals(True)
            self.controls.record.setChecked(True)
            self.controls.record.blockSignals(False)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._frame)
        self.timer.start()
        self.finder = StreamFinder(parent=self)
        self.finder.found.connect(self.controls.set_streams, Qt.ConnectionType.QueuedConnection)
        if find_streams:
            self.finder.start()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = StateBanner()
        self.banner.acknowledge_clicked.connect(self.acknowledge)
        self.error_banner = ErrorBanner()
        self.traces = TracesView()
        self.probability = ProbabilityView()
        self.score_label = QLabel("")
        self.score_label.setStyleSheet(f"color: {theme.MUTED}; padding: 2px 6px;")
        self.score_label.setWordWrap(True)
        self.score_label.hide()
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(0)
        lower_layout.addWidget(self.probability, 1)
        lower_layout.addWidget(self.score_label)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.traces)
        plots.addWidget(lower)
        plots.setSizes([520, 480])

        self.controls = ControlPanel(self.settings.alerts, self.settings.smoothing_s)
        self.controls.start_requested.connect(self.start_request)
        self.controls.stop_requested.connect(self.stop)
        self.controls.alerts_changed.connect(self.configure_alerts)
        self.controls.freeze_toggled.connect(self.set_frozen)
        self.controls.scale_changed.connect(self._scale_chosen)
        self.controls.record_toggled.connect(self.set_recording)
        self.history = AlertHistoryTable()
        history_box = QGroupBox("Alert history")
        QVBoxLayout(history_box).addWidget(self.history)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(6, 0, 0, 0)
        side_layout.addWidget(self.controls)
        side_layout.addWidget(history_box, 1)
        side.setMinimumWidth(430)

        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(plots)
        body.addWidget(side)
        body.setStretchFactor(0, 1)
        body.setSizes([1170, 430])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(6)
        layout.addWidget(self.banner)
        layout.addWidget(self.error_banner)
        layout.addWidget(body, 1)
        self.setCentralWidget(central)
        self.status = HealthStatusBar()
        self.setStatusBar(self.status)
        for keys, slot in (("Space", self.acknowledge), ("P", self.controls.freeze.toggle),
                           ("A", lambda: self._scale_chosen(True, 0.0)),
                           ("+", lambda: self._step_scale(-1)), ("=", lambda: self._step_scale(-1)),
                           ("-", lambda: self._step_scale(1)), ("Ctrl+Q", self.close),
                           ("R", self.controls.record.toggle)):
            QShortcut(QKeySequence(keys), self, slot)

    # -- pipeline control -----------------------------------------------------------------
    def start_request(self, req: SourceRequest) -> None:
        """Build the source in the background (reading recordings can take seconds), then
        start it; a failure shows in the window."""
        self._generation += 1
        gen = self._generation
        self.request = req
        self.banner.show_state("connecting", f"opening {req.label}…")

        def build() -> None:
            try:
                source, message = build_source(req), ""
            except (ValueError, OSError) as exc:  # sentences that name the input
                source, message = None, str(exc)
            except Exception as exc:  # shown to the user, who can pick another source
                source, message = None, f"{req.label}: {type(exc).__name__}: {exc}"
            with contextlib.suppress(RuntimeError):  # the window is gone
                self._source_built.emit(gen, source, message)

        threading.Thread(target=build, name="build-source", daemon=True).start()

    def _on_source_built(self, gen: int, source: Source | None, message: str) -> None:
        if gen != self._generation:
            return  # a newer request replaced this one
        if source is None:
            self._show_error(f"Cannot open the source: {message}")
            self.banner.show_state("idle", "choose a source and press Start")
            return
        self.start(source, self.request)

    def start(self, source: Source, request: SourceRequest | None = None) -> None:
        """Monitor ``source``, replacing the pipeline that runs now (if any)."""
        self.stop()
        if self._ack_writer is not None:  # its lines belong before the next session's
            self._ack_writer.join(1.0)
        self.request = request or self.request
        self._reset()
        bridge = QtSink(self)
        queued = Qt.ConnectionType.QueuedConnection
        bridge.predicted.connect(self._on_prediction, queued)
        bridge.alerted.connect(self._on_alert, queued)
        bridge.status_changed.connect(self._on_status, queued)
        bridge.closed.connect(self._on_closed, queued)
        self.bridge = bridge
        sinks: list[Sink] = [bridge]
        self._close_recorder()
        try:
            recorder = self._new_recorder() if self.controls.record.isChecked() else None
            label = self.request.label if self.request else type(source).__name__
            sinks += standard_sinks(self.settings, self.events, {
                "settings": repr(self.settings), "source": label, "face": "dashboard"},
                self.lsl_out, patient=self.patient)
            if recorder is not None:  # before the window hears of an alert, it is on disk
                sinks.insert(0, recorder)
            self.pipeline = Pipeline(source, self.settings, sinks, classifier=self.classifier,
                                     taps=[recorder] if recorder else None)
            if recorder is not None:
                attach_recorder(recorder, self.pipeline)
                self.recorder = recorder
            if self.publisher is not None:
                self.publisher.attach(self.pipeline)
                self.publisher.start()
        except Exception as exc:
            for sink in sinks:
                sink.close()
            self._show_error(f"Cannot start the monitor: {exc}")
            self.banner.show_state("idle", "choose a source and press Start")
            return
        self.banner.show_state("connecting", f"opening {self._source_label()}…")
        self.status.set_health("idle", "opening the source…")
        self.controls.set_running(True)
        self._pipelines = [p for p in self._pipelines if not p.done.is_set()] + [self.pipeline]
        self.pipeline.start()

    def stop(self) -> None:
        """Ask the pipeline to stop; its threads finish on their own (never joined here)."""
        if self.pipeline is not None:
            self._stop_asked = True
            self.pipeline.stop(timeout=0)
        self.controls.set_running(False)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop everything and wait for the pipeline to close its logs (after the GUI)."""
        self.timer.stop()
        self.finder.stop()
        for p in self._pipelines:  # replaced ones may still be finishing
            p.stop(timeout)
            p.wait(timeout)

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self.finder.stop()
        self.stop()
        super().closeEvent(event)

    def configure_alerts(self, alerts: AlertSettings, smoothing_s: float) -> None:
        """New thresholds and smoothing, applied live and kept for the next start."""
        self.settings = replace(self.settings, alerts=alerts, smoothing_s=smoothing_s)
        if self.pipeline is not None:
            self.pipeline.configure(alerts=alerts, smoothing_s=smoothing_s)
        self.probability.set_thresholds(alerts)
        self.status.set_message(f"alert settings applied: seizure on {alerts.seizure.on:.2f} "
                                f"off {alerts.seizure.off:.2f}, tumor on {alerts.tumor.on:.2f} "
                                f"off {alerts.tumor.off:.2f}, smoothing {smoothing_s:g} s")

    # -- recording ------------------------------------------------------------------------
    def _new_recorder(self, info=None) -> Recorder:
        """A recorder to the --record path (the first time), else a new file named by the time
        in the recordings' folder; ValueError naming the path where it cannot work."""
        path = self._record_next
        self._record_next = None
        if path is None:
            stem = f"seizure-monitor-{time.strftime('%Y%m%d-%H%M%S')}"
            path, k = self._record_dir / f"{stem}.vhdr", 1
            while path.exists():
                k += 1
                path = self._record_dir / f"{stem}-{k}.vhdr"
        return Recorder(path, info=info, from_start=info is None)

    def set_recording(self, on: bool) -> None:
        """The Record button: start recording the running stream (from now on), or stop."""
        if not on:
            self._close_recorder()
            self.status.set_fields(record="")
            return
        p = self.pipeline
        if p is None or p.done.is_set() or p.info is None:
            self.status.set_message("recording starts with the next source")
            return
        self._record_generation += 1
        gen, info = self._record_generation, p.info

        def build() -> None:  # the path's checks touch the disk: not on the GUI thread
            try:
                recorder, message = self._new_recorder(info), ""
            except ValueError as exc:
                recorder, message = None, str(exc)
            with contextlib.suppress(RuntimeError):  # the window is gone
                self._recorder_built.emit(gen, recorder, message)

        threading.Thread(target=build, name="build-recorder", daemon=True).start()

    def _on_recorder_built(self, gen: int, recorder: Recorder | None, message: str) -> None:
        p = self.pipeline
        stale = gen != self._record_generation or not \
            self.controls.record.isChecked() or p is None or p.done.is_set()
        if recorder is None or stale:
            if recorder is not None:
                threading.Thread(target=recorder.close, daemon=True).start()
            if message:
                self._show_error(f"Cannot record: {message}")
                self.controls.record.setChecked(False)
            return
        attach_recorder(recorder, p)
        # Appended: a list the worker is going through only ever grows at its end.
        p.taps.append(recorder)
        p.add_sink(recorder)
        self.recorder = recorder
        self.status.set_message(f"recording to {recorder.path}")

    def _close_recorder(self) -> None:
        """Stop recording (the files are closed on a thread of their own). The recorder stays
        in its pipeline's lists, inert, rather than being taken out of a list the worker may be
        going through."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            threading.Thread(target=recorder.close, name="close-recorder", daemon=True).start()

    def set_frozen(self, frozen: bool) -> None:
        self.traces.set_frozen(frozen)
        self.probability.set_frozen(frozen)

    def _scale_chosen(self, auto: bool, uv: float) -> None:
        self.traces.set_scale(auto, uv or None)
        self.controls.show_scale(self.traces.auto_scale, self.traces.fixed_uv)

    def _step_scale(self, direction: int) -> None:
        self.traces.step_scale(direction)
        self.controls.show_scale(False, self.traces.fixed_uv)

    # -- acknowledgement ------------------------------------------------------------------
    def acknowledge(self) -> None:
        """Silence the alarm: every unacknowledged alert is acknowledged, and each class is
        recorded once in the event log."""
        keys = self.history.unacknowledged()
        if not keys:
            return
        wall = time.time()
        self._record_acknowledgements(sorted({cls for cls, _ in keys}))
        for key in keys:
            self.history.acknowledge(key, wall)
        self.status.set_message(f"acknowledged at {time.strftime('%H:%M:%S')}")

    def _record_acknowledgements(self, classes: list[str]) -> None:
        p = self.pipeline
        if p is not None and not p.done.is_set():
            for cls in classes:
                p.acknowledge(cls)
        elif self.events is not None:
            # The pipeline has closed its log (the replay ended): append to it ourselves, on a
            # thread of its own, as the write is fsynced and the GUI thread waits on no I/O.
            t = self.timeline.last.t if self.timeline.last is not None else 0.0
            lines = [status_json(StatusEvent(t, "acknowledged", f"{cls} alert acknowledged"))
                     for cls in classes]
            self._ack_writer = threading.Thread(target=_append, args=(self.events, lines),
                                                name="acknowledge_log", daemon=False)
            self._ack_writer.start()

    def _remote_ack(self, detail: str) -> None:
        """An acknowledgement made at a ward station (its status event names who and where):
        silences the alarm here too, and the banner says who acknowledged it, where."""
        m = ACK_DETAIL.fullmatch(detail)
        if m is None or not (m["by"] or m["where"]):
            return  # this window's own button (already applied)
        who = f"{m['by']} at {m['where']}" if m["by"] and m["where"] else m["by"] or m["where"]
        self._acked_by[m["cls"]] = f"acknowledged by {who} {time.strftime('%H:%M:%S')}"
        wall = time.time()
        for key in self.history.unacknowledged():
            if key[0] == m["cls"]:
                self.history.acknowledge(key, wall)
        self.status.set_message(f"{m['cls']} alert {self._acked_by[m['cls']]}")

    # -- results from the worker (queued signals) -----------------------------------------
    def _current(self) -> bool:
        return self.sender() is self.bridge

    def _on_prediction(self, p: Prediction) -> None:
        if not self._current() or not self._ensure_configured():
            return
        self.timeline.append(p)
        truth = CLASSES.index(p.truth) if p.truth is not None else -1
        self.score.update(p.t, truth, int(np.argmax(p.smoothed[p.lead])))

    def _on_alert(self, ev: AlertEvent) -> None:
        if not self._current():
            return
        self.history.on_alert(ev)
        self.score.alert(ev)
        if ev.state == "on":
            self.active[ev.alert.cls] = ev.alert
            if ev.alert.cls == "seizure":
                self._last_beep = 0.0  # sound at once
        else:
            self.active.pop(ev.alert.cls, None)

    def _on_status(self, ev: StatusEvent) -> None:
        if not self._current():
            return
        if ev.event == "error":
            self._error = ev.detail.splitlines()[0]
            self._show_error(f"The monitor stopped: {ev.detail}")
            self.status.set_health("error", f"ERROR: {self._error}")
        elif ev.event == "stream_lost":
            self.status.set_health("lost", f"STREAM LOST: {ev.detail}")
        elif ev.event == "stream_recovered":
            self.status.set_health("recovered", f"stream recovered: {ev.detail}")
        elif ev.event == "started":
            self.status.set_health("ok", "● stream OK")
        elif ev.event == "acknowledged":
            self._remote_ack(ev.detail)
        if ev.event not in QUIET_EVENTS:
            self.status.set_message(f"{clock(ev.t)}  {ev.event}: {ev.detail}")

    def _on_closed(self) -> None:
        if not self._current():
            return
        self.controls.set_running(False)
        if self.status.health not in ("error", "lost"):
            self.status.set_health("finished", "stopped" if self._stop_asked else
                                   "the source has ended")

    def _show_error(self, text: str) -> None:
        self.error_banner.show_error(text)
        self.status.set_message(text)

    # -- drawing (the timer) --------------------------------------------------------------
    def _reset(self) -> None:
        self._configured = False
        self.view = None
        self._stop_asked = False
        self._error = None
        self._acked_by.clear()
        self.active.clear()
        self.history.clear_alerts()
        self.score = RunningScore()
        self.timeline = Timeline(1)
        self._written.clear()
        self.error_banner.hide()
        self.score_label.hide()

    def _ensure_configured(self) -> bool:
        p = self.pipeline
        if self._configured:
            return True
        if p is None or not p.ready.is_set():
            return False
        view = p.snapshot(seconds=TRACE_SECONDS)
        if view is None:
            return False
        self.view = view
        info = view.info
        names = tuple(info.channels[i] for i in info.eeg)
        capacity = int(1.5 * PROB_SECONDS / self.settings.hop_s) + 64
        self.timeline = Timeline(len(names), capacity)
        self.traces.configure(info.channels, info.eeg, view.sample_rate)
        self.probability.configure(len(names), info.labelled, names)
        self.probability.set_thresholds(self.settings.alerts)
        self.score_label.setVisible(info.labelled)
        self.history.clear_alerts(len(names))
        self.status.set_fields(
            source=f"{info.name} · {info.source_id or 'no source_id'} · {info.hostname}",
            channels=f"{len(info.eeg)}/{len(info.channels)} ch",
            device=view.device)
        self._configured = True
        return True

    def _frame(self) -> None:
        now = time.perf_counter()
        p = self.pipeline
        if p is not None and self._ensure_configured():
            p.snapshot(self.view)
            last = self.timeline.last
            loud = None
            if last is not None:
                loud = last.valid & (last.smoothed[:, 0] >= self.settings.alerts.seizure.on)
            self.traces.refresh(self.view, loud)
            self.probability.refresh(self.timeline)
        self._draw_banner(now)
        if now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self._draw_status(now)
        self.frame_drawn.emit()

    def _state(self) -> str:
        p = self.pipeline
        unacked = any(cls == "seizure" for cls, _ in self.history.unacknowledged())
        if p is None:
            return "idle"
        if "seizure" in self.active:
            return "seizure"
        if unacked:
            return "seizure_ended"
        if p.done.is_set() and p.error:
            return "error"
        if "tumor" in self.active:
            return "tumor"
        if p.done.is_set():
            return "finished"
        if not self._configured or self.timeline.last is None:
            return "connecting"
        return "normal"

    def _draw_banner(self, now: float) -> None:
        state = self._state()
        last = self.timeline.last
        detail = ""
        if state in ("normal", "tumor", "seizure") and last is not None:
            probs = last.smoothed[last.lead]
            detail = "   ".join(f"{c} {v:.2f}" for c, v in zip(CLASSES, probs, strict=True))
            if len(last.channels) > 1:
                detail += f"   (highest: {last.channels[last.lead]})"
            alert = self.active.get(state)
            if alert is not None:
                detail += f"   ·   since onset {last.t - alert.onset:.1f} s"
                if state in self._acked_by:
                    detail += f"   ·   {self._acked_by[state]}"
        elif state == "seizure_ended":
            detail = "the seizure alert has ended: acknowledge to silence it"
        elif state == "error":
            detail = self._error or self.pipeline.error or ""
        elif state == "finished":
            detail = "the monitor has stopped; choose a source and press Start"
        elif state == "connecting":
            detail = f"opening {self._source_label()}…"
        elif state == "idle":
            detail = "choose a source and press Start"
        unacked = bool(self.history.unacknowledged())
        self.banner.show_state(state, detail, unacked)
        alarm = state in ("seizure", "seizure_ended") and any(
            cls == "seizure" for cls, _ in self.history.unacknowledged())
        self.banner.flash(alarm and int(now * 2) % 2 == 0)
        if alarm and now - self._last_beep >= BEEP_EVERY_S:
            self._last_beep = now
            QApplication.beep()

    def _draw_status(self, now: float) -> None:
        view = self.view
        if self.pipeline is None or not self._configured:
            return
        info = view.info
        self._written.append((now, view.written))
        while len(self._written) > 2 and now - self._written[0][0] > 5.0:
            self._written.popleft()
        measured = "…"
        (t0, w0), (t1, w1) = self._written[0], self._written[-1]
        if t1 - t0 >= 1.0:
            rate = (w1 - w0) / (t1 - t0) * info.sample_rate / view.sample_rate
            measured = f"{rate:.1f}"
        speed = view.speed
        pace = "" if speed in (None, 1.0) else \
            ", replay at full speed" if speed == 0 else f", replay ×{speed:g}"
        latency = view.latency_ms
        fill = min(view.written, view.capacity) / view.capacity
        recorder = self.recorder
        if recorder is not None:
            self.status.set_fields(record=f"● REC failed: {recorder.failed}" if recorder.failed
                                   else f"● REC {recorder.path.name} "
                                        f"{recorder.size / 2**20:.1f} MB")
        self.status.set_fields(
            rate=f"{info.sample_rate:g} Hz ({measured} measured{pace})",
            infer=f"infer {view.infer_ms:.1f} ms",
            latency="latency —" if latency is None else f"latency {latency:.0f} ms",
            buffer=f"buffer {fill:.0%}",
            skipped=f"skipped {view.skipped}")
        last = self.timeline.last
        if last is not None:
            smoothed = np.where(last.valid[:, None], last.smoothed, 0.0).max(axis=0)
            self.history.tick(last.t, dict(zip(CLASSES, smoothed.tolist(), strict=True)))
        if self.score_label.isVisible():
            text = self.score.text()
            if self.score_label.text() != text:
                self.score_label.setText(text)

    def _source_label(self) -> str:
        if self.view is not None:
            return repr(self.view.info.name)
        return self.request.label if self.request else "the source"


def _append(path: Path, lines: list[dict]) -> None:
    """Lines appended to an event log the pipeline has closed; a failure is printed, as
    there is no pipeline left to report it."""
    try:
        log = EventLog(path)
        try:
            for line in lines:
                log.write(line)
        finally:
            log.close()
    except (OSError, ValueError) as exc:
        print(f"{path}: the acknowledgement was not logged ({exc})", file=sys.stderr)
