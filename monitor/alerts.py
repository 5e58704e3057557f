"""AlertPolicy: smoothed probabilities in, alert on/off events out."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from model.data import CLASSES
from monitor.settings import AlertSettings, ClassRule

#: classes that raise alerts, and how loud: seizure is critical, tumor a warning
ALERT_CLASSES = {"seizure": "critical", "tumor": "warning"}


@dataclass(frozen=True)
class Alert:
    cls: str
    onset: float  # stream time the class first stayed above its threshold
    raised: float  # stream time the alert was raised (onset + minimum duration)
    peak: float
    channels: tuple[str, ...]
    end: float | None = None

    @property
    def severity(self) -> str:
        return ALERT_CLASSES[self.cls]


@dataclass(frozen=True)
class AlertEvent:
    state: str  # "on" or "off"
    alert: Alert


class _ClassState:
    def __init__(self, cls: str, rule: ClassRule):
        self.cls, self.rule = cls, rule
        self.index = CLASSES.index(cls)
        self.active: Alert | None = None
        self.pending_since: float | None = None
        self.clear_since: float | None = None

    def reset(self) -> None:
        self.pending_since = self.clear_since = None


class AlertPolicy:
    """Per class: on-threshold, lower off-threshold, minimum duration before an alert, minimum
    time below before it clears, and a k-of-n channel rule for multi-channel streams."""

    def __init__(self, settings: AlertSettings, channel_names: tuple[str, ...] = ("EEG",)):
        self.settings = settings
        self.channel_names = channel_names
        self._states = {c: _ClassState(c, getattr(settings, c)) for c in ALERT_CLASSES}

    @property
    def active(self) -> dict[str, Alert]:
        return {c: s.active for c, s in self._states.items() if s.active is not None}

    def configure(self, settings: AlertSettings) -> None:
        """New thresholds, applied from the next update (the dashboard changes them live)."""
        self.settings = settings
        for c, s in self._states.items():
            s.rule = getattr(settings, c)

    def reset(self) -> None:
        """After a gap: pending onsets are forgotten; raised alerts stay until they clear."""
        for s in self._states.values():
            s.reset()

    def update(self, t: float, smoothed: np.ndarray) -> list[AlertEvent]:
        """``smoothed`` is (n_channels, n_classes) for the window ending at stream time t."""
        k = min(self.settings.channels_k, len(smoothed))
        events = []
        for s in self._states.values():
            p = smoothed[:, s.index]
            above = np.flatnonzero(p >= s.rule.on)
            if s.active is None:
                if len(above) >= k:
                    s.pending_since = t if s.pending_since is None else s.pending_since
                    if t - s.pending_since >= s.rule.min_on_s - 1e-9:
                        s.active = Alert(s.cls, s.pending_since, t, float(p.max()),
                                         tuple(self.channel_names[i] for i in above))
                        s.clear_since = None
                        events.append(AlertEvent("on", s.active))
                else:
                    s.pending_since = None
                continue
            if p.max() > s.active.peak:
                s.active = replace(s.active, peak=float(p.max()))
            if np.count_nonzero(p >= s.rule.off) >= k:
                s.clear_since = None
                continue
            s.clear_since = t if s.clear_since is None else s.clear_since
            if t - s.clear_since >= s.rule.min_off_s - 1e-9:
                events.append(AlertEvent("off", replace(s.active, end=t)))
                s.active = None
                s.reset()
        return events
