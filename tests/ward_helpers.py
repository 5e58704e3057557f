"""Helpers for the ward's tests: decisions to feed a real publisher, and waiting on a condition
with a deadline."""

from __future__ import annotations

import numpy as np

from monitor.alerts import Alert, AlertEvent
from monitor.sinks import Prediction, StatusEvent


def prediction(t: float, p_seizure: float, state: str = "normal") -> Prediction:
    row = np.array([[p_seizure, (1 - p_seizure) / 2, (1 - p_seizure) / 2]], np.float32)
    return Prediction(t, row, row, np.array([True]), ("EEG",), None, state, 1.0, None, 0)


def alert_on(cls: str, t: float, peak: float = 0.9) -> AlertEvent:
    return AlertEvent("on", Alert(cls, t - 0.5, t, peak, ("EEG",)))


def alert_off(cls: str, t_on: float, t: float, peak: float = 0.95) -> AlertEvent:
    return AlertEvent("off", Alert(cls, t_on - 0.5, t_on, peak, ("EEG",), end=t))


def status(event: str, detail: str = "", t: float = 0.0) -> StatusEvent:
    return StatusEvent(t, event, detail)


class Notes:
    """Collects a publisher's notify() calls (event, detail)."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def __call__(self, event: str, detail: str) -> None:
        self.items.append((event, detail))

    def events(self) -> list[str]:
        return [e for e, _ in self.items]
