"""LSLReplay (replay/lsl.py): a real LSL loopback of a replayed scenario."""

from __future__ import annotations

import threading
import time

import numpy as np
import pylsl
import pytest
from helpers import counter_scenario, unique, wait_until

from replay.lsl import MANUFACTURER, LSLReplay


def open_inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_byprop("source_id", source_id, 1, 10.0)
    assert found, f"no LSL stream with source_id {source_id!r} was found"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(10.0)
    return inlet


def pull_until(inlet: pylsl.StreamInlet, n: int, timeout: float = 20.0):
    values, stamps = [], []
    deadline = time.monotonic() + timeout
    while len(stamps) < n and time.monotonic() < deadline:
        chunk, ts = inlet.pull_chunk(timeout=0.2)
        values += chunk
        stamps += ts
    return np.asarray(values), np.asarray(stamps)


def run_in_thread(replay: LSLReplay, duration: float | None = None) -> threading.Thread:
    thread = threading.Thread(target=replay.run, args=(duration,), daemon=True)
    thread.start()
    return thread


def test_lsl_replay_delivers_every_sample_stamp_label_and_marker() -> None:
    sc = counter_scenario(n=2000, rate=250.0, borders=(0, 700, 1500))
    sid = unique("test")
    with LSLReplay(sc, name="ReplayTest", speed=0, source_id=sid) as replay:
        eeg, markers = open_inlet(sid), open_inlet(f"{sid}-truth")
        thread = run_in_thread(replay)
        try:
            data, stamps = pull_until(eeg, sc.n_samples)
            texts, marker_stamps = pull_until(markers, len(sc.segments))
            info = eeg.info()
        finally:
            thread.join(10.0)
            eeg.close_stream()
            markers.close_stream()
    assert not thread.is_alive()
    np.testing.assert_array_equal(data, sc.data.T)
    t0 = replay.player.t0
    np.testing.assert_allclose(stamps, t0 + np.arange(sc.n_samples) / 250.0, rtol=0, atol=1e-9)
    assert (info.name(), info.type(), info.nominal_srate()) == ("ReplayTest", "EEG", 250.0)
    assert info.channel_format() == pylsl.cf_float32
    ch = info.desc().child("channels").child("channel")
    labels, units = [], []
    while not ch.empty():
        labels.append(ch.child_value("label"))
        units.append(ch.child_value("unit"))
        assert ch.child_value("type") == "EEG"
        ch = ch.next_sibling()
    assert labels == ["Fz", "Cz"] and units == ["microvolts", "microvolts"]
    manufacturer = info.desc().child("acquisition").child_value("manufacturer")
    assert manufacturer == MANUFACTURER
    assert texts.ravel().tolist() == [
        "truth=seizure;recording=rec0", "truth=tumor;recording=rec1",
        "truth=unknown;recording=rec2",
    ]
    np.testing.assert_allclose(marker_stamps, t0 + np.array([0, 700, 1500]) / 250.0, atol=1e-9)


def test_lsl_replay_paces_by_the_clock_and_loops() -> None:
    sc = counter_scenario(n=200, rate=1000.0)
    sid = unique("test")
    with LSLReplay(sc, speed=1.0, loop=True, source_id=sid) as replay:
        eeg, markers = open_inlet(sid), open_inlet(f"{sid}-truth")
        try:
            replay.run(duration=0.7)
            ended = pylsl.local_clock()
            sent = replay.sent
            # Pull while the outlets live: liblsl drops what an inlet holds once they go.
            data, stamps = pull_until(eeg, sent)
            texts, _ = pull_until(markers, 3 * (sent // 200) + 1, timeout=2.0)
        finally:
            eeg.close_stream()
            markers.close_stream()
    # Paced by the clock: no more than was due when it ended, and about what was due.
    assert 0.5 * 700 <= sent <= (ended - replay.player.t0) * 1000.0
    assert len(data) == sent
    np.testing.assert_array_equal(data[:, 0], np.arange(sent) % 200)
    np.testing.assert_allclose(np.diff(stamps), 1e-3, atol=1e-9)
    laps = [t for t in texts.ravel() if t == "truth=seizure;recording=rec0"]
    assert len(laps) == -(-sent // 200)


def test_lsl_replay_stops_from_another_thread() -> None:
    replay = LSLReplay(counter_scenario(n=200, rate=1000.0), loop=True,
                       source_id=unique("test"))
    replay.start()
    thread = run_in_thread(replay)
    wait_until(lambda: replay.sent >= 100, 10.0, "100 samples sent")
    replay.stop()
    assert not thread.is_alive()
    replay.stop()  # idempotent
    with pytest.raises(RuntimeError, match="create a new LSLReplay"):
        replay.start()


def test_lsl_replay_run_stops_after_duration() -> None:
    sc = counter_scenario(n=200, rate=1000.0)
    with LSLReplay(sc, speed=1.0, loop=True, source_id=unique("test")) as replay:
        t = time.monotonic()
        replay.run(duration=0.3)
        assert 0.3 <= time.monotonic() - t < 5.0
        assert replay.sent >= 150
