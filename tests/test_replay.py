"""Scenarios from real recordings, clock pacing, and a real LSL loopback of the replay."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest

from model.data import CLASSES, DataError, Recording, read_kaggle_csv
from monitor.cli import main
from replay.lsl import MANUFACTURER, LSLReplay
from replay.player import Player
from replay.scenario import Scenario, Segment, build_scenario, parse_classes

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"


@pytest.fixture(scope="module")
def recordings() -> list[Recording]:
    return read_kaggle_csv(SUBSET)


def counter_scenario(n: int = 500, rate: float = 250.0, borders=None) -> Scenario:
    """Channel 0 counts samples, so a lost or repeated sample shows; channel 1 is its negative.

    Three segments: seizure, tumor, then an unlabelled one.
    """
    borders = borders or (0, n // 4, n // 2)
    counter = np.arange(n, dtype=np.float32)
    stops = (*borders[1:], n)
    segments = tuple(
        Segment(a, b, f"rec{k}", CLASSES[k % 3] if k < 2 else None)
        for k, (a, b) in enumerate(zip(borders, stops, strict=True))
    )
    truth = np.concatenate([
        np.full(s.stop - s.start, -1 if s.class_name is None else CLASSES.index(s.class_name),
                dtype=np.int8)
        for s in segments
    ])
    return Scenario(np.stack([counter, -counter]), truth, rate, ("Fz", "Cz"), segments)


class FakeClock:
    """A clock the test sets by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.005)


# --- scenario ---------------------------------------------------------------------------------


def test_parse_classes() -> None:
    assert parse_classes("normal, Normal,tumor,seizure") == ["normal", "normal", "tumor",
                                                             "seizure"]
    with pytest.raises(DataError, match=r"'sleep'.*seizure, tumor, normal"):
        parse_classes("normal,sleep")


def test_all_recordings_in_order_with_truth_per_sample(recordings) -> None:
    sc = build_scenario(recordings)
    assert sc.n_samples == sum(r.n_samples for r in recordings)
    assert sc.data.dtype == np.float32 and sc.truth.dtype == np.int8
    assert sc.sample_rate == 178.0 and sc.channels == ("EEG",)
    assert [s.recording_id for s in sc.segments] == [r.id for r in recordings]
    assert sc.segments[0].start == 0 and sc.segments[-1].stop == sc.n_samples
    for seg, rec in zip(sc.segments, recordings, strict=True):
        np.testing.assert_array_equal(sc.data[:, seg.start:seg.stop], rec.data)
        assert (sc.truth[seg.start:seg.stop] == rec.label).all()
        assert seg.class_name == CLASSES[rec.label]
    for a, b in zip(sc.segments, sc.segments[1:], strict=False):
        assert a.stop == b.start


def test_classes_pick_without_repeats_and_follow_the_seed(recordings) -> None:
    n_seizure = sum(r.class_name == "seizure" for r in recordings)
    classes = ["normal", "tumor"] + ["seizure"] * (n_seizure + 1)
    sc = build_scenario(recordings, classes=classes, seed=3)
    assert [s.class_name for s in sc.segments] == classes
    seizure_ids = [s.recording_id for s in sc.segments[2:]]
    # Every seizure recording once before any comes back.
    assert len(set(seizure_ids[:n_seizure])) == n_seizure
    assert seizure_ids[-1] in seizure_ids[:n_seizure]
    again = build_scenario(recordings, classes=classes, seed=3)
    assert again.segments == sc.segments
    np.testing.assert_array_equal(again.data, sc.data)
    assert (sc.truth[: sc.segments[0].stop] == CLASSES.index("normal")).all()
    other = [build_scenario(recordings, classes=classes, seed=s).segments for s in range(4, 8)]
    assert any(o != sc.segments for o in other)


def test_ids_pick_in_the_given_order(recordings) -> None:
    ids = [recordings[5].id, recordings[0].id, recordings[5].id]
    sc = build_scenario(recordings, ids=ids)
    assert [s.recording_id for s in sc.segments] == ids
    np.testing.assert_array_equal(sc.data[:, : recordings[5].n_samples], recordings[5].data)


def test_unknown_class_and_id_are_named(recordings) -> None:
    with pytest.raises(DataError, match=r"'sleep'.*seizure, tumor, normal"):
        build_scenario(recordings, classes=["sleep"])
    with pytest.raises(DataError, match=r"'Q:nope'.*40 recording\(s\).*'S:"):
        build_scenario(recordings, ids=["Q:nope"])
    normals = [r for r in recordings if r.class_name == "normal"]
    with pytest.raises(DataError, match=r"no labelled 'seizure'.*present: normal"):
        build_scenario(normals, classes=["seizure"])


def test_unlabelled_recording_by_id_has_unknown_truth(recordings) -> None:
    free = Recording("free", recordings[0].data, 178.0)
    sc = build_scenario([recordings[0], free], ids=[recordings[0].id, "free"])
    assert sc.segments[1].class_name is None
    assert (sc.truth[sc.segments[1].start:] == -1).all()
    assert (sc.truth[: sc.segments[1].start] == recordings[0].label).all()
    with pytest.raises(DataError, match="no labelled 'normal'"):
        build_scenario([free], classes=["normal"])


def test_mixed_rates_or_channel_counts_are_refused(recordings) -> None:
    rec = recordings[0]
    slower = Recording("slow", rec.data, 173.61)
    with pytest.raises(DataError, match=r"'slow' is sampled at 173.61 Hz"):
        build_scenario([rec, slower])
    wide = Recording("wide", np.vstack([rec.data, rec.data]), rec.sample_rate)
    with pytest.raises(DataError, match=r"'wide' has 2 channel\(s\)"):
        build_scenario([rec, wide])


# --- player -----------------------------------------------------------------------------------


def test_pacing_is_drift_free_under_jittery_pulls() -> None:
    sc = counter_scenario(n=5000, rate=250.0)
    clock = FakeClock()
    player = Player(sc, clock=clock)
    player.start()
    player.start()  # harmless: keeps the first t0
    t0 = clock.now
    rng = np.random.default_rng(0)
    received = []
    while clock.now - t0 < 15:
        clock.now += rng.uniform(0, 0.05)
        chunk = player.pull()
        assert chunk.start == player.sent - len(chunk)
        received.append(chunk.data[0])
        assert player.sent == int(np.floor((clock.now - t0) * 250.0))
    np.testing.assert_array_equal(np.concatenate(received), np.arange(player.sent))


def test_nothing_due_gives_an_empty_chunk_and_speed_scales_time() -> None:
    clock = FakeClock()
    player = Player(counter_scenario(rate=100.0), speed=2.0, clock=clock)
    player.start()
    assert len(player.pull()) == 0
    clock.now += 1.0
    chunk = player.pull()
    assert (chunk.start, len(chunk)) == (0, 200)
    assert chunk.truth.shape == (200,)


def test_a_late_pull_catches_up_and_the_end_is_reported() -> None:
    sc = counter_scenario(n=500, rate=100.0)
    clock = FakeClock()
    player = Player(sc, clock=clock)
    player.start()
    clock.now += 60.0
    chunk = player.pull()
    np.testing.assert_array_equal(chunk.data, sc.data)
    np.testing.assert_array_equal(chunk.truth, sc.truth)
    assert player.finished and player.pull() is None


def test_speed_zero_hands_out_max_chunk_per_pull() -> None:
    sc = counter_scenario(n=500)
    player = Player(sc, speed=0, max_chunk=64, clock=lambda: 0.0)
    player.start()
    lengths = []
    while (chunk := player.pull()) is not None:
        lengths.append(len(chunk))
    assert lengths == [64] * 7 + [500 - 7 * 64]
    assert player.sent == 500 and player.finished


def test_loop_wraps_with_a_growing_stream_index_and_the_truth_follows() -> None:
    sc = counter_scenario(n=500)
    player = Player(sc, speed=0, loop=True, max_chunk=300, clock=lambda: 0.0)
    player.start()
    chunks = [player.pull() for _ in range(5)]
    assert [c.start for c in chunks] == [0, 300, 600, 900, 1200]
    index = np.arange(1500)
    np.testing.assert_array_equal(np.concatenate([c.data[0] for c in chunks]), index % 500)
    np.testing.assert_array_equal(np.concatenate([c.truth for c in chunks]), sc.truth[index % 500])
    assert not player.finished


def test_player_refuses_bad_use() -> None:
    sc = counter_scenario()
    with pytest.raises(ValueError, match="speed must be"):
        Player(sc, speed=-1)
    with pytest.raises(RuntimeError, match="call start"):
        Player(sc).pull()


# --- LSL --------------------------------------------------------------------------------------


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
    sid = f"test-{uuid.uuid4().hex}"
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
    sid = f"test-{uuid.uuid4().hex}"
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
                       source_id=f"test-{uuid.uuid4().hex}")
    replay.start()
    thread = run_in_thread(replay)
    wait_for(lambda: replay.sent >= 100)
    replay.stop()
    assert not thread.is_alive()
    replay.stop()  # idempotent
    with pytest.raises(RuntimeError, match="create a new LSLReplay"):
        replay.start()


def test_lsl_replay_run_stops_after_duration() -> None:
    sc = counter_scenario(n=200, rate=1000.0)
    with LSLReplay(sc, speed=1.0, loop=True, source_id=f"test-{uuid.uuid4().hex}") as replay:
        t = time.monotonic()
        replay.run(duration=0.3)
        assert 0.3 <= time.monotonic() - t < 5.0
        assert replay.sent >= 150


# --- command ----------------------------------------------------------------------------------


def test_replay_command_at_speed_0_waits_for_an_inlet_and_loses_nothing(capsys) -> None:
    sid = f"test-{uuid.uuid4().hex}"
    received: list[int] = []

    def consume() -> None:
        # Connect only after the command has started: at speed 0 it must wait for us.
        streams = pylsl.resolve_bypred(f"source_id='{sid}'", 1, 15.0)
        inlet = pylsl.StreamInlet(streams[0], max_buflen=60)
        inlet.open_stream(timeout=5.0)
        idle = time.monotonic()
        while time.monotonic() - idle < 2.0:
            _, stamps = inlet.pull_chunk(timeout=0.2)
            if stamps:
                received.append(len(stamps))
                idle = time.monotonic()

    consumer = threading.Thread(target=consume)
    consumer.start()
    code = main(["replay", "--csv", str(SUBSET), "--scenario", "tumor,seizure", "--seed", "1",
                 "--speed", "0", "--name", "CliTest", "--source-id", sid])
    consumer.join(30)
    out, err = capsys.readouterr()
    assert code == 0
    assert "waiting for an inlet" in err
    assert sum(received) == 2 * 23 * 178
    first, last = out.strip().splitlines()
    assert "'CliTest'" in first and sid in first and "178 Hz" in first
    assert "2 segment(s)" in first and "(tumor)" in first and "(seizure)" in first
    assert last == f"done: {2 * 23 * 178} samples sent"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--speed", "-1"], "--speed must be"),
        (["--scenario", "normal,sleep"], "unknown class 'sleep'"),
        (["--recordings", "Q:nope"], "no recording with id 'Q:nope'"),
        (["--duration", "0"], "--duration must be"),
    ],
)
def test_replay_command_errors_are_one_line(capsys, flags, message) -> None:
    assert main(["replay", "--csv", str(SUBSET), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seizure-monitor replay: error: ")
    assert message in err[0]
