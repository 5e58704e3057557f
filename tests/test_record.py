"""Recording (`monitor.record`): the stream written as a BrainVision file set while the real
pipeline runs, read back with mne (the reference reader): the samples exactly as sent, the
markers at their samples, the gap of a lost LSL stream as a new segment, a crash leaving a
readable file, a full disk ending the recording and not the monitor.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import mne
import numpy as np
import pylsl
import pytest
from helpers import Collector, counter_outlet, push, wait_until

from model.checkpoint import Classifier
from model.data import BONN_RATE, CLASSES, Recording
from monitor.measure.sessions import at_recorded_rate
from monitor.pipeline import Pipeline
from monitor.record import (
    PREDICTION_COLUMNS,
    BrainVisionWriter,
    Recorder,
    RecordingPaths,
    check_record_path,
)
from monitor.settings import MonitorSettings
from monitor.sinks import StatusEvent
from monitor.sources import LSLSource, ReplaySource, SourceChunk, SourceInfo
from replay.scenario import Scenario, build_scenario


def three_channel_session(recordings: list[Recording]) -> Scenario:
    """normal, seizure, normal on the first channel (its truth is the session's), two other
    real recordings beside it, at the Bonn rate (no resampling: stream times are exact)."""
    recs = at_recorded_rate(recordings)
    first = build_scenario(recs, ["normal", "seizure", "normal"], seed=3)
    others = [build_scenario(recs, ["normal", "tumor", "normal"], seed=s) for s in (4, 5)]
    data = np.concatenate([first.data] + [o.data for o in others], axis=0)
    return Scenario(data, first.truth, first.sample_rate, ("Fp1", "Cz", "O2"), first.segments)


def record_replay(scenario: Scenario, path: Path, classifier: Classifier,
                  settings: MonitorSettings | None = None) -> Collector:
    """The session replayed in lockstep through the real pipeline, recorded."""
    col = Collector()
    recorder = Recorder(path, meta={"note": "test"}, block=True)
    source = ReplaySource(scenario, speed=0, name="session")
    pipe = Pipeline(source, settings or MonitorSettings(device="cpu"), [recorder, col],
                    classifier, taps=[recorder])
    pipe.start()
    assert pipe.wait(120.0) and pipe.error is None, pipe.error
    return col


@pytest.fixture(scope="module")
def session(recordings: list[Recording]) -> Scenario:
    return three_channel_session(recordings)


@pytest.fixture(scope="module")
def recorded(session: Scenario, classifier: Classifier, tmp_path_factory) -> tuple[Path,
                                                                                 Collector]:
    path = tmp_path_factory.mktemp("rec") / "session.vhdr"
    return path, record_replay(session, path, classifier)


def annotations(raw) -> list[tuple[int, str]]:
    sfreq = raw.info["sfreq"]
    return [(int(round(a["onset"] * sfreq)), a["description"]) for a in raw.annotations]


def test_recorded_replay_equals_the_samples_sent_with_every_marker_at_its_sample(
        recorded: tuple[Path, Collector], session: Scenario) -> None:
    path, col = recorded
    raw = mne.io.read_raw_brainvision(path, preload=True, verbose="error")
    assert raw.ch_names == list(session.channels)
    assert raw.info["sfreq"] == pytest.approx(BONN_RATE, rel=1e-9)
    # float32 exact: the .eeg holds the microvolts as sent, at resolution 1 µV
    assert np.array_equal(raw.get_data(units="uV").astype(np.float32), session.data)
    marks = annotations(raw)
    truth = [(pos, d) for pos, d in marks if d.startswith("Truth/")]
    assert truth == [(seg.start, f"Truth/{seg.class_name}") for seg in session.segments]
    alerts = [(pos, d) for pos, d in marks if d.startswith("Alert/")]
    assert col.alerts, "the session raised no alert to record"
    assert any(ev.alert.cls == "seizure" for ev in col.alerts)
    expected = []
    for ev in col.alerts:
        a = ev.alert
        t = a.raised if ev.state == "on" else a.end
        # stream time t is the timestamp of sample t * rate exactly (a replay at its own rate)
        expected.append((round(t * BONN_RATE), f"Alert/{a.cls} {ev.state} t={t:.3f}"))
    assert [(pos, d.split(" onset=")[0]) for pos, d in alerts] == expected
    started = [d for _, d in marks if d.startswith("Status/started")]
    assert len(started) == 1
    # the sidecar: one row per classified window, at its sample, with its smoothed values
    rows = RecordingPaths.of(path).predictions.read_text().splitlines()
    assert tuple(rows[0].split("\t")) == PREDICTION_COLUMNS
    assert len(rows) - 1 == len(col.predictions)
    for line, p in zip(rows[1:], col.predictions, strict=True):
        cells = dict(zip(PREDICTION_COLUMNS, line.split("\t"), strict=True))
        assert float(cells["t"]) == pytest.approx(p.t, abs=5e-4)
        assert int(cells["sample"]) == round(p.t * BONN_RATE)
        assert cells["state"] == p.state and cells["truth"] == p.truth
        assert float(cells["p_seizure"]) == pytest.approx(p.smoothed[p.lead, 0], abs=5e-5)


def test_header_and_markers_are_readable_before_the_recording_ends(tmp_path: Path,
                                                                   recordings) -> None:
    """The header is written with the first chunk; what was flushed is readable at once."""
    rec = at_recorded_rate(recordings)[0]
    info = SourceInfo("dev", "lsl", BONN_RATE, ("EEG",), (0,), (1.0,))
    w = BrainVisionWriter(RecordingPaths.of(tmp_path / "live.vhdr"), info,
                          datetime.now(timezone.utc), t0=100.0)
    n = int(BONN_RATE) // 2
    ts = 100.0 + np.arange(n) / BONN_RATE
    w.write(SourceChunk(rec.data[:, :n], ts))
    w.status(StatusEvent(0.25, "bad_samples", "channel EEG: flat line; its windows are not "
                                              "classified"))
    raw = mne.io.read_raw_brainvision(tmp_path / "live.vhdr", preload=True, verbose="error")
    assert raw.n_times == n  # the marker made the samples before it reach the disk first
    assert np.array_equal(raw.get_data(units="uV").astype(np.float32), rec.data[:, :n])
    assert annotations(raw) == [(round(0.25 * BONN_RATE),
                                 "Status/bad_samples t=0.250: channel EEG: flat line; its "
                                 "windows are not classified")]
    w.close()


def test_a_lost_and_recovered_lsl_stream_is_recorded_whole_with_a_new_segment(
        classifier: Classifier, recordings: list[Recording], tmp_path: Path) -> None:
    eeg = next(r for r in recordings if r.bonn_set == "Z").data[0]
    total, half = len(eeg), len(eeg) // 2
    name, sid = f"rec-{uuid.uuid4().hex[:10]}", f"rec-sid-{uuid.uuid4().hex[:10]}"
    outlet = counter_outlet(name, sid)
    col = Collector()
    path = tmp_path / "lsl.vhdr"
    recorder = Recorder(path)
    source = LSLSource(name=name, timeout=10.0)
    pipe = Pipeline(source, MonitorSettings(device="cpu"), [recorder, col], classifier,
                    taps=[recorder])
    recorder.on_status = pipe.report
    pipe.start()
    try:
        assert pipe.ready.wait(15.0) and pipe.error is None, pipe.error
        assert outlet.wait_for_consumers(5.0)
        t0 = pylsl.local_clock() - 30.0
        push(outlet, eeg, 0, half, t0)
        wait_until(lambda: pipe.buffer is not None and pipe.buffer.written >= half - 20, 10.0,
                   "the first half")
        outlet = None  # the device goes away
        col.wait_for(lambda: col.events("stream_lost"), 10.0, "stream_lost")
        outlet = counter_outlet(name, sid)
        assert outlet.wait_for_consumers(15.0), "the inlet did not reconnect"
        push(outlet, eeg, half, total, t0 + 5.0)  # 5 s of the device's clock went by
        col.wait_for(lambda: col.events("stream_recovered"), 10.0, "stream_recovered")
        wait_until(lambda: recorder.writer is not None and recorder.writer.samples == total,
                   10.0, "every sample at the recorder")
    finally:
        pipe.stop()
    assert pipe.wait(10.0)
    raw = mne.io.read_raw_brainvision(path, preload=True, verbose="error")
    data = raw.get_data(units="uV").astype(np.float32)
    assert np.array_equal(data[0], np.arange(total, dtype=np.float32)), "a sample lost or repeated"
    assert np.array_equal(data[1], eeg.astype(np.float32))
    marks = annotations(raw)
    assert [pos for pos, d in marks if d.startswith("New Segment")] == [half]
    events = [d.split(" ")[0] for _, d in marks if d.startswith("Status/")]
    assert "Status/stream_lost" in events and "Status/stream_recovered" in events


@pytest.mark.parametrize("name, problem", [
    ("rec.edf", "ending in .vhdr"), ("exists.vhdr", "exists already"),
    ("afile/rec.vhdr", "is a file")])
def test_a_recording_path_that_cannot_work_is_refused_at_start(tmp_path: Path, name: str,
                                                               problem: str) -> None:
    (tmp_path / "exists.eeg").write_bytes(b"")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=problem) as info:
        check_record_path(tmp_path / name)
    assert str(tmp_path / name) in str(info.value)


def test_status_events_before_the_first_sample_are_kept_at_sample_zero(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "early.vhdr")
    recorder.status(StatusEvent(0.0, "started", "lsl 'dev' ..."))
    info = SourceInfo("dev", "replay", 100.0, ("A", "B"), (0, 1), (1.0, 1.0))
    chunk = SourceChunk(np.ones((2, 50), np.float32), np.arange(50) / 100.0,
                        np.full(50, CLASSES.index("normal"), np.int8))
    recorder.opened(info)
    recorder.chunk(chunk, 0)
    recorder.close()
    raw = mne.io.read_raw_brainvision(tmp_path / "early.vhdr", verbose="error")
    assert annotations(raw) == [(0, "Status/started t=0.000: lsl 'dev' ..."),
                                (0, "Truth/normal")]


def test_a_recorder_started_mid_stream_learns_the_time_origin_before_its_first_chunk(
        tmp_path: Path) -> None:
    """The dashboard's Record button: the first prediction can reach the recorder before its
    first chunk does; the stream's time origin it carries must still place the markers."""
    from types import SimpleNamespace

    from monitor.alerts import Alert, AlertEvent
    from monitor.sinks import Prediction

    rate, origin = 100.0, 1000.0  # the stream began at timestamp 1000 (t = 0)
    info = SourceInfo("dev", "lsl", rate, ("EEG",), (0,), (1.0,))
    recorder = Recorder(tmp_path / "mid.vhdr", info=info, from_start=False)
    probs = np.array([[0.1, 0.1, 0.8]])
    recorder.window(SimpleNamespace(timestamp=origin + 4.99))
    recorder.prediction(Prediction(4.99, probs, probs, np.array([True]), ("EEG",), None,
                                   "normal", 1.0, None, 0))
    ts = origin + 5.0 + np.arange(300) / rate  # recorded from t = 5 s on
    recorder.chunk(SourceChunk(np.arange(300, dtype=np.float32)[None, :], ts), 0)
    alert = Alert("seizure", 6.0, 6.5, 0.9, ("EEG",))
    recorder.alert(AlertEvent("on", alert))
    recorder.close()
    raw = mne.io.read_raw_brainvision(tmp_path / "mid.vhdr", verbose="error")
    assert annotations(raw) == [(150, "Alert/seizure on t=6.500 onset=6.000 p=0.9000 ch=EEG")]
