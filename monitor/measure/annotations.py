"""A recording's seizure alerts scored against its own seizure annotations, with the project's
event scoring (``monitor.measure.scoring``: the strict figures ``evaluate --stream`` prints,
and SzCORE's ``timescoring`` beside them), so a file and a replayed session are scored the
same way.

The annotations are the seizures: every annotation whose description matches the pattern the
user gives (``--seizure-label "(?i)seiz|sz"``), or, without a pattern, the ground truth a
replay recorded. Consecutive or overlapping annotations are one seizure.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from model.data import CLASSES, DataError
from monitor.alerts import Alert
from monitor.measure.scoring import class_metrics, match_alerts, szcore
from monitor.measure.sessions import Session, SessionRun
from monitor.review.labels import load_labels
from monitor.review.recording import Annotation, ReviewRecording
from monitor.review.report import MAX_SNAPSHOTS, build_report, score_text
from replay.scenario import Scenario, Segment

SEIZURE = CLASSES.index("seizure")
NORMAL = CLASSES.index("normal")


def seizure_annotations(rec: ReviewRecording, pattern: str | None) -> list[Annotation]:
    """The annotations that mark seizures (DataError naming the file when none does)."""
    if pattern is None:
        found = [a for a in rec.truth if a.description == "seizure"]
        if not rec.truth:
            raise DataError(f"{rec.path}: no ground truth in this recording; give "
                            "--seizure-label with a pattern that matches its seizure "
                            "annotations.")
        return found
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise DataError(f"--seizure-label {pattern!r}: not a regular expression ({exc}).") \
            from None
    pool = rec.annotations + rec.truth
    found = [a for a in pool if regex.search(a.description)]
    if not found:
        names = sorted({a.description for a in pool})
        shown = ", ".join(repr(n) for n in names[:10]) + (" ..." if len(names) > 10 else "")
        raise DataError(f"{rec.path}: no annotation matches --seizure-label {pattern!r}; its "
                        f"annotations: {shown or 'none'}.")
    return found


def seizure_events(annotations: list[Annotation], duration: float) -> list[tuple[float, float]]:
    """(onset, end) of each seizure, touching or overlapping annotations merged; a zero-length
    annotation (a marker) counts as one second."""
    spans = sorted((a.onset, min(duration, a.onset + (a.duration or 1.0))) for a in annotations)
    events: list[tuple[float, float]] = []
    for on, end in spans:
        if events and on <= events[-1][1]:
            events[-1] = (events[-1][0], max(end, events[-1][1]))
        else:
            events.append((on, end))
    return events


def as_session_run(rec: ReviewRecording, events: list[tuple[float, float]]) -> SessionRun:
    """The recording as one scored session of ``monitor.measure``: its duration, the
    seizures as the truth, its seizure and tumor alerts (still on at the end: ended there)."""
    sfreq, n = rec.sfreq, rec.n_samples
    truth = np.full(n, NORMAL, np.int8)
    segments, last = [], 0
    for on, end in events:
        a, b = int(round(on * sfreq)), int(round(end * sfreq))
        truth[a:b] = SEIZURE
        if a > last:
            segments.append(Segment(last, a, "", "normal"))
        segments.append(Segment(a, b, "", "seizure"))
        last = b
    if last < n:
        segments.append(Segment(last, n, "", "normal"))
    # The scoring reads the truth and the duration only: no samples are held.
    scenario = Scenario(np.zeros((0, n), np.float32), truth, sfreq, tuple(rec.channels),
                        tuple(segments))
    alerts = [Alert(a.cls, a.onset, a.raised, a.peak, a.channels,
                    rec.duration if a.end is None else a.end) for a in rec.alerts]
    empty = np.zeros(0)
    return SessionRun(Session(rec.path.name, "file", scenario), empty, empty, empty, empty,
                      empty, empty, alerts, tuple(rec.channels))


def score(runs: list[SessionRun]) -> dict:
    """The seizure figures of ``evaluate --stream`` and SzCORE's, for one file or many, with
    each seizure's latency (None: missed)."""
    per_seizure = []
    for run in runs:
        events = [(a.start / run.session.scenario.sample_rate,
                   a.stop / run.session.scenario.sample_rate)
                  for a in run.session.scenario.segments if a.class_name == "seizure"]
        lat, _ = match_alerts(events, [a for a in run.alerts if a.cls == "seizure"])
        per_seizure += [{"file": run.session.name, "onset": round(on, 3),
                         "end": round(end, 3), "latency_s": None if x is None else round(x, 3)}
                        for (on, end), x in zip(events, lat, strict=True)]
    return {"seizure": class_metrics(runs, "seizure"), "szcore": szcore(runs),
            "seizures": per_seizure}


def score_recording(rec: ReviewRecording, pattern: str | None) -> tuple[dict, SessionRun]:
    if rec.trend is None and not rec.alerts:
        raise DataError(f"{rec.path}: no predictions to score; run the model pass first.")
    events = seizure_events(seizure_annotations(rec, pattern), rec.duration)
    run = as_session_run(rec, events)
    return score([run]), run


def with_name(run: SessionRun, name: str) -> SessionRun:
    return replace(run, session=replace(run.session, name=name))


def report_recording(rec: ReviewRecording, out: Path, seizure_label: str | None = None,
                     max_snapshots: int = MAX_SNAPSHOTS, log=print) -> dict:
    """Score (against the annotations matching ``seizure_label``, or a replay's truth) and
    write the report of an opened recording; what it found."""
    from monitor.review.recording import alert_thresholds

    scoring = None
    if seizure_label is not None or rec.truth:
        scoring, _ = score_recording(rec, seizure_label)
        log(f"{rec.path}: scored against {scoring['seizure']['events']} seizure(s)")
        log(score_text(scoring))
    labels = load_labels(rec)
    build_report(rec, out, labels, scoring, alert_thresholds(rec), max_snapshots)
    return {"alerts": len(rec.alerts), "labelled": len(labels), "scoring": scoring}
