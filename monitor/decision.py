"""DecisionStage: a window's per-channel probabilities in; smoothed probabilities, the alert
state and alert on/off events out.

The only place probabilities become decisions. The live pipeline, ``evaluate --stream`` (and
its re-decisions under other settings) and the bench all step this object, so the figures
published for the monitor are the deployed monitor's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.checkpoint import CheckpointError, Classifier
from model.context import ContextNet, ContextRunner
from monitor.alerts import Alert, AlertEvent, AlertPolicy
from monitor.settings import AlertSettings, MonitorSettings
from monitor.smoothing import Smoother


@dataclass(frozen=True)
class Decision:
    smoothed: np.ndarray  # (n_channels, n_classes), float32: the smoother's or context stage's
    state: str  # "seizure", "tumor" or "normal": the alert state after this window
    events: tuple[AlertEvent, ...]  # alerts raised or cleared by this window


def check_decision(settings: MonitorSettings, classifier: Classifier,
                   checkpoint: str = "the shipped checkpoint") -> None:
    """Refuse, naming the checkpoint, a decision stage it cannot run."""
    if settings.decision != "context":
        return
    net = classifier.context
    if net is None:
        raise CheckpointError(
            f"{checkpoint}: holds no context stage, which --decision context needs; make one "
            "with 'seizure-monitor train --all --context-from FOLDS' (FOLDS from 'train --folds "
            "5 --save-folds FOLDS'), or leave --decision at ema.")
    if abs(settings.hop_s - net.config.hop_s) > 1e-9:
        raise CheckpointError(
            f"{checkpoint}: its context stage counts windows at a {net.config.hop_s:g} s hop; "
            f"--hop {settings.hop_s:g} would feed it at another pace (use --hop "
            f"{net.config.hop_s:g} or --decision ema).")


class ContextScorer:
    """The checkpoint's context stage behind the smoother's interface: one step a window
    (stream time is not used: it was trained at the monitor's hop), its state reset after a
    gap."""

    def __init__(self, net: ContextNet, channels: int):
        self.runner = ContextRunner(net, channels)

    def reset(self) -> None:
        self.runner.reset()

    def update(self, t: float, probs: np.ndarray) -> np.ndarray:
        return self.runner.update(probs).astype(np.float32)


class DecisionStage:
    """Scorer (the smoother, or the context stage), then alert policy, for one stream;
    ``step`` once per classified window."""

    def __init__(self, settings: MonitorSettings, channels: tuple[str, ...] = ("EEG",),
                 context: ContextNet | None = None):
        if settings.decision == "context":
            if context is None:
                raise ValueError("decision 'context' needs the checkpoint's context stage")
            self.scorer: Smoother | ContextScorer = ContextScorer(context, len(channels))
        else:
            self.scorer = Smoother(settings.smoothing_s, settings.smoothing_mode)
        self.policy = AlertPolicy(settings.alerts, channels)
        self._segment = 0

    @property
    def active(self) -> dict[str, Alert]:
        return self.policy.active

    def configure(self, alerts: AlertSettings | None = None,
                  smoothing_s: float | None = None) -> None:
        """New thresholds or smoothing time (the smoother's; the context stage has none),
        from the next step on."""
        if alerts is not None:
            self.policy.configure(alerts)
        if smoothing_s is not None and isinstance(self.scorer, Smoother):
            self.scorer.seconds = smoothing_s

    def step(self, t: float, probs: np.ndarray, valid: np.ndarray, segment: int = 0
             ) -> Decision:
        """The window ending at stream time ``t``: ``probs`` (n_channels, n_classes), NaN
        where ``valid`` is False (not classified); ``segment`` counts gaps in the stream."""
        if segment != self._segment:
            # After a gap, nothing from before it may carry into the next alert.
            self.scorer.reset()
            self.policy.reset()
            self._segment = segment
        # A channel whose window has bad samples is not classified: the smoother takes "no
        # information" (uniform) for it, so a long bad stretch fades the old state instead of
        # holding it for an alert the moment good signal returns; and it counts as 0 for the
        # alert policy, so it raises no alert.
        ok = valid[:, None]
        smoothed = self.scorer.update(t, np.where(ok, probs, 1.0 / probs.shape[1]))
        events = self.policy.update(t, np.where(ok, smoothed, 0.0))
        active = self.policy.active
        state = "seizure" if "seizure" in active else "tumor" if "tumor" in active else "normal"
        return Decision(smoothed, state, tuple(events))
