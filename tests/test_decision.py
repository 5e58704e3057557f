"""DecisionStage, driven without threads: probabilities in, smoothed values, state, alerts out."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.decision import DecisionStage
from monitor.settings import AlertSettings, ClassRule, MonitorSettings

SEIZURE = np.array([[0.9, 0.05, 0.05]], np.float32)
NORMAL = np.array([[0.0, 0.05, 0.95]], np.float32)
OK = np.array([True])


def _run(stage: DecisionStage, probs: np.ndarray, t0: float, seconds: float,
         segment: int = 0, valid: np.ndarray = OK) -> list:
    out = []
    for t in np.arange(t0, t0 + seconds, 0.1):
        out.append(stage.step(float(t), probs, valid, segment))
    return out


def test_a_sustained_seizure_raises_one_alert_after_its_minimum_time_and_clears() -> None:
    stage = DecisionStage(MonitorSettings(smoothing_s=0.0))
    decisions = _run(stage, SEIZURE, 0.0, 3.0)
    raised = [(i, ev) for i, d in enumerate(decisions) for ev in d.events]
    [(i, ev)] = raised
    assert ev.state == "on" and ev.alert.cls == "seizure"
    assert ev.alert.onset == 0.0 and ev.alert.raised == pytest.approx(0.5)  # min_on_s 0.5
    assert decisions[i].state == "seizure" and decisions[i - 1].state == "normal"
    after = _run(stage, NORMAL, 3.0, 4.0)
    offs = [ev for d in after for ev in d.events]
    assert [ev.state for ev in offs] == ["off"] and after[-1].state == "normal"


def test_a_gap_in_the_stream_forgets_a_pending_onset() -> None:
    stage = DecisionStage(MonitorSettings(smoothing_s=0.0))
    _run(stage, SEIZURE, 0.0, 0.3)  # above threshold for 0.3 s: pending, not raised
    d = _run(stage, SEIZURE, 0.3, 0.3, segment=1)  # a new segment: the onset starts again
    assert not [ev for x in d for ev in x.events]
    [ev] = [ev for x in _run(stage, SEIZURE, 0.6, 0.3, segment=1) for ev in x.events]
    assert ev.alert.onset == pytest.approx(0.3)


def test_an_unclassified_channel_is_uniform_to_the_smoother_and_silent_to_the_policy() -> None:
    stage = DecisionStage(MonitorSettings(smoothing_s=1.0), ("A", "B"))
    probs = np.array([[1.0, 0.0, 0.0], [np.nan, np.nan, np.nan]], np.float32)
    decisions = _run(stage, probs, 0.0, 3.0, valid=np.array([False, False]))
    assert all(not d.events for d in decisions)
    np.testing.assert_allclose(decisions[-1].smoothed, 1 / 3, atol=1e-6)
    decisions = _run(stage, probs, 3.0, 3.0, valid=np.array([True, False]))
    [ev] = [ev for d in decisions for ev in d.events]
    assert ev.alert.channels == ("A",)


def test_configure_takes_effect_from_the_next_step() -> None:
    stage = DecisionStage(MonitorSettings(smoothing_s=0.0))
    strict = AlertSettings(seizure=ClassRule(0.95, 0.5, 0.5, 3.0))
    stage.configure(strict, smoothing_s=2.0)
    assert stage.smoother.seconds == 2.0
    assert not [ev for d in _run(stage, SEIZURE, 0.0, 5.0) for ev in d.events]
