"""The dashboard as a pipeline sink: worker-thread calls become Qt signals.

The sink is created in the GUI thread, so every signal it emits from the worker thread reaches
the window through a queued connection: the worker never waits on the GUI, and the GUI handles
results in its own thread, in the order they were produced.
"""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal

from monitor.alerts import AlertEvent
from monitor.sinks import Prediction, Sink, StatusEvent


class QtSink(QObject, Sink):
    predicted = pyqtSignal(object)  # Prediction
    alerted = pyqtSignal(object)  # AlertEvent
    status_changed = pyqtSignal(object)  # StatusEvent
    closed = pyqtSignal()  # the pipeline has finished and closed its sinks

    def prediction(self, p: Prediction) -> None:
        self.predicted.emit(p)

    def alert(self, ev: AlertEvent) -> None:
        self.alerted.emit(ev)

    def status(self, ev: StatusEvent) -> None:
        self.status_changed.emit(ev)

    def close(self) -> None:
        self.closed.emit()
