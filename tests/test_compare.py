"""`seizure-monitor compare` end to end on the real subset: JSON, PNGs, and folds that never
share a recording."""

from __future__ import annotations

import contextlib
import io
import json
from functools import partial
from pathlib import Path

import pytest

from model.compare import CompareConfig, _score_recordings, build_variant, fit
from model.data import read_kaggle_csv
from model.train import TrainConfig
from model.windows import random_windows
from monitor.cli import main

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory) -> tuple[dict, Path, str]:
    out = tmp_path_factory.mktemp("compare")
    argv = ["compare", "--csv", str(SUBSET), "--archs", "lstm,gru", "--scalers", "standard,none",
            "--folds", "2", "--seeds", "1", "--epochs", "2", "--windows-per-recording", "8",
            "--threads", "1", "--json", str(out / "cmp.json"), "--plots", str(out / "plots")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return json.loads((out / "cmp.json").read_text()), out / "plots", printed.getvalue()


def test_json_has_every_variant_and_the_notebook_protocol(comparison):
    data, _, _ = comparison
    assert set(data) >= {"config", "recordings", "folds", "variants", "notebook", "leak"}
    assert list(data["variants"]) == ["lstm/standard", "lstm/none", "gru/standard", "gru/none"]
    assert set(data["notebook"]) == {"notebook: row split (leaky)", "notebook: recording split"}
    for v in [*data["variants"].values(), *data["notebook"].values()]:
        assert set(v) >= {"macro_f1", "recall", "per_set_correct", "seconds", "curve", "runs"}
        assert 0.0 <= v["macro_f1"]["mean"] <= 1.0 and v["macro_f1"]["sd"] >= 0.0
        assert set(v["recall"]) == {"seizure", "tumor", "normal"}
        assert set(v["per_set_correct"]) == {"Z", "O", "N", "F", "S"}
        assert len(v["curve"]["val_macro_f1"]["mean"]) == 2  # one point per epoch
    for v in data["variants"].values():
        assert v["n_runs"] == len(v["runs"]) == 2  # 2 folds x 1 seed
    leak = data["leak"]
    # 23 rows per recording and 20 % of rows held out: nearly every held-out row has siblings
    # in training under the notebook's row split
    assert leak["row_split_test_rows_from_training_recordings"] > 0.9
    rec_split = data["notebook"]["notebook: recording split"]["runs"][0]["split"]
    assert rec_split["test_rows_from_training_recordings"] == 0


def test_folds_never_share_a_recording(comparison):
    data, _, _ = comparison
    ids = {r.id for r in read_kaggle_csv(SUBSET)}
    folds = data["folds"]
    assert len(folds) == 2
    for fold in folds:
        assert not set(fold["train"]) & set(fold["validation"])
        assert set(fold["train"]) | set(fold["validation"]) == ids
    # together the validation sides cover every recording exactly once
    validation = [i for fold in folds for i in fold["validation"]]
    assert sorted(validation) == sorted(ids)
    for v in data["variants"].values():
        for run in v["runs"]:
            assert run["split"] == {"train_recordings": 20, "validation_recordings": 20}


def test_plots_are_written(comparison):
    _, plots, _ = comparison
    for name in ("learning_curves.png", "macro_f1.png", "per_set.png"):
        assert (plots / name).stat().st_size > 5_000


def test_bad_flags_are_one_line_errors(capsys):
    assert main(["compare", "--csv", str(SUBSET), "--archs", "lstm,transformer"]) == 2
    assert "transformer" in capsys.readouterr().err
    assert main(["compare", "--csv", str(SUBSET), "--folds", "9"]) == 2
    assert "--folds 9" in capsys.readouterr().err


def test_too_few_recordings_for_the_notebook_split_is_refused_before_any_training(
        tmp_path, capsys):
    """3 recordings a set allow 2 folds, but not the stratified 20 % split run after them."""
    recs = read_kaggle_csv(SUBSET)
    keep = {r.id.split(":")[1] for s in "ZONFS" for r in [x for x in recs if x.bonn_set == s][:3]}
    lines = SUBSET.read_text().splitlines()
    rows = [line for line in lines[1:] if line.split(",")[0].split(".", 1)[1] in keep]
    small = tmp_path / "small.csv"
    small.write_text("\n".join([lines[0], *rows]) + "\n")
    assert main(["compare", "--csv", str(small), "--folds", "2", "--epochs", "1"]) == 2
    err = capsys.readouterr()
    assert "too few recordings for the notebook's 20% recording split" in err.err
    assert "fold" not in err.out  # refused before the cross-validation began


def test_table_is_printed(comparison):
    _, _, printed = comparison
    assert "[10/10]" in printed  # progress: 4 variants x 2 folds + 2 notebook runs
    for row in ("lstm/standard", "gru/none", "notebook: row split (leaky)",
                "notebook: recording split", "leak: with rows split at random"):
        assert row in printed


def test_one_seed_gives_one_result():
    """Initialisation, windows and order all follow the run's seed, whatever ran before."""
    recordings = read_kaggle_csv(SUBSET)
    train, held_out = recordings[::8], recordings[1::20]
    cfg = CompareConfig(train=TrainConfig(epochs=1, windows_per_recording=4, threads=1))

    def once(seed: int) -> list[dict]:
        return fit(partial(build_variant, "gru", "moving-average", train),
                   partial(random_windows, train, 4, 120),
                   partial(_score_recordings, held_out, 120), cfg, seed).history

    first = once(3)
    once(4)  # moves the global torch generator on
    assert once(3) == first
