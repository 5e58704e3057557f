"""Settings: frozen dataclasses, from command-line flags or a TOML file."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from monitor.smoothing import SMOOTHING_MODES

#: the decision stages MonitorSettings.decision names
DECISIONS = ("ema", "context")

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib


class UsageError(ValueError):
    """An impossible combination or value of flags or settings; the command line prints it
    as one line and exits 2."""


@dataclass(frozen=True)
class ClassRule:
    """When a class raises an alert: hysteresis thresholds and minimum durations."""

    on: float
    off: float
    min_on_s: float
    min_off_s: float

    def __post_init__(self):
        if not 0 < self.off <= self.on <= 1:
            raise ValueError(f"alert thresholds need 0 < off <= on <= 1, got on={self.on}, "
                             f"off={self.off}")
        if self.min_on_s < 0 or self.min_off_s < 0:
            raise ValueError("alert durations must be >= 0 s")

    def with_thresholds(self, on: float | None = None, off: float | None = None) -> ClassRule:
        """This rule with new thresholds; an off left out follows a lowered on down."""
        on = self.on if on is None else on
        return replace(self, on=on, off=min(self.off, on) if off is None else off)


@dataclass(frozen=True)
class AlertSettings:
    # Seizure: chosen on the fold-wise replay of two seeds' folds only (evaluate --stream
    # --folds --sweep; held-out sessions not looked at), by a rule fixed beforehand: the
    # fewest false alarms with every seizure detected, then the fastest median. With the 0.5 s
    # smoothing below: 1 false alarm in 4.2 h where 1 s / 0.5 / 0.5 s raised 10, at a slower
    # maximum (docs/experiments.md, "The decision stage").
    seizure: ClassRule = field(default_factory=lambda: ClassRule(0.95, 0.35, 0.25, 3.0))
    tumor: ClassRule = field(default_factory=lambda: ClassRule(0.6, 0.45, 5.0, 5.0))
    #: how many classified channels must be above threshold (1 = any channel)
    channels_k: int = 1

    def __post_init__(self):
        # 0 would count "no channel above threshold" as enough, and alert on silence.
        if not isinstance(self.channels_k, int) or self.channels_k < 1:
            raise ValueError(f"--channels-k (channels_k) must be a whole number >= 1, got "
                             f"{self.channels_k!r}")


#: The shortest ring buffer accepted: it must hold a whole 120-sample window (0.69 s at
#: 173.61 Hz) with room to spare, or the worker would never get a window to classify.
MIN_BUFFER_S = 2.0


@dataclass(frozen=True)
class MonitorSettings:
    hop_s: float = 0.1
    buffer_s: float = 30.0
    #: 0.5 s with the seizure rule above (AlertSettings)
    smoothing_s: float = 0.5
    smoothing_mode: str = "ema"
    #: how probabilities become decisions: "ema" (the smoother above) or "context" (the
    #: checkpoint's learned context stage over the last tens of seconds; docs/experiments.md,
    #: "The decision stage")
    decision: str = "ema"
    device: str = "auto"
    checkpoint: Path | None = None
    #: a live stream with no sample for this long is reported lost (so within 2 s, with the
    #: acquisition loop's own delay)
    stale_s: float = 1.5
    #: torch CPU threads; one is much faster than two for the small batches of a live
    #: stream on a 2-core machine (measured: `seizure-monitor bench`)
    torch_threads: int = 1
    alerts: AlertSettings = field(default_factory=AlertSettings)

    def __post_init__(self):
        if self.buffer_s < MIN_BUFFER_S:
            raise ValueError(f"buffer_s must be at least {MIN_BUFFER_S} s (a model window is "
                             f"0.69 s, and the buffer must hold one), got {self.buffer_s}")
        if not self.smoothing_s >= 0:  # also refuses NaN
            raise ValueError(f"--smoothing must be 0 s or more, got {self.smoothing_s}")
        if self.smoothing_mode not in SMOOTHING_MODES:
            raise ValueError(f"--smoothing-mode must be ema or mean, got {self.smoothing_mode!r}")
        if self.decision not in DECISIONS:
            raise ValueError(f"--decision must be ema or context, got {self.decision!r}")
        if not isinstance(self.torch_threads, int) or self.torch_threads < 1:
            raise ValueError(f"torch_threads must be a whole number >= 1, got "
                             f"{self.torch_threads!r}")
        if self.hop_s <= 0:
            raise ValueError(f"--hop must be > 0 s, got {self.hop_s}")
        if self.hop_s >= self.buffer_s:
            raise ValueError(f"--hop ({self.hop_s} s) must be shorter than the buffer "
                             f"({self.buffer_s} s)")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"--device must be auto, cpu or cuda, got {self.device!r}")


def load_toml(path: Path, base: MonitorSettings | None = None) -> MonitorSettings:
    """Settings from a TOML file: top-level keys of MonitorSettings, [alerts.seizure] etc."""
    base = base or MonitorSettings()
    try:
        doc = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read settings ({exc}).") from None
    alerts_doc = doc.pop("alerts", {})
    known = {f.name for f in fields(MonitorSettings)} - {"alerts"}
    unknown = set(doc) - known
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    try:
        alerts = base.alerts
        for name in ("seizure", "tumor"):
            if name in alerts_doc:
                alerts = replace(alerts, **{name: replace(getattr(alerts, name),
                                                           **alerts_doc.pop(name))})
        alerts = replace(alerts, **alerts_doc)
        if "checkpoint" in doc:
            doc["checkpoint"] = Path(doc["checkpoint"])
        return replace(base, alerts=alerts, **doc)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
