"""Scoring the stream evaluation (monitor/measure/scoring.py): strict event matching, the
per-class figures and SzCORE beside them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from helpers import class_scenario

from model.data import CLASSES
from monitor.alerts import Alert
from monitor.measure.scoring import class_events, class_metrics, match_alerts, szcore
from monitor.measure.sessions import Session, SessionRun
from replay.scenario import Scenario, Segment


def _alert(raised: float, end: float | None = None, cls: str = "seizure") -> Alert:
    return Alert(cls, raised - 1.0, raised, 0.9, ("EEG",), end)


def test_match_alerts_counts_only_alerts_raised_inside_the_event() -> None:
    events = [(100.0, 123.0)]
    lat, false = match_alerts(events, [_alert(102.5, 130.0)])
    assert lat == [2.5] and false == []
    lat, false = match_alerts(events, [_alert(40.0, 45.0)])  # 60 s before onset: false
    assert lat == [None] and len(false) == 1
    # Strict: an alert raised before the seizure recording (during another, unrelated one) is
    # a false alarm, never a detection with a negative latency, even within 30 s of onset.
    lat, false = match_alerts(events, [_alert(75.0, 90.0)])
    assert lat == [None] and len(false) == 1
    lat, false = match_alerts(events, [_alert(50.0, 110.0)])  # false, and still on at onset:
    assert lat == [None] and len(false) == 1  # no alert was raised for the seizure: missed
    lat, false = match_alerts(events, [_alert(123.0, 125.0)])  # raised as it ended: after it
    assert lat == [None] and len(false) == 1
    lat, false = match_alerts([], [_alert(10.0, 12.0)])
    assert lat == [] and len(false) == 1


def test_an_alert_raised_30_s_before_a_seizure_recording_is_one_false_alarm() -> None:
    """The case that hid a false alarm: a seizure alert raised at 64.3 s, during a set-F
    recording, about 30 s before the seizure recording starts, was credited as a detection
    with latency -30 s (a latency mean of 0.001 s beside a median of 1.44 s), and not counted
    as false. Strictly it is one false seizure alarm, and latencies are never negative."""
    rate, n = 173.61, 4097
    kinds = ["normal", "tumor", "normal", "tumor", "seizure"]
    segs = tuple(Segment(k * n, (k + 1) * n, f"r{k}", c) for k, c in enumerate(kinds))
    truth = np.concatenate([np.full(n, CLASSES.index(c), np.int8) for c in kinds])
    sc = Scenario(np.zeros((1, len(truth)), np.float32), truth, rate, ("EEG",), segs)
    onset = 4 * n / rate  # 94.4 s
    assert onset - 64.3 == pytest.approx(30.1, abs=0.05)
    empty = np.zeros(0)

    def run(alerts):
        return SessionRun(Session("seizure-01", "seizure", sc), empty, np.zeros((0, 1, 3)),
                          np.zeros((0, 1), bool), np.zeros((0, 1, 3)), np.zeros(0, "<U7"),
                          np.zeros(0, int), alerts)

    ok = run([_alert(onset + 1.44, onset + 20)])
    early = run([_alert(64.3, 70.0), _alert(onset + 1.44, onset + 20)])
    m = class_metrics([ok, early], "seizure")
    assert m["detected"] == 2 and m["false_alerts"] == 1
    assert m["latency_s"]["median"] == m["latency_s"]["mean"] == pytest.approx(1.44)
    assert m["latency_s"]["max"] == pytest.approx(1.44)
    assert m["false_alerts_per_hour"] == pytest.approx(1 / (2 * onset / 3600), rel=1e-3)
    held = run([_alert(64.3, onset + 20)])  # on from 64.3 s to past the onset: missed
    m = class_metrics([held], "seizure")
    assert m["detected"] == 0 and m["false_alerts"] == 1 and m["latency_s"]["mean"] is None
    # SzCORE, labelled as such, keeps its 30 s pre-onset tolerance: it credits the early one.
    assert szcore([held])["tp"] == 1


def test_class_events_merge_neighbouring_recordings_and_szcore_scores() -> None:
    sc = class_scenario(["normal", "tumor", "tumor", "normal", "seizure"])
    assert class_events(sc, "tumor") == [(10.0, 30.0)]
    assert class_events(sc, "seizure") == [(40.0, 50.0)]
    empty = np.zeros(0)
    run = SessionRun(Session("s", "seizure", sc), empty, np.zeros((0, 1, 3)),
                     np.zeros((0, 1), bool), np.zeros((0, 1, 3)), np.zeros(0, "<U7"),
                     np.zeros(0, int), [_alert(42.0, 50.0)])
    s = szcore([run])
    assert (s["sensitivity"], s["precision"], s["fp_per_24h"]) == (1.0, 1.0, 0.0)
    m = class_metrics([run], "seizure")
    assert m["detected"] == 1 and m["latency_s"]["median"] == 2.0 and m["false_alerts"] == 0
    assert m["non_seizure_hours"] == round(40 / 3600, 4)
    wrong = replace(run, alerts=[_alert(5.0, 8.0)])
    assert szcore([wrong])["fp"] == 1 and szcore([wrong])["sensitivity"] == 0.0
    assert class_metrics([wrong], "seizure")["false_alerts"] == 1
