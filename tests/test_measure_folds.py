"""The fold-wise alert replay: every recording once, with the fold model that never saw it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.data import read_kaggle_csv
from monitor.cli import main
from monitor.measure.folds import plan_fold_sessions

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"


@pytest.fixture(scope="module")
def fold_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two fold models of one epoch on the test subset, saved with their held-out ids."""
    folder = tmp_path_factory.mktemp("folds")
    assert main(["train", "--csv", str(SUBSET), "--folds", "2", "--epochs", "1",
                 "--fixed-epochs", "--quiet", "--threads", "1", "--save-folds",
                 str(folder / "models")]) == 0
    return folder


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


def test_the_replay_scores_every_recording_with_the_model_that_never_saw_it(
    fold_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = fold_dir / "folds.json"
    assert main(["evaluate", "--stream", "--folds", str(fold_dir / "models"), "--csv",
                 str(SUBSET), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "training seed 0: 40 recordings (40 different)" in printed
    result = json.loads(out.read_text())
    recordings = read_kaggle_csv(SUBSET)
    held = {}
    for fold in result["folds"]:
        ids = [i for s in fold["sessions"] for i in s["recordings"]]
        assert len(ids) == len(set(ids)) == fold["recordings"] == 20
        held[fold["checkpoint"]] = set(ids)
        for s in fold["sessions"]:
            assert all(a["raised"] >= a["onset"] for a in s["alerts"])
    a, b = held.values()
    assert not a & b and a | b == {r.id for r in recordings}
    seed0 = result["per_seed"]["0"]
    sz = seed0["seizure"]
    assert sz["events"] == sum(r.class_name == "seizure" for r in recordings) == 8
    lat = [x for x in (sz["latency_s"]["median"], sz["latency_s"]["max"]) if x is not None]
    assert all(x >= 0 for x in lat)
    # Strict: every false alarm is named by a recording that is not a seizure recording.
    false = seed0["false_seizure_recordings"]
    assert len(false) == sz["false_alerts"]
    assert all(not i.startswith("S:") for i in false)


def test_folds_refuses_what_it_has_no_use_for(fold_dir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--stream", "--folds", str(fold_dir / "models"), "--csv",
                 str(SUBSET), "--sessions", "3"]) == 2
    assert "--sessions: --folds replays every recording once" in capsys.readouterr().err
    assert main(["evaluate", "--stream", "--folds", str(fold_dir), "--csv", str(SUBSET)]) == 2
    assert "no fold checkpoints" in capsys.readouterr().err
