"""AlertPolicy (monitor/alerts.py), driven window by window in stream time."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import probs

from monitor.alerts import AlertPolicy
from monitor.settings import AlertSettings, ClassRule

HOP = 0.1
RULES = AlertSettings(seizure=ClassRule(on=0.5, off=0.35, min_on_s=1.0, min_off_s=3.0),
                      tumor=ClassRule(on=0.6, off=0.45, min_on_s=5.0, min_off_s=5.0))


def drive(policy: AlertPolicy, t0: float, t1: float, p: np.ndarray) -> list[tuple[float, object]]:
    """Windows every HOP s over [t0, t1) with the same probabilities; the events with times."""
    out = []
    for k in range(round((t1 - t0) / HOP)):
        t = round(t0 + k * HOP, 6)
        out += [(t, ev) for ev in policy.update(t, p)]
    return out


def test_no_alert_before_the_minimum_duration_and_onset_is_the_first_time_above() -> None:
    policy = AlertPolicy(RULES)
    assert drive(policy, 0.0, 5.0, probs(0.2)) == []
    # Above for 0.6 s, then a dip: the pending onset is forgotten.
    assert drive(policy, 5.0, 5.6, probs(0.8)) == []
    assert drive(policy, 5.6, 5.7, probs(0.49)) == []
    events = drive(policy, 5.7, 8.0, probs(0.8))
    assert len(events) == 1
    t, ev = events[0]
    assert ev.state == "on" and ev.alert.cls == "seizure" and ev.alert.severity == "critical"
    assert ev.alert.onset == pytest.approx(5.7)
    assert t == ev.alert.raised == pytest.approx(6.7)
    assert ev.alert.channels == ("EEG",) and ev.alert.end is None
    assert set(policy.active) == {"seizure"}


def test_hysteresis_keeps_the_alert_between_off_and_on_and_clears_after_min_off() -> None:
    policy = AlertPolicy(RULES)
    [(_, on)] = drive(policy, 0.0, 1.1, probs(0.7))
    drive(policy, 1.1, 2.0, probs(0.95))  # the peak
    assert drive(policy, 2.0, 12.0, probs(0.4)) == []  # below on, above off: still on
    assert "seizure" in policy.active
    assert drive(policy, 12.0, 14.0, probs(0.3)) == []  # below off, but not for 3 s yet
    assert drive(policy, 14.0, 14.1, probs(0.36)) == []  # back above off: the clock restarts
    events = drive(policy, 14.1, 20.0, probs(0.3))
    [(t, off)] = events
    assert off.state == "off" and t == pytest.approx(17.1) and off.alert.end == pytest.approx(17.1)
    assert off.alert.onset == on.alert.onset == 0.0
    assert off.alert.peak == pytest.approx(0.95)
    assert policy.active == {}
    # A new episode needs the full minimum duration again.
    assert drive(policy, 20.0, 20.9, probs(0.9)) == []
    [(t, again)] = drive(policy, 20.9, 22.0, probs(0.9))
    assert again.alert.onset == pytest.approx(20.0) and t == pytest.approx(21.0)


def test_k_of_n_channels_must_agree() -> None:
    names = ("Fp1", "Fp2", "T3")
    policy = AlertPolicy(AlertSettings(seizure=RULES.seizure, tumor=RULES.tumor, channels_k=2),
                         names)
    assert drive(policy, 0.0, 5.0, probs([0.9, 0.1, 0.2])) == []  # one channel is not enough
    [(t, on)] = drive(policy, 5.0, 7.0, probs([0.9, 0.1, 0.8]))
    assert t == pytest.approx(6.0) and on.alert.channels == ("Fp1", "T3")
    # Two channels at or above off keep it; one is not enough to hold it.
    assert drive(policy, 7.0, 12.0, probs([0.4, 0.1, 0.36])) == []
    [(t, off)] = drive(policy, 12.0, 16.0, probs([0.9, 0.1, 0.1]))
    assert off.state == "off" and t == pytest.approx(15.0)
    # k larger than the number of channels means all of them.
    single = AlertPolicy(AlertSettings(seizure=RULES.seizure, tumor=RULES.tumor, channels_k=3),
                         ("EEG",))
    assert [ev.state for _, ev in drive(single, 0.0, 2.0, probs(0.9))] == ["on"]


def test_tumor_has_its_own_rule_and_configure_applies_new_thresholds() -> None:
    policy = AlertPolicy(RULES)
    p = probs(0.05, tumor=0.7)
    assert drive(policy, 0.0, 4.9, p) == []
    [(t, ev)] = drive(policy, 4.9, 6.0, p)
    assert ev.alert.cls == "tumor" and ev.alert.severity == "warning" and t == pytest.approx(5.0)
    policy.configure(AlertSettings(seizure=ClassRule(0.04, 0.01, 0.0, 0.0), tumor=RULES.tumor))
    [(t, ev)] = drive(policy, 6.0, 6.1, p)
    assert ev.alert.cls == "seizure" and t == pytest.approx(6.0)
    assert set(policy.active) == {"seizure", "tumor"}


def test_reset_forgets_a_pending_onset_but_keeps_a_raised_alert() -> None:
    policy = AlertPolicy(RULES)
    drive(policy, 0.0, 0.8, probs(0.9))
    policy.reset()  # a gap in the stream
    assert drive(policy, 0.8, 1.7, probs(0.9)) == []
    [(t, ev)] = drive(policy, 1.7, 2.0, probs(0.9))
    assert ev.alert.onset == pytest.approx(0.8) and t == pytest.approx(1.8)
    policy.reset()
    assert "seizure" in policy.active
