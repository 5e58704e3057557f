"""LSLSource (monitor/sources.py) over real LSL loopback: resolution, metadata, units and
lossless pulling.

Every outlet has a unique name and source_id, so tests running at the same time on the same
machine never see each other's streams, and a sample-counter channel proves that no sample
is lost or repeated.
"""

from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest
from helpers import lsl_outlet, unique, wait_until

from monitor.sources import LSLSource, SourceChunk, SourceError

RATE = 100.0
FORMATS = {"float32": pylsl.cf_float32, "int16": pylsl.cf_int16, "int32": pylsl.cf_int32,
           "int64": pylsl.cf_int64, "double64": pylsl.cf_double64}
DTYPES = {"float32": np.float32, "int16": np.int16, "int32": np.int32, "int64": np.int64,
          "double64": np.float64}
COUNTER_EEG = [("counter", "MISC", "count"), ("EEG1", "EEG", "microvolts"),
               ("EEG2", "EEG", "uV")]


def samples(start: int, n: int) -> np.ndarray:
    """(n, 3): the counter, and two EEG channels that are functions of it."""
    k = np.arange(start, start + n)
    return np.stack([k, (k % 200) - 100, 3 * (k % 50)], axis=1)


def first_samples(source: LSLSource, timeout: float = 5.0) -> SourceChunk:
    """The first chunk the source reads that holds a sample."""
    chunks = [source.read()]

    def arrived() -> bool:
        if chunks[-1].data.shape[1] == 0:
            chunks.append(source.read())
        return chunks[-1].data.shape[1] > 0

    wait_until(arrived, timeout, "a sample")
    return chunks[-1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_sample_arrives_once_in_order(fmt: str) -> None:
    name = unique("counter")
    sid = unique("sid")
    outlet = lsl_outlet(name, sid, COUNTER_EEG, RATE, FORMATS[fmt])
    source = LSLSource(name=name, timeout=10.0, max_chunk=100)
    with source:
        info = source.info
        assert (info.name, info.source_id, info.kind) == (name, sid, "lsl")
        assert info.sample_rate == RATE
        assert info.channels == ("counter", "EEG1", "EEG2")
        assert info.eeg == (1, 2)  # the MISC counter is not classified
        assert info.scale[1:] == (1.0, 1.0)
        assert not source.warnings  # a non-EEG channel's unknown unit does not matter
        assert outlet.wait_for_consumers(5.0)
        total = int(10 * RATE)  # 10 s of data, pushed in uneven chunks while pulling
        rng = np.random.default_rng(0)
        t0 = pylsl.local_clock()
        got, stamps = [], []
        pos = 0
        while pos < total:
            n = int(min(rng.integers(1, 60), total - pos))
            outlet.push_chunk(samples(pos, n).astype(DTYPES[fmt]),
                              (t0 + np.arange(pos, pos + n) / RATE).tolist())
            pos += n
            chunk = source.read()
            got.append(chunk.data)
            stamps.append(chunk.timestamps)

        def received() -> int:
            chunk = source.read()
            got.append(chunk.data)
            stamps.append(chunk.timestamps)
            return sum(c.shape[1] for c in got)

        wait_until(lambda: received() >= total, 10.0, f"all {total} samples")
        data = np.concatenate(got, axis=1)
        ts = np.concatenate(stamps)
    assert data.dtype == np.float32 and data.shape[0] == 3
    np.testing.assert_array_equal(data[0], np.arange(total))  # none lost, none repeated
    np.testing.assert_array_equal(data, samples(0, total).T.astype(np.float32))
    source.close()  # closing twice is safe
    assert np.all(np.diff(ts) > 0)
    np.testing.assert_allclose(ts - ts[0], np.arange(total) / RATE, atol=0.02)


def test_units_give_the_scale_to_microvolts_and_only_eeg_is_classified() -> None:
    units = {"microvolts": 1.0, "uV": 1.0, "µV": 1.0, "millivolts": 1e3, "volts": 1e6, "V": 1e6,
             "-6": 1.0, "0": 1e6, "-3": 1e3}
    channels = [("counter", "MISC", "count")]
    channels += [(f"E{i}", "EEG", unit) for i, unit in enumerate(units)]
    channels += [("ECG", "ECG", "mV"), ("depth", "SEEG", "uV"), ("grid", "ecog", "uV"),
                 ("odd", "EEG", "furlongs")]
    name = unique("units")
    outlet = lsl_outlet(name, unique("sid"), channels, RATE, pylsl.cf_double64)
    with LSLSource(name=name, timeout=10.0) as source:
        info = source.info
        assert info.channels == tuple(c[0] for c in channels)
        n_units = len(units)
        assert info.eeg == (*range(1, n_units + 1), n_units + 2, n_units + 3, n_units + 4)
        assert info.scale == (1.0, *units.values(), 1e3, 1.0, 1.0, 1.0)
        assert [w for w in source.warnings if "furlongs" in w and "--scale" in w]
        assert outlet.wait_for_consumers(5.0)
        # 42 microvolts, written in each channel's own unit
        value = [7.0] + [42.0 / s for s in info.scale[1:]]
        outlet.push_sample(value)
        chunk = first_samples(source)
    assert chunk.data.shape == (len(channels), 1)
    np.testing.assert_allclose(chunk.data[1:, 0], 42.0, rtol=1e-6)
    assert chunk.data[0, 0] == 7.0


def test_scale_flag_overrides_the_units() -> None:
    name = unique("scaled")
    outlet = lsl_outlet(name, unique("sid"), COUNTER_EEG, RATE)
    with LSLSource(name=name, timeout=10.0, scale=1e6) as source:
        assert source.info.scale == (1e6, 1e6, 1e6)
        assert not source.warnings
    del outlet


def test_a_stream_without_channel_description_is_all_eeg_if_its_type_is() -> None:
    name = unique("bare")
    info = pylsl.StreamInfo(name, "EEG", 2, RATE, pylsl.cf_float32, unique("sid"))
    outlet = pylsl.StreamOutlet(info)
    with LSLSource(name=name, timeout=10.0) as source:
        assert source.info.channels == ("ch1", "ch2")
        assert source.info.eeg == (0, 1)
        assert len(source.warnings) == 2 and all("missing" in w for w in source.warnings)
    del outlet


def test_a_missing_stream_times_out_quickly_listing_what_was_found() -> None:
    present = unique("present")
    outlet = lsl_outlet(present, unique("sid"), COUNTER_EEG, RATE)
    absent = unique("absent")
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        LSLSource(name=absent, timeout=1.0).open()
    assert time.monotonic() - start < 3.0
    message = str(err.value)
    assert absent in message and "within 1 s" in message
    assert "Streams found:" in message and present in message
    del outlet


def test_two_streams_of_one_name_are_refused_unless_a_source_id_picks_one() -> None:
    name = unique("twin")
    first, second = unique("sid-a"), unique("sid-b")
    outlets = {sid: lsl_outlet(name, sid, COUNTER_EEG, RATE) for sid in (first, second)}
    with pytest.raises(SourceError) as err:
        LSLSource(name=name, timeout=5.0).open()
    message = str(err.value)
    assert "2 LSL streams match" in message and "--source-id" in message
    assert first in message and second in message
    with LSLSource(name=name, source_id=second, timeout=5.0) as source:
        assert source.info.source_id == second
        assert outlets[second].wait_for_consumers(5.0)
        assert not outlets[first].have_consumers()
        outlets[first].push_sample([1, 1, 1])
        outlets[second].push_sample([2, 2, 2])
        chunk = first_samples(source)
    np.testing.assert_array_equal(chunk.data[:, 0], [2, 2, 2])
    with LSLSource(source_id=first, timeout=5.0) as source:  # the source_id alone will do
        assert (source.info.name, source.info.source_id) == (name, first)


def test_a_query_is_needed_and_odd_streams_are_refused() -> None:
    with pytest.raises(SourceError, match="--lsl"):
        LSLSource()
    name = unique("markers")
    outlet = lsl_outlet(name, unique("sid"), [("m", "Markers", "")], pylsl.IRREGULAR_RATE)
    with pytest.raises(SourceError, match="irregular rate"):
        LSLSource(name=name, timeout=5.0).open()
    del outlet


def test_a_source_closed_during_its_resolve_opens_no_inlet() -> None:
    """Stopping the monitor while it still looks for its stream must not leave an inlet."""
    name = unique("closed-early")
    outlet = lsl_outlet(name, unique("sid"), COUNTER_EEG, RATE)
    source = LSLSource(name=name, timeout=10.0)
    source.close()  # as the pipeline's shutdown does while open() is still resolving
    with pytest.raises(SourceError, match="stopped while"):
        source.open()
    # No inlet may connect: waiting for a consumer must time out.
    assert not outlet.wait_for_consumers(0.2)
