"""The stream evaluation's sessions (monitor/measure/sessions.py): planned from the recordings,
run through the real pipeline, and decided again."""

from __future__ import annotations

import numpy as np
from helpers import class_scenario

from model.checkpoint import load_classifier
from model.data import BONN_RATE
from monitor.measure.scoring import recalls
from monitor.measure.sessions import (
    CollectingSink,
    Session,
    SessionRun,
    at_recorded_rate,
    decide,
    plan_sessions,
    run_session,
)
from monitor.measure.stream_eval import with_seizure_rule
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sources import ReplaySource


def test_sessions_use_every_recording_before_reusing_one(recordings) -> None:
    recs = at_recorded_rate(recordings)
    assert all(r.sample_rate == BONN_RATE for r in recs)
    sessions, plan = plan_sessions(recs, seizure_sessions=10, normal_minutes=3, seed=1)
    seizure = [s for s in sessions if s.kind == "seizure"]
    assert len(seizure) == 10
    for s in seizure:
        assert [g.class_name for g in s.scenario.segments][-1] == "seizure"
        assert all(g.class_name != "seizure" for g in s.scenario.segments[:-1])
    first8 = [s.scenario.segments[-1].recording_id for s in seizure[:8]]
    assert len(set(first8)) == 8  # 8 seizure recordings: all used before a repeat
    assert plan["seizure"] == {"recordings": 8, "draws": 10, "reused": 2}
    normal = [s for s in sessions if s.kind == "normal"]
    assert sum(s.scenario.duration for s in normal) >= 180
    assert all(g.class_name == "normal" for s in normal for g in s.scenario.segments)
    again, _ = plan_sessions(recs, 10, 3, seed=1)
    assert [g.recording_id for s in again for g in s.scenario.segments] == \
        [g.recording_id for s in sessions for g in s.scenario.segments]


def test_decide_reproduces_the_pipeline(recordings, split_checkpoint) -> None:
    """The sweep's re-decision is exactly what the pipeline's smoother and policy did."""
    clf = load_classifier(split_checkpoint[0])
    sessions, _ = plan_sessions(at_recorded_rate(recordings), 1, 0, seed=0)
    settings = MonitorSettings(device="cpu")
    run = run_session(sessions[0], clf, settings)
    assert len(run.t) > 1000
    again = decide(run, settings)
    np.testing.assert_array_equal(again.smoothed, run.smoothed)
    assert list(again.state) == list(run.state)
    assert again.alerts == run.alerts
    strict = decide(run, with_seizure_rule(settings, on=1.0, min_on_s=5.0))
    assert not [a for a in strict.alerts if a.cls == "seizure"]


def test_threaded_pipeline_and_the_stream_evaluation_decide_alike(recordings, classifier) -> None:
    """One decision path: a seeded session through the threaded pipeline (acquisition and
    worker threads, the replay paced against the clock) and through evaluate --stream's
    lockstep path gives the same predictions, and the same alerts at the same stream times,
    exactly."""
    [session], _ = plan_sessions(at_recorded_rate(recordings), 1, 0, seed=3)
    settings = MonitorSettings(device="cpu")
    lockstep = run_session(session, classifier, settings)
    sink = CollectingSink()
    pipe = Pipeline(ReplaySource(session.scenario, speed=25, name=session.name), settings,
                    [sink], classifier=classifier, mode="threaded", realtime=False)
    assert pipe.mode == "threaded"
    pipe.start()
    assert pipe.wait(120), "the threaded replay did not finish"
    assert pipe.error is None and len(pipe._threads) == 2
    threaded = sink.run(session)
    assert len(lockstep.t) > 1000 and pipe.stats["skipped"] == 0
    np.testing.assert_array_equal(threaded.t, lockstep.t)
    np.testing.assert_array_equal(threaded.probs, lockstep.probs)
    np.testing.assert_array_equal(threaded.smoothed, lockstep.smoothed)
    assert list(threaded.state) == list(lockstep.state)
    assert threaded.alerts == lockstep.alerts and lockstep.alerts
    assert {a.cls for a in lockstep.alerts} >= {"seizure"}


def test_a_stretch_with_no_classified_channel_counts_as_0_for_alerts_and_not_in_recall() -> None:
    """Seizure for 10 s, then 5 s of unusable signal, then 5 s of normal: the alert must end
    during the bad stretch (it counts as 0), and the bad windows are no class in the recall."""
    sc = class_scenario(["seizure", "normal"])
    t = np.arange(1, 201) * 0.1
    probs = np.zeros((200, 1, 3))
    probs[:100, 0, 0] = 1.0
    probs[100:, 0, 2] = 1.0
    valid = np.ones((200, 1), bool)
    valid[100:150] = False
    truth = np.repeat([0, 2], 100)
    run = SessionRun(Session("s", "seizure", sc), t, probs, valid, np.zeros_like(probs),
                     np.zeros(200, "<U7"), truth, [])
    decided = decide(run, MonitorSettings())
    # One alert: the bad stretch faded the seizure state, so good signal coming back raises
    # no second one (holding the old state through the stretch did).
    [alert] = decided.alerts
    assert alert.cls == "seizure" and alert.raised < 2.0
    assert 10.0 < alert.end < 15.0
    assert decided.smoothed[149, 0].max() < 0.4  # faded to near uniform by the stretch's end
    state_recall, smoothed_recall = recalls([decided])
    # Only the 50 classified normal windows count; counting the 50 unclassified ones as a
    # class would halve it.
    assert smoothed_recall["seizure"] == 1.0 and smoothed_recall["normal"] == 1.0
    assert state_recall["normal"] < 1.0  # the alert was still on early in the bad stretch
    assert decided.state[139] == "normal"  # and off before its end
