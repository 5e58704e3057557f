"""The review window on real recordings, in a real Qt application (offscreen): the overview,
the EEG of the selected span, the list driven by keys, labels saved beside the recording and
shown again next time, the model pass with its progress, and the report written from the
window. Waits are on Qt signals and conditions with deadlines."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest
from PyQt6.QtCore import Qt
from test_record import record_replay, three_channel_session

from model.checkpoint import Classifier
from model.data import Recording
from monitor.measure.annotations import report_recording
from monitor.review.labels import labels_path
from monitor.review.recording import alert_thresholds, open_recording
from monitor.settings import MonitorSettings
from monitor.ui.review_window import ReviewWindow


@pytest.fixture(scope="module")
def own(recordings: list[Recording], classifier: Classifier, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("own") / "session.vhdr"
    record_replay(three_channel_session(recordings), path, classifier)
    return path


def window_on(qtbot, path: Path, **kw) -> ReviewWindow:
    rec = open_recording(path)
    w = ReviewWindow(rec, MonitorSettings(device="cpu", hop_s=1.0),
                     thresholds=alert_thresholds(rec), **kw)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitUntil(lambda: w.span_data is not None, timeout=10_000)
    return w


def test_keys_walk_the_alerts_and_a_label_is_saved_and_shown_next_time(qtbot, own: Path
                                                                      ) -> None:
    w = window_on(qtbot, own)
    assert not w.classifying  # the recording stores its predictions
    alerts = [obj for kind, obj in w.items if kind == "alert"]
    assert alerts and w.list.count() == len(w.items)
    qtbot.keyClick(w, Qt.Key.Key_N)
    first = w.items[0][1]
    a, b = w.region.getRegion()
    assert a <= first.raised <= b
    qtbot.waitUntil(lambda: w.span_data[0][0] <= first.raised <= w.span_data[0][-1],
                    timeout=5000)
    w.note.setText("clear onset, left temporal")
    with qtbot.waitSignal(w.labels_changed, timeout=5000):
        qtbot.keyClick(w, Qt.Key.Key_1)
    assert w.labels[first.key].label == "confirmed"
    assert "[confirmed: clear onset, left temporal]" in w.list.item(0).text()
    raw = mne.io.read_raw_brainvision(own, verbose="error")  # still a valid recording
    assert any(d.startswith("Label/confirmed") for d in raw.annotations.description)
    w.close()
    again = window_on(qtbot, own)
    qtbot.waitUntil(lambda: first.key in again.labels, timeout=5000)
    assert "[confirmed" in again.list.item(0).text()
    assert labels_path(again.rec).suffix == ".vmrk"


def test_the_region_moves_with_the_arrow_keys_and_the_eeg_follows(qtbot, own: Path) -> None:
    w = window_on(qtbot, own)
    a, b = w.region.getRegion()
    qtbot.keyClick(w, Qt.Key.Key_Right)
    a2, b2 = w.region.getRegion()
    assert a2 == pytest.approx(a + (b - a) / 2) and b2 - a2 == pytest.approx(b - a)
    qtbot.waitUntil(lambda: abs(w.span_data[0][0] - a2) < 0.01, timeout=5000)
    times, data = w.span_data
    expect = open_recording(own).span(a2, b2)[1]
    assert np.array_equal(data, expect)


def test_a_file_without_predictions_is_classified_in_the_window(
        qtbot, tmp_path: Path, recordings: list[Recording]) -> None:
    seizure = next(r for r in recordings if r.class_name == "seizure")
    normal = next(r for r in recordings if r.class_name == "normal")
    data = np.concatenate([normal.data[0], seizure.data[0]])[None, :] * 1e-6
    raw = mne.io.RawArray(data, mne.create_info(["T3"], 178.0, "eeg"), verbose="error")
    path = tmp_path / "plain.fif"
    raw.save(path, verbose="error")
    rec = open_recording(path)
    w = ReviewWindow(rec, MonitorSettings(device="cpu", hop_s=0.5),
                     make_report=lambda r, out: report_recording(r, out, log=lambda *_: None))
    qtbot.addWidget(w)
    w.show()
    assert w.classifying and w.progress.isVisible()
    progress = []
    w.pass_progress.connect(progress.append)
    qtbot.waitUntil(lambda: not w.classifying, timeout=60_000)
    assert not w.progress.isVisible()
    assert progress and progress == sorted(progress)
    assert w.rec.has_predictions and any(a.cls == "seizure" for a in w.rec.alerts)
    assert any(kind == "alert" for kind, _ in w.items)
    out = tmp_path / "from-window.html"
    with qtbot.waitSignal(w.report_done, timeout=60_000) as blocker:
        w.write_report(out)
    assert blocker.args == [str(out), ""] and out.stat().st_size > 10_000
