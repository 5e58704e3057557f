"""AlertHistoryTable: every alert of the session (onset, class, duration, peak, channels,
acknowledged when). The event log holds the same (the pipeline writes alerts, the window
writes acknowledgements through ``Pipeline.acknowledge``)."""

from __future__ import annotations

import time

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from monitor.alerts import AlertEvent
from monitor.ui import theme

COLUMNS = ("onset", "class", "duration", "peak", "acknowledged", "channels")


def clock(t: float) -> str:
    """Stream seconds as m:ss.s."""
    return f"{int(t // 60)}:{t % 60:04.1f}"


class AlertHistoryTable(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(False)
        self._rows: dict[tuple[str, float], int] = {}  # (class, onset) -> row
        self._active: dict[tuple[str, float], int] = {}
        self._acknowledged: set[tuple[str, float]] = set()
        self._peaks: dict[tuple[str, float], float] = {}

    def clear_alerts(self, channels: int = 1) -> None:
        """A new stream; the channels column only where there is a choice of channels."""
        self.setColumnHidden(5, channels < 2)
        self.setRowCount(0)
        self._rows.clear()
        self._active.clear()
        self._acknowledged.clear()
        self._peaks.clear()

    def on_alert(self, ev: AlertEvent) -> None:
        a = ev.alert
        key = (a.cls, a.onset)
        if key not in self._rows:
            row = self._rows[key] = self.rowCount()
            self.insertRow(row)
            self._set(row, 0, clock(a.onset))
            self._set(row, 1, a.cls, theme.CLASS_COLORS[a.cls])
            self._set(row, 4, "—")
        row = self._rows[key]
        self._peaks[key] = max(self._peaks.get(key, 0.0), a.peak)
        self._set(row, 3, f"{self._peaks[key]:.2f}")
        names = a.channels
        self._set(row, 5, names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")
                  if names else "")
        self.item(row, 5).setToolTip(", ".join(names))
        if ev.state == "on":
            self._active[key] = row
            self._set(row, 2, "…")
        else:
            self._active.pop(key, None)
            self._set(row, 2, f"{a.end - a.onset:.1f} s")
        self.scrollToBottom()

    def tick(self, now: float, probs: dict[str, float]) -> None:
        """Durations and peaks of the ongoing alerts, at stream time ``now`` where the
        smoothed probability of each class (highest channel) is ``probs``."""
        for key, row in self._active.items():
            cls, onset = key
            self._set(row, 2, f"{max(0.0, now - onset):.1f} s …")
            self._peaks[key] = max(self._peaks[key], probs.get(cls, 0.0))
            self._set(row, 3, f"{self._peaks[key]:.2f}")

    def unacknowledged(self) -> list[tuple[str, float]]:
        return [k for k in self._rows if k not in self._acknowledged]

    def acknowledge(self, key: tuple[str, float], wall: float | None = None) -> None:
        self._acknowledged.add(key)
        self._set(self._rows[key], 4, time.strftime("%H:%M:%S", time.localtime(wall)))

    def _set(self, row: int, col: int, text: str, color: str | None = None) -> None:
        item = self.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, col, item)
        if item.text() != text:
            item.setText(text)
        if color:
            item.setForeground(QColor(color))
