"""RunningScore: how the model does on a labelled replay so far (per-class accuracy and the
detection latency of each seizure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.data import CLASSES
from monitor.alerts import AlertEvent

SEIZURE = CLASSES.index("seizure")


@dataclass
class Seizure:
    """One seizure of the ground truth: when it began, and how long until the alert."""

    onset: float
    latency: float | None = None  # None: not detected (yet)
    ended: bool = False


class RunningScore:
    """Fed every prediction and alert event in order (alerts of a window come first)."""

    def __init__(self) -> None:
        self.correct = np.zeros(len(CLASSES), np.int64)
        self.total = np.zeros(len(CLASSES), np.int64)
        self.seizures: list[Seizure] = []
        self.false_alarms = 0
        self._in_seizure = False
        self._alert_on = False

    def update(self, t: float, truth: int, predicted: int) -> None:
        if truth < 0:
            return
        self.total[truth] += 1
        self.correct[truth] += int(predicted == truth)
        if truth == SEIZURE and not self._in_seizure:
            # An alert already on when the seizure starts counts as detected at once.
            self.seizures.append(Seizure(t, 0.0 if self._alert_on else None))
        elif truth != SEIZURE and self._in_seizure:
            self.seizures[-1].ended = True
        self._in_seizure = truth == SEIZURE

    def alert(self, ev: AlertEvent) -> None:
        if ev.alert.cls != "seizure":
            return
        self._alert_on = ev.state == "on"
        if ev.state != "on":
            return
        current = self.seizures[-1] if self.seizures and self._in_seizure else None
        if current is not None and current.latency is None:
            current.latency = max(0.0, ev.alert.raised - current.onset)
        elif current is None:
            self.false_alarms += 1

    @property
    def labelled(self) -> bool:
        return bool(self.total.any())

    def accuracy(self) -> dict[str, float | None]:
        return {c: (float(self.correct[i] / self.total[i]) if self.total[i] else None)
                for i, c in enumerate(CLASSES)}

    def text(self) -> str:
        acc = " · ".join(f"{c} {'—' if a is None else f'{a:.0%}'}"
                         for c, a in self.accuracy().items())
        parts = []
        for i, s in enumerate(self.seizures, 1):
            if s.latency is not None:
                parts.append(f"#{i} detected in {s.latency:.1f} s")
            else:
                parts.append(f"#{i} missed" if s.ended else f"#{i} not yet detected")
        seizures = ", ".join(parts) if parts else "none yet"
        return (f"Accuracy so far: {acc}    Seizures: {seizures}    "
                f"False alarms: {self.false_alarms}")
