"""Sinks of results: JSON lines on stdout, the event log, an LSL outlet (the dashboard is one
more sink). All sink calls come from the pipeline's worker thread, in order."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pylsl

from model.data import CLASSES
from monitor.alerts import AlertEvent


@dataclass(frozen=True)
class Prediction:
    """One classified window, as every sink sees it."""

    t: float  # stream seconds since the start of the stream
    probs: np.ndarray  # (n_eeg, n_classes), NaN rows where not classified
    smoothed: np.ndarray  # (n_eeg, n_classes)
    valid: np.ndarray  # (n_eeg,) bool
    channels: tuple[str, ...]
    truth: str | None
    state: str  # "seizure", "tumor" or "normal": the alert state after this window
    infer_ms: float
    latency_ms: float | None  # now minus the last sample's timestamp, live LSL only
    skipped_total: int

    @property
    def lead(self) -> int:
        """The channel with the highest smoothed seizure probability."""
        p = np.where(self.valid, self.smoothed[:, 0], -1.0)
        return int(np.argmax(p))


@dataclass(frozen=True)
class StatusEvent:
    t: float
    event: str  # stream_lost, stream_recovered, skipped_windows, bad_samples, error, ...
    detail: str = ""


def _probs(row: np.ndarray) -> dict[str, float | None]:
    return {c: (None if np.isnan(v) else round(float(v), 4))
            for c, v in zip(CLASSES, row, strict=True)}


def prediction_json(p: Prediction) -> dict:
    lead = p.lead
    out = {"type": "prediction", "t": round(p.t, 3), "probs": _probs(p.probs[lead]),
           "smoothed": _probs(p.smoothed[lead]), "truth": p.truth, "state": p.state}
    if len(p.channels) > 1:
        out["channel"] = p.channels[lead]
        out["per_channel"] = [[None if np.isnan(v) else round(float(v), 4) for v in row]
                              for row in p.smoothed]
    return out


def alert_json(ev: AlertEvent) -> dict:
    a = ev.alert
    return {"type": "alert", "state": ev.state, "class": a.cls,
            "t": round(a.raised if ev.state == "on" else a.end, 3),
            "onset": round(a.onset, 3), "p": round(a.peak, 4), "channels": list(a.channels)}


def status_json(ev: StatusEvent) -> dict:
    return {"type": "status", "t": round(ev.t, 3), "event": ev.event, "detail": ev.detail}


class Sink:
    """Receives the pipeline's results; override what you need."""

    def prediction(self, p: Prediction) -> None: ...

    def alert(self, ev: AlertEvent) -> None: ...

    def status(self, ev: StatusEvent) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink(Sink):
    """The headless output: one JSON object per line."""

    def __init__(self, stream: TextIO | None = None, predictions: bool = True):
        self.stream = stream or sys.stdout
        self.predictions = predictions

    def _write(self, obj: dict) -> None:
        self.stream.write(json.dumps(obj) + "\n")
        self.stream.flush()

    def prediction(self, p: Prediction) -> None:
        if self.predictions:
            self._write(prediction_json(p))

    def alert(self, ev: AlertEvent) -> None:
        self._write(alert_json(ev))

    def status(self, ev: StatusEvent) -> None:
        self._write(status_json(ev))


class EventLog(Sink):
    """Every alert and status event appended as a JSON line, flushed and fsynced per event,
    so a crash (even SIGKILL) loses nothing already raised."""

    def __init__(self, path: str | Path, header: dict | None = None):
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise ValueError(f"{self.path}: cannot open the event log ({exc.strerror}).") from None
        if header:
            self.write({"type": "session", **header})

    def write(self, obj: dict) -> None:
        if self._fd < 0:
            return
        # One os.write per line: an append is atomic, so a kill never leaves half a line. A
        # short write (a nearly full disk) is finished, or raises when nothing more fits.
        data = memoryview((json.dumps(obj) + "\n").encode())
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)

    def alert(self, ev: AlertEvent) -> None:
        self.write(alert_json(ev))

    def status(self, ev: StatusEvent) -> None:
        self.write(status_json(ev))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LSLResultSink(Sink):
    """Publishes smoothed probabilities (3 channels) and alert markers over LSL, so a recorder
    captures them next to the EEG."""

    def __init__(self, name: str, rate: float, source_id: str):
        info = pylsl.StreamInfo(f"{name}-probabilities", "Probabilities", len(CLASSES), rate,
                                pylsl.cf_float32, f"{source_id}-probabilities")
        chans = info.desc().append_child("channels")
        for c in CLASSES:
            ch = chans.append_child("channel")
            ch.append_child_value("label", c)
            ch.append_child_value("unit", "probability")
        self._probs = pylsl.StreamOutlet(info)
        minfo = pylsl.StreamInfo(f"{name}-alerts", "Markers", 1, pylsl.IRREGULAR_RATE,
                                 pylsl.cf_string, f"{source_id}-alerts")
        self._markers = pylsl.StreamOutlet(minfo)

    def prediction(self, p: Prediction) -> None:
        self._probs.push_sample(np.nan_to_num(p.smoothed[p.lead]).tolist())

    def alert(self, ev: AlertEvent) -> None:
        self._markers.push_sample([json.dumps(alert_json(ev))])

    def close(self) -> None:
        self._probs = self._markers = None
