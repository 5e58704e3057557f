"""Evaluation (model/evaluate.py): every level of the figures, on real recordings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import WINDOW, per_set

from model.checkpoint import Classifier
from model.data import BONN_SETS, CLASSES, Recording
from model.evaluate import predict_recordings, score, trailing_mean

#: every window of a 4094-sample recording at hop 18
WINDOWS_PER_RECORDING = (4094 - WINDOW) // 18 + 1


def test_evaluate_json_has_every_level_and_counts_every_window(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    recs = per_set(recordings, 2, skip=2)
    result = score(predict_recordings(classifier.predict_proba, recs))
    assert set(result) == {"classes", "window", "smoothed_5s", "recording", "per_set"}
    assert result["classes"] == list(CLASSES)
    n = {"window": 10 * WINDOWS_PER_RECORDING, "smoothed_5s": 10 * WINDOWS_PER_RECORDING,
         "recording": 10}
    for level, count in n.items():
        figures = result[level]
        assert {"recall", "f1", "macro_f1", "accuracy", "confusion"} <= set(figures)
        assert set(figures["recall"]) == set(figures["f1"]) == set(CLASSES)
        confusion = np.array(figures["confusion"])
        assert confusion.shape == (3, 3) and confusion.sum() == count == figures["n"]
        # 2 seizure, 2 tumor and 6 normal recordings: the rows count the true classes.
        assert confusion.sum(1).tolist() == [count // 5, count // 5, 3 * count // 5]
        assert figures["accuracy"] == pytest.approx(np.trace(confusion) / count)
    assert list(result["per_set"]) == list(BONN_SETS)
    for figures in result["per_set"].values():
        assert figures["n_recordings"] == 2
        assert sum(figures["window"]["predicted"].values()) == pytest.approx(1.0)
    assert json.loads(json.dumps(result)) == result


def test_trailing_mean_is_the_mean_of_the_last_n_rows() -> None:
    probs = np.random.default_rng(0).random((20, 3))
    expected = np.array([probs[max(0, i - 4) : i + 1].mean(0) for i in range(20)])
    np.testing.assert_allclose(trailing_mean(probs, 5), expected)
