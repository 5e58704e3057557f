"""WardWindow: the central station, one tile per patient, fed from Redis.

The GUI thread never talks to Redis. A StationReader thread reads every patient's streams and
hands each batch over through a queued Qt signal; the window applies it to its WardState (a
few dict updates) and redraws on a 30 fps timer only what changed. Acknowledgements and
snoozes are queued in a WardCommands outbox, written by its own thread, and applied to the
window's state at once (the copy read back from Redis is a duplicate by uid).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal, qInstallMessageHandler
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from monitor.ui import theme
from monitor.ward.connection import RedisTarget
from monitor.ward.station import (
    OFFLINE_AFTER_S,
    SPARKLINE_S,
    Alarm,
    PatientState,
    StationReader,
    StreamEntry,
    WardCommands,
    WardState,
)

FRAME_MS = 30
#: how often offline heartbeats are checked (s)
TICK_S = 0.25
BEEP_EVERY_S = 1.0
SNOOZE_MINUTES = (5, 15, 30, 60)
OFFLINE = "#59616d"
TILE_STYLE = f"""
QFrame#tile {{ border: 2px solid {theme.BORDER}; border-radius: 6px; background: {theme.PANEL}; }}
QFrame#tile QLabel {{ background: transparent; }}
QFrame#tile[level="seizure"] {{ background: #5a1518; border-color: {theme.SEIZURE}; }}
QFrame#tile[level="seizure_dim"] {{ background: {theme.PANEL}; border-color: {theme.SEIZURE}; }}
QFrame#tile[level="seizure_acked"] {{ background: #3a1416; border-color: {theme.SEIZURE}; }}
QFrame#tile[level="tumor"] {{ background: #4a3308; border-color: {theme.TUMOR}; }}
QFrame#tile[level="offline"] {{ background: #1d2026; border: 2px dashed {OFFLINE}; }}
QFrame#tile[level="stopped"] {{ background: #1d2026; border-color: {theme.BORDER}; }}
QLabel#state {{ font-size: 15pt; font-weight: bold; }}
QLabel#label {{ font-size: 12pt; font-weight: bold; }}
"""


def quiet_qt_messages() -> None:
    """Qt's messages to stderr, but for the offscreen platform's one about size hints, which
    it repeats on every layout change (screenshots, the bench)."""
    def handler(mode, context, message: str) -> None:
        if "does not support propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def wall(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def ack_text(alarm: Alarm) -> str:
    if not alarm.acks:
        return "not acknowledged"
    a = alarm.acks[0]
    who = f"{a.by} at {a.where}" if a.by else a.where
    return f"acknowledged by {who}, {time.strftime('%H:%M:%S', time.localtime(a.ts))}"


def last_alarm(st: PatientState) -> str:
    if not st.alarms:
        return "no alarms"
    a = list(st.alarms.values())[-1]
    onset = time.strftime("%H:%M:%S", time.localtime(a.onset_ts))
    return f"last alarm: {a.cls} at {onset}, {ack_text(a)}"


class PatientTile(QFrame):
    """One patient: label, state, time since the alarm's onset, 10 minutes of seizure
    probability, health, and the ward's buttons."""

    acknowledge = pyqtSignal(str)
    snooze = pyqtSignal(str, float)
    history = pyqtSignal(str)

    def __init__(self, patient: str, parent=None):
        super().__init__(parent)
        self.patient = patient
        self.setObjectName("tile")
        self.setProperty("level", "normal")
        self.setFixedSize(360, 200)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.label = QLabel(patient, objectName="label")
        self.ident = QLabel("")
        self.ident.setStyleSheet(f"color: {theme.MUTED};")
        self.state = QLabel("no data yet", objectName="state")
        self.detail = QLabel("")
        self.detail.setStyleSheet(f"color: {theme.TEXT};")
        self.health = QLabel("")
        self.health.setStyleSheet(f"color: {theme.MUTED};")
        self.plot = pg.PlotWidget(background=None)
        self.plot.setFixedHeight(46)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMouseEnabled(False, False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setXRange(-SPARKLINE_S / 60, 0, padding=0)
        self.plot.setYRange(0, 1, padding=0.05)
        self.plot.addItem(pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen(theme.GRID, width=1)))
        self.curve = self.plot.plot(pen=pg.mkPen(theme.SEIZURE, width=1.5), skipFiniteCheck=True)
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.clicked.connect(lambda: self.acknowledge.emit(self.patient))
        self.snooze_button = QToolButton()
        self.snooze_button.setText("Snooze")
        self.snooze_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.snooze_button)
        for minutes in SNOOZE_MINUTES:
            act = QAction(f"silence {minutes} min", menu)
            act.triggered.connect(lambda _=False, m=minutes: self.snooze.emit(self.patient, m))
            menu.addAction(act)
        end = QAction("end snooze", menu)
        end.triggered.connect(lambda: self.snooze.emit(self.patient, 0.0))
        menu.addAction(end)
        self.snooze_button.setMenu(menu)
        history = QPushButton("History")
        history.clicked.connect(lambda: self.history.emit(self.patient))

        top = QHBoxLayout()
        top.addWidget(self.label)
        top.addStretch(1)
        top.addWidget(self.ident)
        buttons = QHBoxLayout()
        buttons.addWidget(self.ack_button)
        buttons.addWidget(self.snooze_button)
        buttons.addStretch(1)
        buttons.addWidget(history)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.state)
        lay.addWidget(self.detail)
        lay.addWidget(self.plot)
        lay.addWidget(self.health)
        lay.addLayout(buttons)
        self._trend_key: tuple | None = None
        self._texts: tuple = ()

    def mouseReleaseEvent(self, event) -> None:
        self.history.emit(self.patient)
        super().mouseReleaseEvent(event)

    def set_level(self, level: str) -> None:
        if self.property("level") != level:
            self.setProperty("level", level)
            self.style().unpolish(self)
            self.style().polish(self)

    def show_state(self, st: PatientState, now: float, flash_on: bool) -> None:
        alarm = st.urgent()
        if alarm is not None:
            name = "SEIZURE" if alarm.cls == "seizure" else "TUMOR WARNING"
            if alarm.active:
                title = f"{name}  {elapsed(now - alarm.onset_ts)}"
            else:
                title = f"{name} ENDED  ({elapsed(alarm.duration(now))})"
            detail = f"peak {alarm.peak:.2f}, {ack_text(alarm)}"
            if alarm.cls == "seizure" and not alarm.acknowledged:
                level = "seizure" if flash_on else "seizure_dim"
            else:
                level = "seizure_acked" if alarm.cls == "seizure" else "tumor"
            color = theme.SEIZURE if alarm.cls == "seizure" else theme.TUMOR
        elif st.stopped:
            title, detail, level, color = "monitor stopped", last_alarm(st), "stopped", OFFLINE
        else:
            title = st.state if st.p is not None else "no data yet"
            detail = last_alarm(st)
            level = "normal"
            color = theme.CLASS_COLORS.get(st.state, theme.MUTED)
        if st.offline:
            since = now - st.last_beat_ms / 1000 if st.last_beat_ms else 0.0
            title = f"MONITOR OFFLINE  {elapsed(since)}" if alarm is None else title
            detail = f"no heartbeat for {elapsed(since)}" + (
                f"; {detail}" if alarm is not None else "")
            level = "offline" if alarm is None else level
            color = OFFLINE if alarm is None else color
        health = st.health + (f", p {st.p:.2f}" if st.p is not None and not st.offline else "")
        if st.snooze_until > now:
            until = time.strftime("%H:%M", time.localtime(st.snooze_until))
            health = f"sound snoozed until {until} by {st.snooze_by}; {health}"
        texts = (st.label, st.patient, title, detail, health, color)
        if texts != self._texts:
            self._texts = texts
            self.label.setText(st.label)
            self.ident.setText(st.patient if st.label != st.patient else "")
            self.state.setText(title)
            self.state.setStyleSheet(f"color: {color};")
            for label, text in ((self.detail, detail), (self.health, health)):
                label.setText(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                             340))
                label.setToolTip(text)
        self.ack_button.setEnabled(any(not a.acknowledged for a in st.alarms.values()))
        self.set_level(level)
        self._draw_trend(st, now)

    def _draw_trend(self, st: PatientState, now: float) -> None:
        key = (len(st.trend), st.trend[-1][0] if st.trend else None, int(now))
        if key == self._trend_key:
            return
        self._trend_key = key
        if not st.trend:
            self.curve.setData([], [])
            return
        arr = np.asarray(st.trend, dtype=float)
        x = (arr[:, 0] - now) / 60
        keep = x >= -SPARKLINE_S / 60
        self.curve.setData(x[keep], arr[keep, 1])


class WardHistoryDialog(QDialog):
    """A patient's alarms from the durable stream: onset, class, duration, peak, who
    acknowledged them where and when, how they ended."""

    COLUMNS = ("onset", "class", "duration", "peak", "acknowledged", "ended")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.resize(900, 420)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.summary = QLabel("")
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(self.table)

    def show_patient(self, st: PatientState, now: float) -> None:
        self.setWindowTitle(f"Alarm history: {st.label} ({st.patient})")
        alarms = list(reversed(st.alarms.values()))
        self.summary.setText(f"{len(alarms)} alarms; monitor on {st.host or '?'}; "
                             f"{st.last_status}")
        self.table.setRowCount(len(alarms))
        for row, a in enumerate(alarms):
            ended = ("active" if a.active else a.ended_by or
                     f"cleared {time.strftime('%H:%M:%S', time.localtime(a.end_ts))}")
            cells = (wall(a.onset_ts), a.cls, elapsed(a.duration(now)), f"{a.peak:.2f}",
                     ack_text(a), ended)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 1:
                    item.setForeground(pg.mkColor(theme.CLASS_COLORS[a.cls]))
                self.table.setItem(row, col, item)


class WardWindow(QMainWindow):
    """The central station. ``target`` None: no reader (tests feed ``state`` directly)."""

    batch_arrived = pyqtSignal(object, object)
    link_changed = pyqtSignal(bool, str)
    frame_drawn = pyqtSignal()

    def __init__(self, target: RedisTarget | None, commands: WardCommands | None = None,
                 columns: int = 4, offline_after_s: float = OFFLINE_AFTER_S,
                 sound: bool = True):
        super().__init__()
        self.setWindowTitle("seizure-monitor ward (research tool, not a medical device)")
        self.setStyleSheet(theme.STYLE_SHEET + TILE_STYLE)
        self.state = WardState(offline_after_s)
        self.commands = commands
        self.columns = columns
        self.sound = sound
        self.tiles: dict[str, PatientTile] = {}
        self._order: list[str] = []
        self._drawn = (-1, -1, -1)
        self._last_tick = 0.0
        self._last_beep = 0.0
        self._link = "connecting to Redis..."
        self.history_dialog = WardHistoryDialog(self)
        self._history_patient: str | None = None
        self.batch_arrived.connect(self._on_batch)
        self.link_changed.connect(self._on_link)
        self.reader = None
        if target is not None:
            self.reader = StationReader(target, self._from_reader, self.link_changed.emit)
            self._link = f"{target.shown}: connecting..."
        self._build()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._frame)
        self.timer.start()
        if self.reader is not None:
            self.reader.start()

    def _build(self) -> None:
        self.header = QLabel("")
        self.header.setStyleSheet("font-size: 13pt; font-weight: bold; padding: 4px;")
        self.link_label = QLabel("")
        self.link_label.setStyleSheet(f"color: {theme.MUTED}; padding: 4px;")
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(8)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        top = QHBoxLayout()
        top.addWidget(self.header)
        top.addStretch(1)
        top.addWidget(self.link_label)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addLayout(top)
        lay.addWidget(scroll, 1)
        self.setCentralWidget(body)

    # -- from the reader thread (queued) -------------------------------------------------
    def _from_reader(self, entries: list[StreamEntry], registry: dict) -> None:
        if entries or registry:
            self.batch_arrived.emit(entries, registry)

    def _on_batch(self, entries: list[StreamEntry], registry: dict) -> None:
        for patient, meta in registry.items():
            self.state.register(patient, meta)
        for entry in entries:
            self.state.feed(entry)

    def _on_link(self, ok: bool, detail: str) -> None:
        self._link = detail if ok else f"REDIS UNREACHABLE: {detail}"
        self.link_label.setStyleSheet(f"color: {theme.MUTED if ok else theme.SEIZURE}; "
                                      "padding: 4px;")
        self.state.version += 1

    # -- the ward's actions --------------------------------------------------------------
    def acknowledge(self, patient: str) -> None:
        """Every unacknowledged alarm of the patient, recorded at every station and the
        bedside."""
        st = self.state.patients.get(patient)
        if st is None or self.commands is None:
            return
        for alarm in [a for a in st.alarms.values() if not a.acknowledged]:
            self.state.feed(self.commands.acknowledge(patient, alarm.cls, alarm.alert_id))

    def snooze(self, patient: str, minutes: float) -> None:
        if self.commands is not None and patient in self.state.patients:
            self.state.feed(self.commands.snooze(patient, minutes))

    def show_history(self, patient: str) -> None:
        st = self.state.patients.get(patient)
        if st is not None:
            self._history_patient = patient
            self.history_dialog.show_patient(st, time.time())
            self.history_dialog.show()

    # -- drawing -------------------------------------------------------------------------
    def _now_ms(self) -> float:
        return self.reader.now_ms() if self.reader is not None else time.time() * 1000

    def _frame(self) -> None:
        now = time.time()
        if now - self._last_tick >= TICK_S:
            self._last_tick = now
            self.state.tick(self._now_ms())
        flash = int(now * 2) % 2
        drawn = (self.state.version, flash, int(now))
        if drawn != self._drawn:
            self._drawn = drawn
            self.redraw(now, bool(flash))
        if self.sound and now - self._last_beep >= BEEP_EVERY_S and any(
                st.sounding(now) for st in self.state.patients.values()):
            self._last_beep = now
            QApplication.beep()
        self.frame_drawn.emit()

    def redraw(self, now: float, flash_on: bool = True) -> None:
        ordered = self.state.ordered()
        order = [st.patient for st in ordered]
        for st in ordered:
            if st.patient not in self.tiles:
                tile = self.tiles[st.patient] = PatientTile(st.patient)
                tile.acknowledge.connect(self.acknowledge)
                tile.snooze.connect(self.snooze)
                tile.history.connect(self.show_history)
        if order != self._order:
            self._order = order
            for i, patient in enumerate(order):
                self.grid.addWidget(self.tiles[patient], i // self.columns, i % self.columns)
        for st in ordered:
            self.tiles[st.patient].show_state(st, now, flash_on)
        alarms = sum(st.urgent() is not None for st in ordered)
        offline = sum(st.offline for st in ordered)
        sounding = [st.label for st in ordered if st.sounding(now)]
        self.header.setText(f"Ward: {len(ordered)} patients, {alarms} in alarm, "
                            f"{offline} offline" + (f"  |  ALARM SOUNDING: "
                                                    f"{', '.join(sounding)}" if sounding else ""))
        self.link_label.setText(self._link)
        if self._history_patient and self.history_dialog.isVisible():
            self.history_dialog.show_patient(self.state.patients[self._history_patient], now)

    def shutdown(self) -> None:
        self.timer.stop()
        if self.reader is not None:
            self.reader.stop()
            self.reader.join(3.0)
        if self.commands is not None:
            self.commands.close()
            self.commands.writer.join(4.0)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
