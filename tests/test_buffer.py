"""RingBuffer (monitor/buffer.py), driven directly and from two real threads at once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from monitor.buffer import RingBuffer


def counter(start: int, n: int, channels: int = 1) -> np.ndarray:
    """(channels, n): every channel counts samples, channel k offset by k * 1e6."""
    return np.arange(start, start + n)[None, :] + 1e6 * np.arange(channels)[:, None]


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
