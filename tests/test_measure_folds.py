"""The fold-wise alert replay's sessions (monitor/measure/folds.py): every recording once, a
seizure last. The replay itself, through `evaluate --stream --folds`, is tested in
test_commands_evaluate.py."""

from __future__ import annotations

from monitor.measure.folds import plan_fold_sessions


def test_sessions_use_every_recording_once_a_seizure_last(recordings) -> None:
    sessions = plan_fold_sessions(recordings, 4, seed=0, prefix="f1")
    ids = [g.recording_id for s in sessions for g in s.scenario.segments]
    assert sorted(ids) == sorted(r.id for r in recordings)  # each exactly once
    seizure = [s for s in sessions if s.kind == "seizure"]
    assert len(seizure) == sum(r.class_name == "seizure" for r in recordings)
    for s in seizure:
        classes = [g.class_name for g in s.scenario.segments]
        assert classes[-1] == "seizure" and "seizure" not in classes[:-1]
    again = plan_fold_sessions(recordings, 4, seed=0, prefix="f1")
    assert [g.recording_id for s in again for g in s.scenario.segments] == ids
