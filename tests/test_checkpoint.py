"""The checkpoint (model/checkpoint.py): saved, loaded back, and refused when broken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import per_set, quick_train

from model.checkpoint import (
    CheckpointError,
    data_fingerprint,
    load_classifier,
    save_checkpoint,
)
from model.data import BONN_RATE, CLASSES, Recording
from model.network import NetConfig, SeizureNet
from model.train import TrainConfig, TrainResult, config_dict
from model.windows import sliding_windows


@pytest.fixture(scope="module")
def trained(recordings: list[Recording]) -> tuple[TrainResult, list[Recording]]:
    train_recs = per_set(recordings, 2)
    return quick_train(train_recs, None, epochs=1), train_recs


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory,
               trained: tuple[TrainResult, list[Recording]]) -> Path:
    result, train_recs = trained
    path = tmp_path_factory.mktemp("ckpt") / "runs" / "model.pt"  # a folder to create
    save_checkpoint(path, result.net, sample_rate=BONN_RATE,
                    fingerprint=data_fingerprint(train_recs), metrics={"note": "test"},
                    training={"config": config_dict(TrainConfig())})
    return path


@pytest.fixture(scope="module")
def windows(recordings: list[Recording]) -> np.ndarray:
    """Real windows from recordings the small model did not train on."""
    held_out = per_set(recordings, 1, skip=5)
    return np.concatenate([sliding_windows(r.data[0], 120, 400) for r in held_out])


def test_checkpoint_round_trip_gives_the_same_predictions(
    checkpoint: Path, trained: tuple[TrainResult, list[Recording]], windows: np.ndarray
) -> None:
    result, train_recs = trained
    clf = load_classifier(checkpoint)
    assert clf.classes == CLASSES == ("seizure", "tumor", "normal")
    assert clf.window == 120
    assert clf.sample_rate == BONN_RATE
    assert clf.meta["data_fingerprint"] == data_fingerprint(train_recs)
    assert clf.meta["metrics"] == {"note": "test"}
    assert not clf.net.training
    torch.testing.assert_close(clf.net.scale, result.net.scale, rtol=0, atol=0)
    with torch.inference_mode():
        expected = torch.softmax(result.net.eval()(torch.from_numpy(windows)), 1).numpy()
    probs = clf.predict_proba(windows)
    np.testing.assert_allclose(probs, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_a_save_that_fails_leaves_the_previous_checkpoint_whole(
    checkpoint: Path, trained: tuple[TrainResult, list[Recording]], tmp_path: Path
) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(checkpoint.read_bytes())
    with pytest.raises(Exception, match="pickle"):  # a failure part-way through the write
        save_checkpoint(path, trained[0].net, sample_rate=BONN_RATE, fingerprint="",
                        metrics={"unpicklable": lambda: None}, training={})
    assert load_classifier(path).meta["metrics"] == {"note": "test"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_predict_proba_batches_large_inputs_like_small_ones(
    checkpoint: Path, windows: np.ndarray
) -> None:
    clf = load_classifier(checkpoint)
    whole = clf.predict_proba(windows)
    clf.batch_size = 7
    assert len(windows) > clf.batch_size and len(windows) % clf.batch_size
    np.testing.assert_allclose(clf.predict_proba(windows), whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(windows[3]), whole[3:4], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(4, 100), (4, 121), (2, 3, 120)])
def test_predict_proba_rejects_wrong_shapes(checkpoint: Path, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="120"):
        load_classifier(checkpoint).predict_proba(np.zeros(shape))


def _resave(good: Path, bad: Path, change) -> None:
    ckpt = torch.load(good, weights_only=True)
    change(ckpt)
    torch.save(ckpt, bad)


def _tamper_weight(ckpt: dict) -> None:
    ckpt["state_dict"]["head.4.bias"][0] += 0.01


def _save_window_100(bad: Path) -> None:
    net = SeizureNet(NetConfig(window=100))
    save_checkpoint(bad, net, sample_rate=BONN_RATE, fingerprint="", metrics={}, training={})


BROKEN = {
    "missing": (lambda good, bad: None, "not found"),
    "truncated": (lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
                  "not a readable checkpoint"),
    "empty": (lambda good, bad: bad.write_bytes(b""), "not a readable checkpoint"),
    "random bytes": (lambda good, bad: bad.write_bytes(np.random.default_rng(0).bytes(5000)),
                     "not a readable checkpoint"),
    "other dict": (lambda good, bad: torch.save(SeizureNet().state_dict(), bad),
                   "not a seizure-monitor checkpoint"),
    "tampered weight": (lambda good, bad: _resave(good, bad, _tamper_weight), "hash"),
    "window 100": (lambda good, bad: _save_window_100(bad), "100-sample windows"),
    "version 2": (lambda good, bad: _resave(good, bad, lambda c: c.update(version=2)), "version"),
    "other classes": (lambda good, bad: _resave(good, bad, lambda c: c.update(classes=["a", "b"])),
                      "classes"),
    "bias not a number": (lambda good, bad: _resave(
        good, bad, lambda c: c["config"].update(tumor_bias=float("nan"))), "tumor_bias"),
    "config misfit": (lambda good, bad: _resave(good, bad, lambda c: c["config"].update(hidden=8)),
                      "do not fit"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_checkpoint_raises_checkpoint_error_naming_the_file(
    checkpoint: Path, tmp_path: Path, case: str
) -> None:
    make, message = BROKEN[case]
    bad = tmp_path / "bad.pt"
    make(checkpoint, bad)
    with pytest.raises(CheckpointError, match=message) as err:
        load_classifier(bad)
    assert str(bad) in str(err.value)
