"""DecisionStage: a window's per-channel probabilities in; smoothed probabilities, the alert
state and alert on/off events out.

The only place probabilities become decisions. The live pipeline, ``evaluate --stream`` (and
its re-decisions under other settings) and the bench all step this object, so the figures
published for the monitor are the deployed monitor's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.alerts import Alert, AlertEvent, AlertPolicy
from monitor.settings import AlertSettings, MonitorSettings
from monitor.smoothing import Smoother


@dataclass(frozen=True)
class Decision:
    smoothed: np.ndarray  # (n_channels, n_classes), float32
    state: str  # "seizure", "tumor" or "normal": the alert state after this window
    events: tuple[AlertEvent, ...]  # alerts raised or cleared by this window


class DecisionStage:
    """Smoother, then alert policy, for one stream; ``step`` once per classified window."""

    def __init__(self, settings: MonitorSettings, channels: tuple[str, ...] = ("EEG",)):
        self.smoother = Smoother(settings.smoothing_s, settings.smoothing_mode)
        self.policy = AlertPolicy(settings.alerts, channels)
        self._segment = 0

    @property
    def active(self) -> dict[str, Alert]:
        return self.policy.active

    def configure(self, alerts: AlertSettings | None = None,
                  smoothing_s: float | None = None) -> None:
        """New thresholds or smoothing time, from the next step on."""
        if alerts is not None:
            self.policy.configure(alerts)
        if smoothing_s is not None:
            self.smoother.seconds = smoothing_s

    def step(self, t: float, probs: np.ndarray, valid: np.ndarray, segment: int = 0
             ) -> Decision:
        """The window ending at stream time ``t``: ``probs`` (n_channels, n_classes), NaN
        where ``valid`` is False (not classified); ``segment`` counts gaps in the stream."""
        if segment != self._segment:
            # After a gap, nothing from before it may carry into the next alert.
            self.smoother.reset()
            self.policy.reset()
            self._segment = segment
        # A channel whose window has bad samples is not classified: the smoother takes "no
        # information" (uniform) for it, so a long bad stretch fades the old state instead of
        # holding it for an alert the moment good signal returns; and it counts as 0 for the
        # alert policy, so it raises no alert.
        ok = valid[:, None]
        smoothed = self.smoother.update(t, np.where(ok, probs, 1.0 / probs.shape[1]))
        events = self.policy.update(t, np.where(ok, smoothed, 0.0))
        active = self.policy.active
        state = "seizure" if "seizure" in active else "tumor" if "tumor" in active else "normal"
        return Decision(smoothed, state, tuple(events))
