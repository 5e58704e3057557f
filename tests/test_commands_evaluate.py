"""`seizure-monitor evaluate` (monitor/commands/evaluate.py): the windows' figures, the stream
evaluation (--stream) through the real pipeline, and the fold-wise alert replay (--folds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import DATA, LEVELS, PNG, SUBSET, assert_one_line_error, cli, ok

from model.checkpoint import load_classifier, save_checkpoint
from model.data import BONN_RATE, Recording
from monitor.cli import main
from monitor.measure.stream_eval import TSV_COLUMNS


def test_evaluate_writes_json_and_confusion_plots(trained_checkpoint: Path,
                                                  tmp_path: Path) -> None:
    out = ok(cli("evaluate", "--checkpoint", trained_checkpoint, "--csv", SUBSET, "--json",
                 "eval.json", "--plots", "plots", cwd=tmp_path))
    assert "40 recordings, 8840 windows" in out
    result = json.loads((tmp_path / "eval.json").read_text())
    assert set(result) == {"classes", *LEVELS, "per_set"}
    for level in LEVELS:
        assert {"recall", "f1", "macro_f1", "accuracy", "confusion"} <= set(result[level])
    assert result["recording"]["n"] == 40
    assert set(result["per_set"]) == {"Z", "O", "N", "F", "S"}
    for level in LEVELS:
        assert (tmp_path / "plots" / f"confusion_{level}.png").read_bytes().startswith(PNG)


def test_evaluate_reads_the_original_bonn_folders(trained_checkpoint: Path,
                                                  tmp_path: Path) -> None:
    out = ok(cli("evaluate", "--checkpoint", trained_checkpoint, "--bonn", DATA / "bonn",
                 cwd=tmp_path))
    assert "5 recordings, 1105 windows" in out


def test_a_corrupt_checkpoint_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    args, named = ("evaluate", "--checkpoint", "corrupt.pt", "--csv", SUBSET), "corrupt.pt"
    (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    assert_one_line_error(cli(*args, cwd=tmp_path), str(args[0]), named)


# --- --stream: seeded sessions through the real pipeline, scored per event ---------------------


@pytest.fixture(scope="module")
def all_checkpoint(tmp_path_factory, split_checkpoint) -> Path:
    """The same weights, stored as if trained on every recording (no validation ids)."""
    clf = load_classifier(split_checkpoint[0])
    path = tmp_path_factory.mktemp("ckpt") / "all.pt"
    save_checkpoint(path, clf.net, sample_rate=BONN_RATE, fingerprint="x", metrics={},
                    training={"validation_ids": []})
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, split_checkpoint) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("stream")
    code = main(["evaluate", "--stream", "--csv", str(SUBSET), "--checkpoint",
                 str(split_checkpoint[0]), "--heldout", "--sessions", "2", "--normal-minutes",
                 "1", "--seed", "3", "--out", str(out), "--json", str(out / "r.json"),
                 "--sweep"])
    assert code == 0
    return json.loads((out / "r.json").read_text()), out


def test_stream_json_has_the_issue_keys(evaluated) -> None:
    r, _ = evaluated
    for cls in ("seizure", "tumor"):
        m = r[cls]
        for key in ("sensitivity", "detected", "events", "false_alerts_per_hour",
                    f"non_{cls}_hours"):
            assert key in m
        assert set(m["latency_s"]) >= {"median", "max"}
        assert isinstance(m["detected"], int) and isinstance(m["events"], int)
    assert r["seizure"]["events"] == 2
    assert set(r["state_recall"]) == {"seizure", "tumor", "normal"}
    assert set(r["szcore"]) >= {"sensitivity", "precision", "f1", "fp_per_24h"}
    assert r["sessions"]["seizure"] == 2 and r["sessions"]["normal"] == 1
    assert r["sweep"] and set(r["sweep"][0]) >= {"smoothing_s", "seizure_on", "min_on_s",
                                                 "sensitivity", "latency_median_s",
                                                 "latency_max_s", "false_alerts_per_hour"}


def test_heldout_sessions_use_only_validation_recordings(evaluated, split_checkpoint) -> None:
    r, _ = evaluated
    ids = set(split_checkpoint[1])
    used = {rec for s in r["sessions"]["list"] for rec in s["recordings"]}
    assert used and used <= ids


def test_tsvs_and_plot_are_written(evaluated) -> None:
    r, out = evaluated
    for s in r["sessions"]["list"]:
        for suffix in ("events", "truth"):
            lines = (out / f"{s['name']}_{suffix}.tsv").read_text().splitlines()
            assert tuple(lines[0].split("\t")) == TSV_COLUMNS
            assert len(lines) >= 2 and all(len(x.split("\t")) == len(TSV_COLUMNS)
                                           for x in lines)
        truth = (out / f"{s['name']}_truth.tsv").read_text().splitlines()[1].split("\t")
        assert truth[2] == ("sz" if s["kind"] == "seizure" else "bckg")
    assert (out / "sessions.png").read_bytes().startswith(PNG)


def test_heldout_needs_validation_ids(all_checkpoint, capsys) -> None:
    code = main(["evaluate", "--stream", "--csv", str(SUBSET), "--checkpoint",
                 str(all_checkpoint), "--heldout"])
    assert code == 2
    assert "stores no validation recordings" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--sessions", "3"], ["--seed", "0"]])
def test_stream_flags_need_stream(capsys, flags: list[str]) -> None:
    assert main(["evaluate", "--csv", str(SUBSET), *flags]) == 2
    assert "only apply with --stream" in capsys.readouterr().err


# --- --stream --folds: every recording once, with the fold model that never saw it ---------------


@pytest.fixture(scope="module")
def fold_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two fold models of one epoch on the test subset, saved with their held-out ids."""
    folder = tmp_path_factory.mktemp("folds")
    assert main(["train", "--csv", str(SUBSET), "--folds", "2", "--epochs", "1",
                 "--fixed-epochs", "--quiet", "--threads", "1", "--save-folds",
                 str(folder / "models")]) == 0
    return folder


def test_the_replay_scores_every_recording_with_the_model_that_never_saw_it(
    fold_dir: Path, recordings: list[Recording], capsys: pytest.CaptureFixture[str]
) -> None:
    out = fold_dir / "folds.json"
    assert main(["evaluate", "--stream", "--folds", str(fold_dir / "models"), "--csv",
                 str(SUBSET), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "training seed 0: 40 recordings (40 different)" in printed
    result = json.loads(out.read_text())
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
