"""The synchronous stages around the ring buffer: the buffer itself, signal-quality checks and
the inference worker, driven directly (and the buffer from two real threads at once)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from model.checkpoint import Classifier
from model.data import BONN_RATE, CLASSES, read_kaggle_csv
from model.network import SeizureNet
from model.windows import sliding_windows
from monitor.buffer import RingBuffer
from monitor.quality import MAX_ABS, check_windows
from monitor.worker import InferenceWorker

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"
WINDOW = 120


def counter(start: int, n: int, channels: int = 1) -> np.ndarray:
    """(channels, n): every channel counts samples, channel k offset by k * 1e6."""
    return np.arange(start, start + n)[None, :] + 1e6 * np.arange(channels)[:, None]


@pytest.fixture(scope="module")
def recording() -> np.ndarray:
    """One real seizure recording (Bonn set S), dataset units."""
    return next(r for r in read_kaggle_csv(SUBSET) if r.bonn_set == "S").data[0]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """A real (untrained, seeded) network: the worker's bookkeeping does not need accuracy."""
    torch.set_num_threads(1)  # as the monitor runs it; two threads crawl on a busy 2-core box
    torch.manual_seed(0)
    net = SeizureNet()
    net.set_scaler(0.0, 100.0, 4.0, 1.0)
    return Classifier(net.eval(), CLASSES, WINDOW, BONN_RATE, {})


# --- RingBuffer -------------------------------------------------------------------------------


def test_wrap_around_keeps_the_newest_samples_with_their_metadata() -> None:
    buf = RingBuffer(2, 10)
    assert (buf.written, buf.overwritten) == (0, 0)
    buf.write(counter(0, 7, 2), np.arange(7) / 10.0, np.zeros(7, np.int8), segment=0)
    assert (buf.written, buf.overwritten) == (7, 0)
    buf.write(counter(7, 7, 2), np.arange(7, 14) / 10.0, None, segment=3)
    assert (buf.written, buf.overwritten) == (14, 4)
    win = buf.window(14, 10)
    np.testing.assert_array_equal(win.data, counter(4, 10, 2).astype(np.float32))
    np.testing.assert_array_equal(win.timestamps, np.arange(4, 14) / 10.0)
    np.testing.assert_array_equal(win.truth, [0, 0, 0] + [-1] * 7)
    np.testing.assert_array_equal(win.segment, [0, 0, 0] + [3] * 7)
    assert win.end == 14 and win.data.dtype == np.float32
    np.testing.assert_array_equal(buf.window(9, 3).data[0], [6, 7, 8])
    np.testing.assert_array_equal(buf.latest(4).data[0], [10, 11, 12, 13])


def test_window_is_none_when_overwritten_or_not_yet_written() -> None:
    buf = RingBuffer(1, 10)
    assert buf.window(1, 1) is None
    buf.write(counter(0, 14), np.zeros(14))  # more than the capacity in one write
    assert (buf.written, buf.overwritten) == (14, 4)
    assert buf.window(14, 11) is None  # reaches back before the oldest kept sample
    assert buf.window(5, 2) is None  # sample 3 is gone
    assert buf.window(15, 1) is None  # not written yet
    assert buf.window(14, 0) is None
    np.testing.assert_array_equal(buf.window(6, 2).data[0], [4, 5])
    np.testing.assert_array_equal(buf.window(14, 10).data[0], np.arange(4, 14))
    # A write longer than the capacity counts every sample and keeps the newest.
    buf.write(counter(14, 25), np.zeros(25))
    assert (buf.written, buf.overwritten) == (39, 29)
    np.testing.assert_array_equal(buf.latest(100).data[0], np.arange(29, 39))


def test_latest_is_short_at_the_start_of_a_stream() -> None:
    buf = RingBuffer(1, 10)
    assert buf.latest(5).data.shape == (1, 0)
    buf.write(counter(0, 3), np.zeros(3))
    np.testing.assert_array_equal(buf.latest(5).data[0], [0, 1, 2])


def test_wait_returns_when_a_sample_arrives_and_times_out_otherwise() -> None:
    buf = RingBuffer(1, 10)
    start = time.monotonic()
    assert not buf.wait(0, timeout=0.05)
    assert time.monotonic() - start >= 0.04
    writer = threading.Timer(0.05, buf.write, (counter(0, 2), np.zeros(2)))
    writer.start()
    assert buf.wait(0, timeout=10.0)
    writer.join()
    assert buf.written == 2


def test_a_writer_and_a_reader_thread_at_once_never_tear_a_window() -> None:
    """Counter channels: every window read must be consecutive integers ending at its end."""
    buf = RingBuffer(3, 500)
    total, n = 200_000, 64
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 150, size=total)
    done = threading.Event()

    def write() -> None:
        pos = 0
        for size in sizes:
            size = int(min(size, total - pos))
            buf.write(counter(pos, size, 3), np.arange(pos, pos + size, dtype=np.float64))
            pos += size
            if pos == total:
                break
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads = gone = 0
    bad: list[int] = []
    while not done.is_set() or reads == 0:
        end = buf.written
        for win in (buf.window(end, n), buf.latest(n)):
            if win is None or win.data.shape[1] < n:
                gone += 1
                continue
            reads += 1
            expected = counter(win.end - n, n, 3).astype(np.float32)
            if not (np.array_equal(win.data, expected)
                    and np.array_equal(win.timestamps, expected[0])):
                bad.append(win.end)
    writer.join(10.0)
    assert not writer.is_alive()
    assert buf.written == total
    assert not bad, f"torn windows ending at {bad[:5]}"
    assert reads > 100, f"only {reads} windows were read while writing ({gone} unavailable)"


def test_buffer_needs_a_channel_and_a_sample() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RingBuffer(0, 10)
    with pytest.raises(ValueError, match="at least one"):
        RingBuffer(1, 0)


# --- quality checks ---------------------------------------------------------------------------


def test_every_window_of_the_real_recordings_passes() -> None:
    for rec in read_kaggle_csv(SUBSET):
        windows = sliding_windows(rec.data[0], WINDOW, 60)
        problems = [p for p in check_windows(windows) if p is not None]
        assert not problems, f"{rec.id}: {problems[:3]}"


def test_bad_windows_are_named(recording: np.ndarray) -> None:
    good = recording[:WINDOW].astype(np.float32)
    nan, inf = good.copy(), good.copy()
    nan[50] = np.nan
    inf[3] = -np.inf
    clipped = good.copy()
    clipped[clipped >= np.quantile(clipped, 0.85)] = clipped.max()
    assert np.abs(good).max() < MAX_ABS < np.abs(good * 1e3).max()
    rows = np.stack([good, nan, inf, np.full(WINDOW, 12.0), good * 1e-6, good * 1e3, clipped])
    problems = check_windows(rows)
    assert problems[0] is None
    assert "NaN" in problems[1] and "NaN" in problems[2]
    assert problems[3].startswith("flat") and problems[4].startswith("flat")  # volts as uV
    assert "wrong units" in problems[5]  # millivolts read as microvolts
    assert problems[6] == "clipping"


# --- InferenceWorker ----------------------------------------------------------------------------


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
