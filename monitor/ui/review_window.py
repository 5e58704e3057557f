"""ReviewWindow: a recording looked back at. An overview of the whole recording (seizure and
tumor probability trend, alert bars, annotations, truth where known) with a movable region;
the EEG of that region below it; the alerts and annotations in a list, each a click (or a key)
away; a label (confirmed, false alarm, unsure) and a note for each alert, saved beside the
recording.

The GUI thread only draws: reading EEG spans, saving labels, the model pass and the report run
on other threads and come back through queued signals, newest request first, so dragging the
region over a slow disk never freezes the window.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from monitor.review.labels import Label, labels_path, load_labels, save_label
from monitor.review.recording import ReviewAlert, ReviewRecording
from monitor.settings import MonitorSettings
from monitor.ui import theme
from monitor.ui.traces import peak_decimate

#: seconds of EEG shown at first (the region in the overview)
SPAN_S = 20.0
#: at most this many points a lane (peak-decimated beyond it)
LANE_POINTS = 4000
#: at most this many points of each trend curve in the overview
TREND_POINTS = 20000
#: keys: label the selected alert
LABEL_KEYS = {"1": "confirmed", "2": "false alarm", "3": "unsure"}


class ReviewWindow(QMainWindow):
    #: (request number, times, microvolts) of an EEG span read in the background
    span_loaded = pyqtSignal(int, object, object)
    #: the model pass: progress (0-1), then the classified recording or an error message
    pass_progress = pyqtSignal(float)
    pass_done = pyqtSignal(object, str)
    #: labels read or saved: {key: Label} to merge, or an error message
    labels_changed = pyqtSignal(object, str)
    #: a report written (path) or failed (message)
    report_done = pyqtSignal(str, str)

    def __init__(self, rec: ReviewRecording, settings: MonitorSettings | None = None,
                 classify_again: bool = False,
                 make_report: Callable[[ReviewRecording, Path], object] | None = None,
                 thresholds: dict[str, float] | None = None):
        """``make_report(rec, out)`` writes the report (the command line hands it in: the
        scoring is a measuring tool, above the dashboard's layer); without it, no Report
        button."""
        super().__init__()
        self.rec = rec
        self.settings = settings or MonitorSettings(hop_s=1.0)
        self.make_report = make_report
        self.thresholds = thresholds or {}
        self.labels: dict[tuple[str, int], Label] = {}
        self.items: list[tuple[str, object]] = []  # ("alert", ReviewAlert) / ("note", Annotation)
        self._io = ThreadPoolExecutor(1, thread_name_prefix="review-io")  # EEG spans
        # Labels on a thread of their own, never cancelled: one given just before the window
        # closes is still saved.
        self._labels_io = ThreadPoolExecutor(1, thread_name_prefix="review-labels")
        self._span_request = 0
        self._cancel = threading.Event()
        self.span: tuple[float, float] = (0.0, min(SPAN_S, rec.duration))
        self.span_data: tuple[np.ndarray, np.ndarray] | None = None
        self.setWindowTitle(f"seizure-monitor review: {rec.path.name}")
        self.setStyleSheet(theme.STYLE_SHEET)
        self._build()
        self.span_loaded.connect(self._show_span)
        self.pass_progress.connect(lambda f: self.progress.setValue(int(f * 100)))
        self.pass_done.connect(self._pass_finished)
        self.labels_changed.connect(self._merge_labels)
        self.report_done.connect(self._report_finished)
        self._throttle = QTimer(self, singleShot=True, interval=40)
        self._throttle.timeout.connect(self._request_span)
        self._draw_overview()
        self._fill_list()
        self._request_span()
        self._labels_io.submit(self._load_labels)
        self.classifying = not rec.has_predictions or classify_again
        if self.classifying:
            self._start_pass()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.overview = pg.PlotWidget(background=theme.BACKGROUND)
        plot = self.overview.getPlotItem()
        plot.setMouseEnabled(True, False)
        plot.setLabel("bottom", "recording time (s)")
        plot.setLabel("left", "p")
        plot.setYRange(0, 1.1, padding=0)
        plot.setXRange(0, max(self.rec.duration, 1e-3), padding=0)
        plot.setLimits(xMin=0, xMax=max(self.rec.duration, 1e-3))
        self.region = pg.LinearRegionItem(self.span, brush=pg.mkBrush(156, 199, 240, 40),
                                          bounds=(0, self.rec.duration))
        self.region.setZValue(10)
        self.region.sigRegionChanged.connect(lambda: self._throttle.start())
        self.eeg = pg.PlotWidget(background=theme.BACKGROUND)
        eplot = self.eeg.getPlotItem()
        eplot.setMouseEnabled(False, False)
        eplot.hideButtons()
        eplot.setLabel("bottom", "recording time (s)")
        eplot.getAxis("left").setWidth(72)
        eplot.getAxis("left").setStyle(tickFont=QFont("Sans", 8), tickLength=0)
        self.eeg_curve = pg.PlotCurveItem(pen=pg.mkPen(theme.TRACE, width=1))
        eplot.addItem(self.eeg_curve)
        self.eeg_marks: list[pg.InfiniteLine] = []

        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._select)
        self.note = QLineEdit()
        self.note.setPlaceholderText("note for the selected alert")
        buttons = QHBoxLayout()
        self.label_buttons = {}
        for key, label in LABEL_KEYS.items():
            b = QPushButton(f"{label} [{key}]")
            b.clicked.connect(lambda _=False, lab=label: self.label_selected(lab))
            buttons.addWidget(b)
            self.label_buttons[label] = b
        self.report_button = QPushButton("Report...")
        self.report_button.clicked.connect(self._ask_report)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.addWidget(QLabel("Alerts and annotations  (n / p: next / previous; 1 / 2 / 3: "
                            "label)"))
        sl.addWidget(self.list, 1)
        sl.addWidget(self.note)
        sl.addLayout(buttons)
        sl.addWidget(self.report_button)
        self.report_button.setVisible(self.make_report is not None)

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.overview)
        left.addWidget(self.eeg)
        left.setSizes([250, 600])
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(side)
        main.setSizes([1100, 380])
        self.setCentralWidget(main)

        bar = QStatusBar()
        self.message = QLabel("")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        info = QLabel(f"{self.rec.path.name} · {self.rec.kind} · {self.rec.duration:.1f} s · "
                      f"{len(self.rec.channels)} EEG channels at {self.rec.sfreq:g} Hz")
        bar.addWidget(self.message, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(info)
        self.setStatusBar(bar)
        if self.rec.warnings:
            self.message.setText(self.rec.warnings[0])

        for keys, slot in ((("N", "Down"), lambda: self.step(1)),
                           (("P", "Up"), lambda: self.step(-1)),
                           (("Right",), lambda: self.shift(0.5)),
                           (("Left",), lambda: self.shift(-0.5))):
            for k in keys:
                QShortcut(QKeySequence(k), self, slot)
        for k, label in LABEL_KEYS.items():
            QShortcut(QKeySequence(k), self, lambda lab=label: self.label_selected(lab))

    # -- the overview ---------------------------------------------------------------------
    def _draw_overview(self) -> None:
        plot = self.overview.getPlotItem()
        plot.clear()
        rec = self.rec
        for t in rec.truth:
            colour = theme.CLASS_COLORS.get(t.description)
            if colour and t.description != "normal":
                plot.addItem(pg.LinearRegionItem((t.onset, t.onset + t.duration),
                                                 movable=False,
                                                 brush=pg.mkBrush(*theme.rgb(colour), 35),
                                                 pen=pg.mkPen(None)))
        if rec.trend is not None and len(rec.trend.time):
            for values, colour in ((rec.trend.seizure, theme.SEIZURE),
                                   (rec.trend.tumor, theme.TUMOR)):
                x, y = rec.trend.time, np.nan_to_num(values, nan=0.0)[None, :]
                k = len(x) // TREND_POINTS
                if k >= 2:  # a day at 0.1 s is 864,000 windows: their min and max per pixel
                    y = peak_decimate(y, k)
                    x = np.repeat(x[len(x) - (len(x) // k) * k:].reshape(-1, k).mean(1), 2)
                plot.addItem(pg.PlotCurveItem(x, y[0], pen=pg.mkPen(colour, width=1)))
        for cls, on in self.thresholds.items():
            plot.addItem(pg.InfiniteLine(on, angle=0, pen=pg.mkPen(theme.CLASS_COLORS[cls],
                                                                   style=Qt.PenStyle.DashLine)))
        for cls in ("seizure", "tumor"):
            alerts = [a for a in rec.alerts if a.cls == cls]
            if alerts:
                x0 = np.array([a.raised for a in alerts])
                x1 = np.array([rec.duration if a.end is None else a.end for a in alerts])
                plot.addItem(pg.BarGraphItem(x0=x0, x1=np.maximum(x1, x0 + rec.duration / 2000),
                                             y0=1.02, y1=1.08,
                                             brush=theme.CLASS_COLORS[cls], pen=None))
        if rec.annotations:
            x0 = np.array([a.onset for a in rec.annotations])
            width = np.array([max(a.duration, rec.duration / 2000) for a in rec.annotations])
            plot.addItem(pg.BarGraphItem(x0=x0, width=width, y0=0.0, y1=0.04,
                                         brush=theme.MUTED, pen=None))
        for s in rec.segments:
            plot.addItem(pg.InfiniteLine(s, angle=90, pen=pg.mkPen(theme.TEXT,
                                                                   style=Qt.PenStyle.DotLine)))
        plot.addItem(self.region)

    def _fill_list(self) -> None:
        self.list.blockSignals(True)
        current = self.list.currentRow()
        self.list.clear()
        self.items = sorted([("alert", a) for a in self.rec.alerts]
                            + [("note", n) for n in self.rec.annotations],
                            key=lambda it: it[1].raised if it[0] == "alert" else it[1].onset)
        for kind, obj in self.items:
            item = QListWidgetItem(self._item_text(kind, obj))
            if kind == "alert":
                item.setForeground(QColor(theme.CLASS_COLORS[obj.cls]))
            self.list.addItem(item)
        if 0 <= current < len(self.items):
            self.list.setCurrentRow(current)
        self.list.blockSignals(False)

    def _item_text(self, kind: str, obj) -> str:
        if kind == "note":
            return f"{obj.onset:9.1f} s   {obj.description}"
        label = self.labels.get(obj.key)
        tag = f"   [{label.label}{': ' + label.note if label.note else ''}]" if label else ""
        return f"{obj.raised:9.1f} s   {obj.cls} alert, p {obj.peak:.2f}{tag}"

    # -- navigation -----------------------------------------------------------------------
    def _select(self, row: int) -> None:
        if not 0 <= row < len(self.items):
            return
        kind, obj = self.items[row]
        t = obj.raised if kind == "alert" else obj.onset
        width = self.span[1] - self.span[0]
        start = min(max(0.0, t - width / 2), max(0.0, self.rec.duration - width))
        self.region.setRegion((start, start + width))
        label = self.labels.get(obj.key) if kind == "alert" else None
        self.note.setText(label.note if label else "")
        for b in self.label_buttons.values():
            b.setEnabled(kind == "alert")

    def step(self, direction: int) -> None:
        """The next (+1) or previous (-1) item of the list."""
        if self.items:
            row = self.list.currentRow()
            row = 0 if row < 0 else int(np.clip(row + direction, 0, len(self.items) - 1))
            self.list.setCurrentRow(row)

    def shift(self, fraction: float) -> None:
        """Move the region by a fraction of its width."""
        a, b = self.span
        d = (b - a) * fraction
        d = min(max(d, -a), self.rec.duration - b)
        self.region.setRegion((a + d, b + d))

    # -- the EEG of the region ------------------------------------------------------------
    def _request_span(self) -> None:
        a, b = self.region.getRegion()
        self.span = (float(a), float(b))
        self._span_request += 1
        n = self._span_request
        self._io.submit(self._read_span, n, self.span)

    def _read_span(self, n: int, span: tuple[float, float]) -> None:
        if n != self._span_request:  # a newer request is queued: skip this one
            return
        try:
            times, data = self.rec.span(*span)
        except Exception as exc:  # a file gone or damaged since it was opened
            self.labels_changed.emit({}, f"reading {self.rec.path}: {exc}")
            return
        self.span_loaded.emit(n, times, data)

    def _show_span(self, n: int, times: np.ndarray, data: np.ndarray) -> None:
        if n != self._span_request or data.size == 0:
            return
        self.span_data = (times, data)
        lanes = len(data)
        y = data - np.nanmean(data, axis=1, keepdims=True)
        spread = np.nanstd(y, axis=1, keepdims=True)
        y = np.clip(y / (6.0 * np.where(spread > 0, spread, 1.0)), -0.9, 0.9)
        y += (lanes - 1 - np.arange(lanes))[:, None]
        x = times
        k = int(len(times) // LANE_POINTS)
        if k >= 3:
            y = peak_decimate(y, k)
            x = np.repeat(times[len(times) - (len(times) // k) * k:].reshape(-1, k).mean(1), 2)
        stack = np.concatenate([y, np.full((lanes, 1), np.nan)], axis=1)
        xs = np.tile(np.append(x, np.nan), lanes)
        self.eeg_curve.setData(xs, stack.ravel(), connect="finite", skipFiniteCheck=True)
        plot = self.eeg.getPlotItem()
        names = self.rec.channels
        step = max(1, int(np.ceil(lanes / 40)))
        plot.getAxis("left").setTicks(
            [[(float(lanes - 1 - i), nm) for i, nm in enumerate(names)][::step], []])
        plot.setYRange(-1, lanes, padding=0)
        plot.setXRange(times[0], times[-1], padding=0)
        for line in self.eeg_marks:
            plot.removeItem(line)
        self.eeg_marks = []
        for a in self.rec.alerts:
            if times[0] <= a.raised <= times[-1]:
                line = pg.InfiniteLine(a.raised, angle=90,
                                       pen=pg.mkPen(theme.CLASS_COLORS[a.cls], width=2))
                plot.addItem(line)
                self.eeg_marks.append(line)

    # -- labels ---------------------------------------------------------------------------
    def selected_alert(self) -> ReviewAlert | None:
        row = self.list.currentRow()
        if 0 <= row < len(self.items) and self.items[row][0] == "alert":
            return self.items[row][1]
        return None

    def label_selected(self, label: str) -> None:
        alert = self.selected_alert()
        if alert is None:
            self.message.setText("select an alert in the list to label it")
            return
        note = self.note.text()
        self._labels_io.submit(self._save_label, alert, label, note)

    def _save_label(self, alert: ReviewAlert, label: str, note: str) -> None:
        try:
            saved = save_label(self.rec, alert, label, note)
        except OSError as exc:
            self.labels_changed.emit({}, f"{labels_path(self.rec)}: cannot save the label "
                                         f"({exc.strerror or exc})")
            return
        self.labels_changed.emit({alert.key: saved}, "")

    def _load_labels(self) -> None:
        try:
            self.labels_changed.emit(load_labels(self.rec), "")
        except OSError as exc:
            self.labels_changed.emit({}, f"{labels_path(self.rec)}: cannot read the labels "
                                         f"({exc.strerror or exc})")

    def _merge_labels(self, labels: dict, error: str) -> None:
        if error:
            self.message.setText(error)
            return
        self.labels.update(labels)
        for row, (kind, obj) in enumerate(self.items):
            if kind == "alert" and obj.key in labels:
                self.list.item(row).setText(self._item_text(kind, obj))
        if labels and len(labels) == 1:
            label = next(iter(labels.values()))
            self.message.setText(f"saved '{label.label}' to {labels_path(self.rec)}")

    # -- the model pass -------------------------------------------------------------------
    def _start_pass(self) -> None:
        self.progress.show()
        self.message.setText("classifying the recording (the live monitor's pipeline, a "
                             f"window every {self.settings.hop_s:g} s)...")
        copy = replace(self.rec, warnings=list(self.rec.warnings), meta=dict(self.rec.meta))
        threading.Thread(target=self._run_pass, args=(copy,), name="review-pass",
                         daemon=True).start()

    def _run_pass(self, rec: ReviewRecording) -> None:
        from model.checkpoint import load_classifier
        from monitor.review.classify import classify

        try:
            clf = load_classifier(self.settings.checkpoint)
            classify(rec, self.settings, clf, self.pass_progress.emit, self._cancel)
        except Exception as exc:  # shown in the window, which stays usable
            self.pass_done.emit(None, f"the model pass failed: {' '.join(str(exc).split())}")
            return
        self.pass_done.emit(rec, "")

    def _pass_finished(self, rec: ReviewRecording | None, error: str) -> None:
        self.progress.hide()
        self.classifying = False
        if rec is None:
            self.message.setText(error)
            return
        if self._cancel.is_set():
            return
        self.rec = rec
        self._draw_overview()
        self._fill_list()
        self._request_span()
        self.message.setText(f"classified: {len(rec.alerts)} alerts")

    # -- the report -----------------------------------------------------------------------
    def _ask_report(self) -> None:
        default = str(self.rec.path.with_name(self.rec.path.stem + "_report.html"))
        path, _ = QFileDialog.getSaveFileName(self, "Write the report", default,
                                              "HTML (*.html)")
        if path:
            self.write_report(Path(path))

    def write_report(self, out: Path) -> None:
        """Write the HTML report in the background; ``report_done`` says when."""
        self.report_button.setEnabled(False)
        self.message.setText(f"writing {out}...")
        threading.Thread(target=self._run_report, args=(self.rec, out), name="review-report",
                         daemon=True).start()

    def _run_report(self, rec: ReviewRecording, out: Path) -> None:
        from model.data import DataError

        try:
            self.make_report(rec, out)
        except (DataError, OSError) as exc:
            self.report_done.emit("", " ".join(str(exc).split()))
            return
        self.report_done.emit(str(out), "")

    def _report_finished(self, path: str, error: str) -> None:
        self.report_button.setEnabled(True)
        self.message.setText(f"wrote {path}" if path else f"report not written: {error}")

    # -- closing --------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self._cancel.set()
        self._io.shutdown(wait=False, cancel_futures=True)
        self._labels_io.shutdown(wait=False)
        super().closeEvent(event)


def run_review(rec: ReviewRecording, settings: MonitorSettings, classify_again: bool = False,
               make_report: Callable[[ReviewRecording, Path], object] | None = None,
               screenshot: Path | None = None) -> int:
    """Show the review window until it is closed; with ``screenshot``, once the recording is
    classified and its first span drawn, save a PNG and close."""
    from PyQt6.QtCore import qInstallMessageHandler

    from monitor.review.recording import alert_thresholds
    from monitor.ui import has_screen
    from monitor.ui.app import _qt_message

    if not has_screen():  # the command only gets here without a screen for a picture
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("seizure-monitor review")
    window = ReviewWindow(rec, settings, classify_again, make_report, alert_thresholds(rec))
    window.resize(1500, 900)
    window.show()
    result = {"ok": True}
    if screenshot is not None:
        def shoot() -> None:
            if window.classifying or window.span_data is None:
                QTimer.singleShot(100, shoot)
                return
            if window.items:
                window.list.setCurrentRow(0)
            QTimer.singleShot(300, save)

        def save() -> None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            result["ok"] = window.grab().save(str(screenshot))
            if not result["ok"]:
                print(f"seizure-monitor review: error: {screenshot}: cannot write the PNG.",
                      file=sys.stderr)
            window.close()

        QTimer.singleShot(100, shoot)
    app.exec()
    return 0 if result["ok"] else 1
