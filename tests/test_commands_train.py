"""`seizure-monitor train` (monitor/commands/train.py) run as a user runs it: in a fresh
process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import LEVELS, PNG, SUBSET, assert_one_line_error, cli, ok

from model.checkpoint import load_classifier
from model.train import TUMOR_BIAS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def trained(workdir: Path) -> tuple[Path, str]:
    """A checkpoint trained by the CLI for 2 epochs on the real subset, and its output."""
    out = ok(cli("train", "--csv", SUBSET, "--epochs", 2, "--out", "tmp/x.pt", "--quiet",
                 "--json", "train.json", "--threads", 1, cwd=workdir))
    return workdir / "tmp" / "x.pt", out


def test_train_writes_a_loadable_checkpoint_and_a_curve(workdir: Path,
                                                        trained: tuple[Path, str]) -> None:
    checkpoint, out = trained
    assert "32 training recordings, 8 validation recordings" in out
    assert f"saved {Path('tmp/x.pt')}" in out
    assert checkpoint.with_suffix(".png").read_bytes().startswith(PNG)
    clf = load_classifier(checkpoint)
    assert clf.window == 120
    training = clf.meta["training"]
    assert len(training["history"]) == 2 and len(training["validation_ids"]) == 8
    figures = json.loads((workdir / "train.json").read_text())
    assert set(figures["validation"]) == {"classes", *LEVELS, "per_set"}
    assert figures["training"]["validation_ids"] == training["validation_ids"]


def test_folds_cross_validate_by_recording(workdir: Path) -> None:
    out = ok(cli("train", "--csv", SUBSET, "--folds", 2, "--epochs", 1, "--quiet",
                 "--json", "cv.json", "--threads", 1, cwd=workdir))
    assert "fold 1/2, seed 0: 20 train / 20 validation recordings" in out
    assert "fold 2/2, seed 0: 20 train / 20 validation recordings" in out
    summary = json.loads((workdir / "cv.json").read_text())
    assert summary["runs"] == 2 and summary["best_epochs"] == [1, 1]
    assert set(summary["per_set"]) == {"Z", "O", "N", "F", "S"}
    assert not (workdir / "seizure_lstm.pt").exists(), "cross-validation saved a model"
    # The bias table pools the folds' out-of-fold windows: its unshifted row is the folds'
    # confusion matrices added up, and raising the bias never lowers tumor recall.
    rows = {row["shift"]: row for row in summary["bias_table"]}
    assert summary["tumor_bias"] == TUMOR_BIAS and set(rows) >= {-0.4, 0.0, 0.6}
    pooled = np.sum([f["window"]["confusion"] for f in summary["folds"]], axis=0)
    assert rows[0.0]["window"]["accuracy"] == pytest.approx(np.trace(pooled) / pooled.sum())
    tumor = [rows[k]["window"]["recall"]["tumor"] for k in sorted(rows)]
    assert tumor == sorted(tumor)


def test_fixed_epochs_trains_every_epoch_and_scores_the_last(workdir: Path) -> None:
    ok(cli("train", "--csv", SUBSET, "--folds", 2, "--epochs", 2, "--fixed-epochs", "--quiet",
           "--json", "fixed.json", "--threads", 1, cwd=workdir))
    summary = json.loads((workdir / "fixed.json").read_text())
    assert summary["best_epochs"] == [2, 2]
    assert all(0 <= f["window"]["macro_f1"] <= 1 for f in summary["folds"])
    # The same folds two at a time, each in a process of its own, train the same models; the
    # saved fold models carry the recordings they never saw.
    ok(cli("train", "--csv", SUBSET, "--folds", 2, "--epochs", 2, "--fixed-epochs", "--quiet",
           "--json", "jobs.json", "--threads", 1, "--jobs", 2, "--save-folds", "folds",
           cwd=workdir))
    jobs = json.loads((workdir / "jobs.json").read_text())
    assert jobs["folds"] == summary["folds"] and jobs["jobs"] == 2
    saved = sorted((workdir / "folds").glob("*.pt"))
    assert [p.name for p in saved] == ["fold-seed0-1of2.pt", "fold-seed0-2of2.pt"]
    held = [set(load_classifier(p).meta["training"]["validation_ids"]) for p in saved]
    assert len(held[0]) == len(held[1]) == 20 and not held[0] & held[1]


@pytest.mark.parametrize(
    "args, named",
    [
        pytest.param(("train", "--csv", "missing.csv"), "missing.csv", id="train missing csv"),
        pytest.param(("train", "--csv", SUBSET, "--epochs", 0), "--epochs", id="train epochs 0"),
        pytest.param(("train", "--csv", SUBSET, "--tumor-bias", "nan"), "--tumor-bias",
                     id="train tumor bias nan"),
        pytest.param(("train", "--csv", SUBSET, "--folds", 50), "at least 50 recordings of every",
                     id="train more folds than recordings"),
        pytest.param(("train", "--csv", SUBSET, "--seeds", 0), "--seeds", id="train seeds 0"),
        pytest.param(("train", "--csv", SUBSET, "--threads", 0), "--threads",
                     id="train threads 0"),
        pytest.param(("train", "--csv", SUBSET, "--jobs", 2), "--jobs",
                     id="train jobs without folds"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, args: tuple[object, ...], named: str
) -> None:
    (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    assert_one_line_error(cli(*args, cwd=tmp_path), str(args[0]), named)
