"""RunningScore (monitor/ui/score.py): the dashboard's running score of a labelled replay."""

from __future__ import annotations

import pytest

from model.data import CLASSES
from monitor.alerts import Alert, AlertEvent
from monitor.ui.score import RunningScore


def test_running_score_counts_latency_misses_and_false_alarms() -> None:
    s, seizure, normal = RunningScore(), CLASSES.index("seizure"), CLASSES.index("normal")
    alert = Alert("seizure", 0.0, 0.0, 0.9, ("EEG",))
    s.update(0.0, normal, normal)
    s.alert(AlertEvent("on", alert))  # raised during normal EEG: a false alarm
    s.alert(AlertEvent("off", alert))
    s.update(10.0, seizure, normal)  # a seizure begins
    detected = Alert("seizure", 10.5, 11.5, 0.9, ("EEG",))
    s.alert(AlertEvent("on", detected))
    s.update(11.6, seizure, seizure)
    s.update(20.0, normal, normal)
    s.alert(AlertEvent("off", detected))
    s.update(30.0, seizure, normal)  # a second seizure, never alerted
    s.update(40.0, normal, normal)
    assert s.false_alarms == 1
    assert [(x.onset, x.latency, x.ended) for x in s.seizures] == [(10.0, 1.5, True),
                                                                   (30.0, None, True)]
    assert s.accuracy()["seizure"] == pytest.approx(1 / 3)
    assert "#1 detected in 1.5 s" in s.text() and "#2 missed" in s.text()
