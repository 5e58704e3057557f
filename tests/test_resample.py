"""StreamingResampler, fed in chunks, against scipy.signal.resample_poly on the whole signal."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import by_set
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from model.data import BONN_RATE, NOMINAL_RATE, Recording
from monitor.resample import StreamingResampler, rate_ratio

#: (source rate, target rate): the Kaggle rate to the Bonn rate, common amplifier rates down,
#: and a slow source up
RATE_PAIRS = [(NOMINAL_RATE, BONN_RATE), (256.0, BONN_RATE), (500.0, BONN_RATE),
              (128.0, BONN_RATE), (1000.0, 250.0)]


@pytest.fixture(scope="module")
def signal(recordings: list[Recording]) -> np.ndarray:
    """Two real recordings (seizure, normal) as two channels, dataset units."""
    return np.stack([by_set(recordings, s) for s in ("S", "Z")]).astype(np.float64)


def run_chunked(rs: StreamingResampler, x: np.ndarray, sizes: list[int], t0: float = 0.0,
                truth: np.ndarray | None = None, source_rate: float = 1.0):
    """Feed ``x`` in chunks of the given sizes (cycled); concatenate what comes out."""
    n = x.shape[1]
    ts = t0 + np.arange(n) / source_rate
    truth = np.full(n, -1, np.int8) if truth is None else truth
    outs, stamps, truths = [], [], []
    pos, k = 0, 0
    while pos < n:
        size = sizes[k % len(sizes)]
        k += 1
        out, t, tr = rs.process(x[:, pos:pos + size], ts[pos:pos + size], truth[pos:pos + size])
        assert out.dtype == np.float32 and out.shape[0] == x.shape[0]
        assert out.shape[1] == len(t) == len(tr)
        outs.append(out)
        stamps.append(t)
        truths.append(tr)
        pos += size
    return np.concatenate(outs, 1), np.concatenate(stamps), np.concatenate(truths)


def assert_matches_resample_poly(rs: StreamingResampler, x: np.ndarray, out: np.ndarray) -> None:
    expected = resample_poly(x, rs.up, rs.down, axis=1)
    # Only the tail that needs inputs not yet seen (half the filter) is still missing.
    missing = expected.shape[1] - out.shape[1]
    assert 0 <= missing <= rs.half // rs.down + 2, (missing, rs.half, rs.up, rs.down)
    scale = np.abs(x).max()
    np.testing.assert_allclose(out, expected[:, :out.shape[1]], rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize(("source", "target"), RATE_PAIRS + [
    (173.0, BONN_RATE), (1024.0, BONN_RATE), (2048.0, BONN_RATE), (8192.0, BONN_RATE)])
def test_ratio_is_small_and_within_a_hundredth_of_a_percent(source: float, target: float) -> None:
    ratio = rate_ratio(source, target)
    assert ratio.denominator <= 800
    assert float(ratio) == pytest.approx(target / source, rel=1e-4)
    rs = StreamingResampler(source, target, 1)
    assert (rs.up, rs.down) == (ratio.numerator, ratio.denominator)


@pytest.mark.parametrize(("source", "target"), RATE_PAIRS)
def test_one_chunk_and_one_sample_chunks_equal_resample_poly(
    signal: np.ndarray, source: float, target: float
) -> None:
    x = signal[:, :1500]
    whole, _, _ = run_chunked(StreamingResampler(source, target, 2), x, [x.shape[1]])
    single, _, _ = run_chunked(StreamingResampler(source, target, 2), x, [1])
    assert_matches_resample_poly(StreamingResampler(source, target, 2), x, whole)
    np.testing.assert_allclose(single, whole, rtol=0, atol=1e-3)
    assert single.shape == whole.shape


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=st.sampled_from(RATE_PAIRS), n=st.integers(1, 2500),
       sizes=st.lists(st.integers(1, 400), min_size=1, max_size=12))
def test_any_chunking_equals_resample_poly(signal: np.ndarray, pair: tuple[float, float],
                                           n: int, sizes: list[int]) -> None:
    rs = StreamingResampler(*pair, 2)
    out, _, _ = run_chunked(rs, signal[:, :n], sizes)
    assert_matches_resample_poly(rs, signal[:, :n], out)


@pytest.mark.parametrize(("source", "target"), RATE_PAIRS)
def test_timestamps_are_interpolated_and_truth_carried(source: float, target: float) -> None:
    n = 3000
    x = np.random.default_rng(1).standard_normal((1, n)) * 50
    truth = np.zeros(n, np.int8)
    truth[1000:2200] = 2
    truth[2200:] = -1
    rs = StreamingResampler(source, target, 1)
    out, ts, tr = run_chunked(rs, x, [37, 5, 250], t0=1234.5, truth=truth, source_rate=source)
    m = np.arange(out.shape[1])
    pos = m * rs.down / rs.up  # where output sample m lies, in input samples
    np.testing.assert_allclose(ts, 1234.5 + pos / source, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.diff(ts), 1 / (source * rs.up / rs.down), rtol=1e-9)
    expected = np.select([pos < 999.5, pos < 2199.5], [0, 2], -1)
    np.testing.assert_array_equal(tr, expected)
    assert set(tr.tolist()) == {0, 2, -1}


def test_reset_starts_a_new_signal(signal: np.ndarray) -> None:
    """After a gap the history is forgotten: the next output is the new signal's alone."""
    rs = StreamingResampler(NOMINAL_RATE, BONN_RATE, 2)
    run_chunked(rs, signal[:, :700], [64])
    rs.reset()
    after = signal[:, 2000:3500]
    out, ts, _ = run_chunked(rs, after, [64], t0=50.0, source_rate=NOMINAL_RATE)
    assert_matches_resample_poly(rs, after, out)
    assert ts[0] == pytest.approx(50.0)


def test_resampling_keeps_a_sine_below_both_nyquists() -> None:
    """A 10 Hz sine stays a 10 Hz sine of the same amplitude at the new rate."""
    src, dst = 256.0, BONN_RATE
    t = np.arange(int(20 * src)) / src
    x = 100 * np.sin(2 * np.pi * 10 * t)[None, :]
    rs = StreamingResampler(src, dst, 1)
    out, ts, _ = run_chunked(rs, x, [100], source_rate=src)
    core = slice(200, out.shape[1] - 200)  # away from the zero-padded start
    np.testing.assert_allclose(out[0, core], 100 * np.sin(2 * np.pi * 10 * ts[core]), atol=0.5)
