"""InferenceWorker (monitor/worker.py), stepped directly over a ring buffer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import WINDOW, by_set

from model.checkpoint import Classifier
from model.data import BONN_RATE, CLASSES, Recording
from model.network import SeizureNet
from monitor.buffer import RingBuffer
from monitor.worker import InferenceWorker


@pytest.fixture(scope="module")
def recording(recordings: list[Recording]) -> np.ndarray:
    """One real seizure recording (Bonn set S), dataset units."""
    return by_set(recordings, "S")


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """A real (untrained, seeded) network: the worker's bookkeeping does not need accuracy."""
    torch.set_num_threads(1)  # as the monitor runs it; two threads crawl on a busy 2-core box
    torch.manual_seed(0)
    net = SeizureNet()
    net.set_scaler(0.0, 100.0, 4.0, 1.0)
    return Classifier(net.eval(), CLASSES, WINDOW, BONN_RATE, {})


def feed(buf: RingBuffer, signal: np.ndarray, start: int, n: int, segment: int = 0) -> None:
    """Write samples [start, start + n) of ``signal`` on channel 1, the counter on channel 0."""
    data = np.stack([np.arange(start, start + n), signal[start:start + n]])
    buf.write(data, np.arange(start, start + n) / BONN_RATE,
              np.full(n, CLASSES.index("seizure"), np.int8), segment)


def test_worker_skips_to_the_newest_window_and_counts_the_skipped(
    classifier: Classifier, recording: np.ndarray
) -> None:
    buf = RingBuffer(2, 2000)
    worker = InferenceWorker(classifier, buf, hop=17, eeg=(1,))
    feed(buf, recording, 0, 119)
    assert worker.step() is None  # not a whole window yet
    feed(buf, recording, 119, 1)
    first = worker.step()
    assert (first.end, first.skipped) == (120, 0)
    assert worker.step() is None
    feed(buf, recording, 120, 5 * 17 + 3)  # five more hops have arrived (and a bit)
    newest = worker.step()
    assert (newest.end, newest.skipped) == (120 + 5 * 17, 4)
    assert worker.skipped_total == 4
    assert worker.step() is None
    # The result is the classification of exactly that window.
    expected = classifier.predict_proba(recording[newest.end - WINDOW:newest.end])
    np.testing.assert_allclose(newest.probs, expected, rtol=1e-5, atol=1e-6)
    assert newest.valid.tolist() == [True] and newest.problems == (None,)
    assert newest.truth == 0 and newest.segment == 0
    assert newest.timestamp == pytest.approx((newest.end - 1) / BONN_RATE)


def test_windows_skipped_on_the_way_to_a_gap_window_are_counted_in_the_next_result(
    classifier: Classifier, recording: np.ndarray
) -> None:
    """The jump lands on a window spanning a gap, which is passed over: the windows jumped
    over on the way still reach the pipeline in the next result's count."""
    buf = RingBuffer(2, 2000)
    worker = InferenceWorker(classifier, buf, hop=17, eeg=(1,))
    results = []

    def drain() -> None:
        while (r := worker.step()) is not None:
            results.append(r)

    feed(buf, recording, 0, 120)
    drain()
    feed(buf, recording, 120, 45)
    feed(buf, recording, 165, 40, segment=1)
    drain()
    feed(buf, recording, 205, 200, segment=1)
    drain()
    assert worker.skipped_total > 0
    assert sum(r.skipped for r in results) == worker.skipped_total


def test_worker_not_realtime_classifies_every_hop(
    classifier: Classifier, recording: np.ndarray
) -> None:
    buf = RingBuffer(2, 4000)
    worker = InferenceWorker(classifier, buf, hop=17, eeg=(1,), realtime=False)
    feed(buf, recording, 0, 1000)
    ends = []
    while (r := worker.step()) is not None:
        assert r.skipped == 0
        ends.append(r.end)
    assert ends == list(range(WINDOW, 1001, 17))
    assert worker.skipped_total == 0


def test_a_window_spanning_two_segments_is_not_classified(
    classifier: Classifier, recording: np.ndarray
) -> None:
    buf = RingBuffer(2, 4000)
    worker = InferenceWorker(classifier, buf, hop=17, eeg=(1,), realtime=False)
    feed(buf, recording, 0, 300, segment=0)
    feed(buf, recording, 300, 400, segment=1)
    grid = list(range(WINDOW, 701, 17))
    results = [worker.step() for _ in grid]  # not real time: one step per hop on the grid
    assert worker.step() is None
    spanning = [e for e in grid if e - WINDOW < 300 < e]
    assert spanning and sum(r is None for r in results) == len(spanning)
    assert [r.end for r in results if r is not None] == [e for e in grid if e not in spanning]
    assert {r.segment for r in results if r is not None} == {0, 1}
    feed(buf, recording, 700, 200, segment=2)
    after = [worker.step() for _ in range(WINDOW // 17 + 1)]
    # on the same grid, the first window wholly after the new segment's start
    first = next(r for r in after if r is not None)
    assert first.end == min(e for e in range(WINDOW, 901, 17) if e - WINDOW >= 700)
    assert first.segment == 2


def test_a_window_with_nan_is_not_classified(
    classifier: Classifier, recording: np.ndarray
) -> None:
    buf = RingBuffer(3, 1000)
    worker = InferenceWorker(classifier, buf, hop=17, eeg=(1, 2))
    data = np.stack([np.arange(WINDOW), recording[:WINDOW], recording[:WINDOW]])
    data[2, 40] = np.nan
    buf.write(data, np.arange(WINDOW) / BONN_RATE)
    r = worker.step()
    assert r.valid.tolist() == [True, False]
    assert r.problems[0] is None and "NaN" in r.problems[1]
    assert np.isfinite(r.probs[0]).all() and np.isnan(r.probs[1]).all()
    assert r.probs[0].sum() == pytest.approx(1.0, abs=1e-5)
    assert r.truth == -1


def test_worker_rejects_a_hop_of_zero(classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="hop"):
        InferenceWorker(classifier, RingBuffer(1, 10), hop=0, eeg=(0,))
