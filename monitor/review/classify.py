"""The model pass: a recording without stored predictions, classified through the real
pipeline in lockstep (a replay at speed 0: every window on the hop grid classified, as fast
as the CPU allows), so its trend and alerts come from the same resampling, quality checks,
smoothing and alert policy as the live monitor's."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from model.checkpoint import Classifier, load_classifier
from model.data import CLASSES, DataError
from monitor.alerts import Alert, AlertEvent
from monitor.pipeline import Pipeline
from monitor.record import recording_meta
from monitor.review.recording import ReviewAlert, ReviewRecording, Trend, open_recording
from monitor.settings import MonitorSettings
from monitor.sinks import Prediction, Sink
from monitor.sources import ReplaySource
from replay.scenario import UNKNOWN, Scenario, Segment

#: seconds of the file read at a time (float64 in mne) into the float32 replay signal
READ_BLOCK_S = 60.0
#: the review's default hop: a tenth of the live monitor's windows (docs/record-review.md
#: has the time it takes on an hour of 64 channels at each)
REVIEW_HOP_S = 1.0


class _Collector(Sink):
    """What the pipeline concluded, window by window, and how far through it is."""

    def __init__(self, duration: float, progress: Callable[[float], None] | None):
        self.duration = duration
        self.progress = progress
        self._reported = -1.0
        self.t: list[float] = []
        self.smoothed: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []
        self.state: list[str] = []
        self.alerts: list[Alert] = []

    def prediction(self, p: Prediction) -> None:
        self.t.append(p.t)
        self.smoothed.append(p.smoothed)
        self.valid.append(p.valid)
        self.state.append(p.state)
        done = min(1.0, p.t / self.duration) if self.duration > 0 else 1.0
        if self.progress is not None and done - self._reported >= 0.005:
            self._reported = done
            self.progress(done)

    def alert(self, ev: AlertEvent) -> None:
        if ev.state == "on":
            self.alerts.append(ev.alert)
            return
        for i, a in enumerate(self.alerts):  # the alert cleared: its end and final peak
            if a.cls == ev.alert.cls and a.raised == ev.alert.raised and a.end is None:
                self.alerts[i] = ev.alert


def replay_signal(rec: ReviewRecording) -> Scenario:
    """The recording's EEG channels in microvolts (float32), read a block at a time so the
    float64 copy mne makes stays small; the truth where the recording knows it."""
    n, sfreq = rec.n_samples, rec.sfreq
    data = np.empty((len(rec.eeg), n), np.float32)
    block = max(1, int(READ_BLOCK_S * sfreq))
    for a in range(0, n, block):
        b = min(n, a + block)
        data[:, a:b] = rec.raw.get_data(picks=rec.eeg, start=a, stop=b) * 1e6
    truth = np.full(n, UNKNOWN, np.int8)
    for ann in rec.truth:
        a, b = int(round(ann.onset * sfreq)), int(round((ann.onset + ann.duration) * sfreq))
        truth[a:b] = CLASSES.index(ann.description)
    if not np.isfinite(data).all():
        bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
        rec.warnings.append(f"{rec.path}: NaN or infinite samples in "
                            f"{', '.join(rec.channels[i] for i in bad[:5])}; those windows are "
                            "not classified.")
    return Scenario(data, truth, sfreq, tuple(rec.channels),
                    (Segment(0, n, rec.path.stem, None),))


def classify(rec: ReviewRecording, settings: MonitorSettings, classifier: Classifier,
             progress: Callable[[float], None] | None = None,
             cancel: threading.Event | None = None) -> ReviewRecording:
    """Fill ``rec.trend`` and ``rec.alerts`` (replacing stored ones) from the pipeline."""
    scenario = replay_signal(rec)
    sink = _Collector(rec.duration, progress)
    pipe = Pipeline(ReplaySource(scenario, speed=0, name=rec.path.stem), settings, [sink],
                    classifier=classifier, mode="lockstep")
    pipe.start()
    while not pipe.wait(0.2):
        if cancel is not None and cancel.is_set():
            pipe.stop()
    if pipe.error:
        raise DataError(f"{rec.path}: the model pass failed: {pipe.error}")
    if cancel is not None and cancel.is_set():
        return rec
    n_ch = len(rec.eeg)
    smoothed = np.asarray(sink.smoothed, np.float64).reshape(-1, n_ch, len(CLASSES))
    valid = np.asarray(sink.valid, bool).reshape(-1, n_ch)
    seizure = np.where(valid, smoothed[..., 0], -np.inf).max(axis=1, initial=-np.inf)
    tumor = np.where(valid, smoothed[..., 1], -np.inf).max(axis=1, initial=-np.inf)
    rec.trend = Trend(time=np.asarray(sink.t), seizure=np.where(np.isfinite(seizure), seizure,
                                                                np.nan),
                      tumor=np.where(np.isfinite(tumor), tumor, np.nan),
                      state=np.asarray(sink.state, dtype="<U7"), classified=valid.sum(axis=1),
                      channels=n_ch, valid=valid)
    rec.alerts = [ReviewAlert(a.cls, a.onset, a.raised, a.end, a.peak, a.channels,
                              int(round(a.raised * rec.sfreq))) for a in sink.alerts]
    rec.meta.update(recording_meta(settings, classifier))
    rec.meta["predictions"] = f"model pass, a window every {settings.hop_s:g} s"
    return rec


def open_classified(path, settings: MonitorSettings, classify_again: bool = False,
                    progress: Callable[[float], None] | None = None) -> ReviewRecording:
    """A recording opened for review, classified where it stores no predictions (or when
    asked)."""
    rec = open_recording(path)
    if rec.has_predictions and not classify_again:
        return rec
    return classify(rec, settings, load_classifier(settings.checkpoint), progress)
