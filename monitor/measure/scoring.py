"""Event scoring of a monitor's alerts against the truth of replayed sessions.

Strict, as a user meets the alarms: an event of a class is a run of consecutive recordings of
that class; it is detected by an alert of that class raised inside it (onset <= raised < end),
with latency raised - onset (never negative); every other alert of that class is a false
alarm. In particular an alert raised during the recording before a seizure is a false alarm,
whatever follows: the recordings of a session are unrelated, so an alert there said "seizure"
about EEG that had none. (A seizure whose only alert was raised before it, and is still on at
its onset, is missed: no alert was raised for it.)

Beside these, the SzCORE event scoring as ``timescoring`` computes it (events with 30 s before
and 60 s after as tolerance, events closer than 90 s merged, split beyond 5 min), each alert
taken from its onset (the first window above threshold) to its end, labelled as such. Its
pre-onset tolerance is for clinical annotations of one continuous recording; for concatenated
recordings it is lenient, which is why the project's own figures are the strict ones.
"""

from __future__ import annotations

import math

import numpy as np

from model.data import CLASSES
from monitor.alerts import Alert
from monitor.measure.sessions import SessionRun
from replay.scenario import Scenario

TOLERANCE_BEFORE_S = 30.0
TOLERANCE_AFTER_S = 60.0
MERGE_S = 90.0
MAX_EVENT_S = 300.0


def class_events(scenario: Scenario, cls: str) -> list[tuple[float, float]]:
    """(onset, end) in stream seconds of every run of consecutive recordings of ``cls``."""
    events: list[tuple[float, float]] = []
    rate = scenario.sample_rate
    for seg in scenario.segments:
        if seg.class_name != cls:
            continue
        if events and abs(events[-1][1] - seg.start / rate) < 1e-9:
            events[-1] = (events[-1][0], seg.stop / rate)
        else:
            events.append((seg.start / rate, seg.stop / rate))
    return events


def match_alerts(events: list[tuple[float, float]], alerts: list[Alert]
                 ) -> tuple[list[float | None], list[Alert]]:
    """Latency of each event (None: missed) and the false alerts, for one class, strictly:
    only an alert raised inside an event counts for it."""
    def inside(a: Alert, ev: tuple[float, float]) -> bool:
        return ev[0] <= a.raised < ev[1]

    latencies: list[float | None] = []
    for ev in events:
        raised = [a.raised for a in alerts if inside(a, ev)]
        latencies.append(min(raised) - ev[0] if raised else None)
    false = [a for a in alerts if not any(inside(a, ev) for ev in events)]
    return latencies, false


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x),
                                                                                   digits)


def class_metrics(runs: list[SessionRun], cls: str) -> dict:
    """Sensitivity, latency and false alerts per hour of one alerting class."""
    latencies: list[float | None] = []
    false = 0
    other_s = 0.0
    for run in runs:
        sc = run.session.scenario
        events = class_events(sc, cls)
        lat, wrong = match_alerts(events, [a for a in run.alerts if a.cls == cls])
        latencies += lat
        false += len(wrong)
        other_s += float(np.count_nonzero(sc.truth != CLASSES.index(cls))) / sc.sample_rate
    found = [x for x in latencies if x is not None]
    hours = other_s / 3600
    per_hour = false / hours if hours > 0 else None
    return {
        "sensitivity": _round(len(found) / len(latencies)) if latencies else None,
        "detected": len(found),
        "events": len(latencies),
        "latency_s": {"median": _round(float(np.median(found))) if found else None,
                      "max": _round(max(found)) if found else None,
                      "mean": _round(float(np.mean(found))) if found else None},
        "false_alerts": false,
        "false_alerts_per_hour": _round(per_hour),
        "false_alerts_per_24h": _round(None if per_hour is None else per_hour * 24),
        f"non_{cls}_hours": _round(hours, 4),
    }


def recalls(runs: list[SessionRun]) -> tuple[dict, dict]:
    """Per true class, the fraction of windows whose alert state, and whose smoothed argmax
    (mean over classified channels), is that class."""
    truth = np.concatenate([r.truth for r in runs])
    state = np.concatenate([r.state for r in runs])
    # A window with no classified channel has no smoothed argmax: it is left out of that
    # recall (the alert state still counts it).
    valid = np.concatenate([r.valid for r in runs])
    summed = np.concatenate([(r.valid[..., None] * r.smoothed).sum(axis=1) for r in runs])
    classified = valid.any(axis=1)
    top = np.asarray(CLASSES)[np.argmax(summed, axis=1)] if len(summed) else np.zeros(0, str)
    state_recall, smoothed_recall = {}, {}
    for k, c in enumerate(CLASSES):
        mask = truth == k
        state_recall[c] = _round(float(np.mean(state[mask] == c))) if mask.any() else None
        mask &= classified
        smoothed_recall[c] = _round(float(np.mean(top[mask] == c))) if mask.any() else None
    return state_recall, smoothed_recall


def szcore(runs: list[SessionRun]) -> dict:
    """Event-based scoring as in SzCORE (timescoring), summed over sessions."""
    from timescoring.annotations import Annotation
    from timescoring.scoring import EventScoring

    params = EventScoring.Parameters(toleranceStart=TOLERANCE_BEFORE_S,
                                     toleranceEnd=TOLERANCE_AFTER_S, minOverlap=0,
                                     maxEventDuration=MAX_EVENT_S,
                                     minDurationBetweenEvents=MERGE_S)
    fs = 10
    tp = fp = ref = 0
    seconds = 0.0
    for run in runs:
        n = max(1, int(round(run.duration * fs)))
        reference = Annotation(class_events(run.session.scenario, "seizure"), fs, n)
        hyp = Annotation([(a.onset, min(a.end, run.duration)) for a in run.alerts
                          if a.cls == "seizure"], fs, n)
        s = EventScoring(reference, hyp, params)
        tp, fp, ref = tp + int(s.tp), fp + int(s.fp), ref + int(s.refTrue)
        seconds += run.duration
    days = seconds / 86400
    return {
        "sensitivity": _round(tp / ref) if ref else None,
        "precision": _round(tp / (tp + fp)) if tp + fp else None,
        "f1": _round(2 * tp / (2 * tp + fp + ref - tp)) if ref + fp else None,
        "fp_per_24h": _round(fp / days) if days else None,
        "tp": tp, "fp": fp, "events": ref, "hours": _round(seconds / 3600, 4),
    }


def summarize(runs: list[SessionRun]) -> dict:
    state_recall, smoothed_recall = recalls(runs)
    return {"seizure": class_metrics(runs, "seizure"), "tumor": class_metrics(runs, "tumor"),
            "state_recall": state_recall, "smoothed_recall": smoothed_recall,
            "szcore": szcore(runs)}


def targets(summary: dict) -> dict:
    """The monitor's targets for a held-out part, strictly scored: every seizure, a median
    of at most 3 s and a maximum of at most 6 s (as published detectors run: Shoeb's 3 s
    median), no false alarm in at least an hour."""
    sz = summary["seizure"]
    lat = sz["latency_s"]
    return {
        "every_seizure_detected": sz["events"] > 0 and sz["detected"] == sz["events"],
        "median_latency_le_3s": lat["median"] is not None and lat["median"] <= 3.0,
        "max_latency_le_6s": lat["max"] is not None and lat["max"] <= 6.0,
        "no_false_seizure_alert": sz["false_alerts"] == 0,
        "non_seizure_hours_ge_1": sz["non_seizure_hours"] >= 1.0,
    }
