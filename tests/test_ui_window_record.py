"""Recording from the dashboard (offscreen, real replays through a real pipeline): started with
the window (run --record), or switched on mid-stream with the Record button, the file and its
size in the status bar, the files read back with mne."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import mne  # noqa: E402
import numpy as np  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402

from model.data import Recording  # noqa: E402
from monitor.settings import MonitorSettings  # noqa: E402
from monitor.sources import ReplaySource  # noqa: E402
from replay.scenario import build_scenario  # noqa: E402


def test_run_record_records_the_session_from_its_first_sample(
        make_window, qtbot, recordings: list[Recording], tmp_path: Path) -> None:
    path = tmp_path / "dash.vhdr"
    w = make_window(MonitorSettings(device="cpu"), events=None, record=path)
    assert w.controls.record.isChecked()
    scenario = build_scenario(recordings, ["normal", "seizure"], seed=1)
    w.start(ReplaySource(scenario, speed=20.0, name="dash"))
    qtbot.waitUntil(lambda: "● REC dash.vhdr" in w.status.labels["record"].text(),
                    timeout=15_000)
    qtbot.waitUntil(lambda: w.pipeline.done.is_set(), timeout=30_000)
    assert w.history.rowCount() >= 1, "the seizure raised no alert"
    w.recorder.close()  # the pipeline closed it already: a second close is harmless
    raw = mne.io.read_raw_brainvision(path, preload=True, verbose="error")
    assert np.array_equal(raw.get_data(units="uV").astype(np.float32), scenario.data)
    assert any(d.startswith("Alert/seizure on") for d in raw.annotations.description)


def test_the_record_button_records_from_now_on_and_stops(
        make_window, qtbot, recordings: list[Recording], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the button's recordings go to the working folder
    w = make_window(MonitorSettings(device="cpu"), events=None)
    scenario = build_scenario(recordings, ["normal", "normal", "seizure", "normal"], seed=2)
    w.start(ReplaySource(scenario, speed=10.0, name="live"))
    qtbot.waitUntil(lambda: w.timeline.last is not None and w.timeline.last.t > 5.0,
                    timeout=20_000)
    qtbot.keyClick(w, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: w.recorder is not None, timeout=5_000)
    path = w.recorder.path
    assert path.parent == tmp_path and path.name.startswith("seizure-monitor-")
    qtbot.waitUntil(lambda: w.history.rowCount() >= 1, timeout=30_000)  # the seizure alert
    qtbot.waitUntil(lambda: w.recorder.size > 0 and "MB" in w.status.labels["record"].text(),
                    timeout=5_000)
    recorder = w.recorder
    qtbot.keyClick(w, Qt.Key.Key_R)  # stop recording; the monitor goes on
    assert w.recorder is None and not w.controls.record.isChecked()
    assert w.status.labels["record"].text() == ""
    qtbot.waitUntil(lambda: recorder.writer is not None and recorder.writer.closed,
                    timeout=10_000)
    assert not w.pipeline.done.is_set() or w.pipeline.error is None
    raw = mne.io.read_raw_brainvision(path, preload=True, verbose="error")
    data = raw.get_data(units="uV").astype(np.float32)[0]
    # a stretch of the stream from the moment the button was pressed, sample for sample
    starts = [int(k) for k in np.flatnonzero(scenario.data[0] == data[0])
              if np.array_equal(scenario.data[0, k:k + len(data)], data)]
    assert starts, "the recording is not a stretch of the stream"
    start = starts[0]
    assert start / scenario.sample_rate > 5.0
    # its alert marker sits where the alert was raised (stream time, counted from the stream's
    # first sample, minus where the recording began)
    sfreq = raw.info["sfreq"]
    marks = [(round(a["onset"] * sfreq), a["description"]) for a in raw.annotations
             if a["description"].startswith("Alert/seizure on")]
    assert marks, raw.annotations
    pos, text = marks[0]
    t = float(text.split(" t=")[1].split()[0])
    assert abs(pos - (round(t * scenario.sample_rate) - start)) <= 1
