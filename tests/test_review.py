"""Review, report and scoring on real files, read with the reference readers: this monitor's
own recording of a replayed session, an EDF+ with seizure annotations exported by mne (edfio)
from the test subset, and an XDF in LabRecorder's layout with the monitor's result streams;
labels that round-trip; scoring that agrees with `evaluate --stream` on the same session; and
bad files, each refused or warned about in one line naming it.

Named after the package it tests (monitor/review), with monitor/measure/annotations.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mne
import numpy as np
import pytest
import pyxdf
from test_record import record_replay, three_channel_session
from xdf_write import XdfStream, write_xdf

from model.checkpoint import Classifier
from model.data import CLASSES, Recording, read_kaggle_csv
from monitor.cli import main
from monitor.measure.scoring import class_metrics, szcore
from monitor.measure.sessions import at_recorded_rate, plan_sessions, run_session
from monitor.record import RecordingPaths
from monitor.review.labels import labels_path, load_labels, save_label
from monitor.review.recording import open_recording
from monitor.settings import MonitorSettings
from monitor.sinks import alert_json
from replay.scenario import Scenario

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"


@pytest.fixture(scope="module")
def own(recordings: list[Recording], classifier: Classifier, tmp_path_factory) -> tuple:
    """This monitor's recording of a replayed three-channel session, and what it emitted."""
    path = tmp_path_factory.mktemp("own") / "session.vhdr"
    col = record_replay(three_channel_session(recordings), path, classifier)
    return path, col


@pytest.fixture(scope="module")
def edf(tmp_path_factory) -> tuple[Path, list[tuple[float, float]]]:
    """An EDF+ from the test subset (at the CSV's nominal 178 Hz, which EDF's one-second data
    records can hold): normal, seizure, tumor, seizure, normal recordings in a row on two
    channels, each seizure recording annotated "Seizure (clinical)"."""
    recs = read_kaggle_csv(SUBSET)
    by = {c: [r for r in recs if r.class_name == c] for c in CLASSES}
    order = [by["normal"][0], by["seizure"][0], by["tumor"][0], by["seizure"][1],
             by["normal"][1]]
    first = np.concatenate([r.data[0] for r in order])
    second = np.concatenate([r.data[0] for r in [by["normal"][2]] * len(order)])[:len(first)]
    raw = mne.io.RawArray(np.stack([first, second]) * 1e-6,
                          mne.create_info(["Fp1", "Fp2"], 178.0, "eeg"), verbose="error")
    spans, start = [], 0
    for r in order:
        if r.class_name == "seizure":
            spans.append((start / 178.0, (start + r.n_samples) / 178.0))
        start += r.n_samples
    raw.set_annotations(mne.Annotations([a for a, _ in spans], [b - a for a, b in spans],
                                        ["Seizure (clinical)"] * len(spans)))
    path = tmp_path_factory.mktemp("edf") / "patient.edf"
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    return path, spans


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- this monitor's own recording ---------------------------------------------------------------


def test_review_of_our_recording_has_its_alerts_truth_and_trend(own: tuple) -> None:
    path, col = own
    rec = open_recording(path)
    assert rec.kind == "monitor" and rec.has_predictions and not rec.warnings
    assert rec.channels == ["Fp1", "Cz", "O2"]
    assert len(rec.trend.time) == len(col.predictions)
    ons = [ev.alert for ev in col.alerts if ev.state == "on"]
    assert [(a.cls, a.sample) for a in rec.alerts] == [(a.cls, round(a.raised * rec.sfreq))
                                                       for a in ons]
    for got, sent in zip(rec.alerts, ons, strict=True):
        assert got.raised == pytest.approx(sent.raised, abs=1e-6)
        assert got.onset == pytest.approx(sent.onset, abs=2e-3)
        assert got.channels == sent.channels
    assert [t.description for t in rec.truth] == ["normal", "seizure", "normal"]
    assert rec.meta["note"] == "test"  # what the recorder was given for its header


def test_labels_round_trip_in_our_vmrk_and_mne_still_reads_it(own: tuple, tmp_path: Path) -> None:
    path, _ = own
    copy = tmp_path / "copy.vhdr"
    for src, dst in zip(RecordingPaths.of(path).all(), RecordingPaths.of(copy).all(),
                        strict=True):
        dst.write_bytes(src.read_bytes().replace(b"DataFile=session.eeg", b"DataFile=copy.eeg")
                        .replace(b"MarkerFile=session.vmrk", b"MarkerFile=copy.vmrk"))
    rec = open_recording(copy)
    alert = rec.alerts[0]
    save_label(rec, alert, "unsure", "first look")
    save_label(rec, alert, "confirmed", "spikes, 3 Hz, both sides")  # the last one wins
    again = open_recording(copy)
    labels = load_labels(again)
    assert list(labels) == [alert.key]
    assert (labels[alert.key].label, labels[alert.key].note) == ("confirmed",
                                                                 "spikes, 3 Hz, both sides")
    raw = mne.io.read_raw_brainvision(copy, verbose="error")
    marks = [(round(a["onset"] * raw.info["sfreq"]), a["description"]) for a in raw.annotations
             if a["description"].startswith("Label/")]
    assert len(marks) == 2 and marks[-1][0] == alert.sample
    assert "spikes, 3 Hz, both sides" in marks[-1][1]


def test_report_on_our_recording_has_every_alert_and_the_scoring(own: tuple, tmp_path: Path,
                                                                   capsys) -> None:
    path, col = own
    out = tmp_path / "report.html"
    code, stdout, err = run_cli(capsys, "report", path, "--out", out)
    assert code == 0, err
    text = out.read_text()
    n = sum(ev.state == "on" for ev in col.alerts)
    assert len(set(re.findall(r"alert \d+ at [0-9.]+ s", text))) == n  # (TOC and body)
    for section in ("Summary", "Whole recording", "Scoring against the seizure annotations",
                    "Settings and checkpoint", "Time in each state", "Alerts by class per hour"):
        assert section in text
    assert "detected 1/1" in stdout


def test_scoring_a_recorded_session_agrees_with_evaluate_stream(
        recordings: list[Recording], classifier: Classifier, tmp_path: Path, capsys) -> None:
    """One seizure session of `evaluate --stream`, scored by monitor.measure directly and scored
    from its recording by `evaluate --file`: the same figures."""
    settings = MonitorSettings(device="cpu")
    sessions, _ = plan_sessions(at_recorded_rate(recordings), 1, 0.0, seed=2, before=3)
    run = run_session(sessions[0], classifier, settings)
    path = tmp_path / "session.vhdr"
    record_replay(sessions[0].scenario, path, classifier, settings)
    out = tmp_path / "scores.json"
    code, stdout, err = run_cli(capsys, "evaluate", "--file", path, "--seizure-label",
                                "^seizure$", "--json", out)
    assert code == 0, err
    got = json.loads(out.read_text())["total"]
    assert got["seizure"] == class_metrics([run], "seizure")
    assert got["szcore"] == szcore([run])
    assert got["seizure"]["events"] == 1


# --- EDF+ from elsewhere ------------------------------------------------------------------------


def test_edf_plus_is_classified_scored_and_reported(edf: tuple, tmp_path: Path, capsys) -> None:
    path, spans = edf
    rec = open_recording(path)
    assert rec.kind == "mne" and not rec.has_predictions
    assert [(round(a.onset, 2), round(a.onset + a.duration, 2)) for a in rec.annotations] == \
        [(round(a, 2), round(b, 2)) for a, b in spans]
    out = tmp_path / "scores.json"
    code, stdout, err = run_cli(capsys, "evaluate", "--file", path, path.parent / "*.edf",
                                "--seizure-label", "(?i)seiz", "--json", out)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert len(result["files"]) == 1  # the glob and the path are one file
    sz = result["total"]["seizure"]
    assert sz["events"] == 2 and sz["detected"] == 2, stdout
    assert all(s["latency_s"] is not None and 0 <= s["latency_s"] < 10
               for s in result["total"]["seizures"])
    report = tmp_path / "edf.html"
    code, stdout, err = run_cli(capsys, "report", path, "--out", report, "--seizure-label",
                                "(?i)seiz")
    assert code == 0, err
    assert "detected 2/2" in stdout and report.stat().st_size > 10_000


def test_edf_labels_go_to_a_review_events_tsv_beside_it(edf: tuple, classifier: Classifier,
                                                       tmp_path: Path) -> None:
    from monitor.review.classify import classify

    src, _ = edf
    path = tmp_path / "copy.edf"
    path.write_bytes(src.read_bytes())
    rec = classify(open_recording(path), MonitorSettings(device="cpu", hop_s=1.0), classifier)
    assert rec.alerts
    save_label(rec, rec.alerts[-1], "false alarm", "chewing artefact")
    again = classify(open_recording(path), MonitorSettings(device="cpu", hop_s=1.0), classifier)
    assert [a.key for a in again.alerts] == [a.key for a in rec.alerts]  # the same pass
    assert load_labels(again) == {rec.alerts[-1].key: load_labels(rec)[rec.alerts[-1].key]}
    tsv = labels_path(again)
    assert tsv.name == "copy_review_events.tsv"
    header, row = tsv.read_text().splitlines()
    assert header.split("\t")[:3] == ["onset", "duration", "trial_type"]
    assert "false alarm" in row and "chewing artefact" in row
    assert path.read_bytes() == src.read_bytes()  # the EDF itself is never written


# --- XDF from LabRecorder -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def xdf(tmp_path_factory) -> tuple[Path, Scenario, float]:
    """EEG from the test subset with the ground-truth markers of `seizure-monitor replay` and
    the monitor's own result streams (run --lsl-out), as LabRecorder would save them."""
    recs = read_kaggle_csv(SUBSET)
    seizure = next(r for r in recs if r.class_name == "seizure")
    normal = next(r for r in recs if r.class_name == "normal")
    eeg = np.concatenate([normal.data[0], seizure.data[0]]).astype(np.float32)
    rate, t0 = 178.0, 5000.0
    ts = t0 + np.arange(len(eeg)) / rate
    onset = normal.n_samples / rate
    alerts = [{"type": "alert", "state": "on", "class": "seizure", "t": onset + 1.5,
               "onset": onset + 1.0, "p": 0.91, "channels": ["EEG"]},
              {"type": "alert", "state": "off", "class": "seizure", "t": onset + 20.0,
               "onset": onset + 1.0, "p": 0.99, "channels": ["EEG"]}]
    hop = np.arange(0, len(eeg) / rate, 0.1)
    probs = np.stack([(hop > onset + 1).astype(float), 0.05 + 0 * hop, 0.95 - 0 * hop], 1)
    streams = [
        XdfStream("Replay", "EEG", "float32", rate, ts, eeg[:, None], "replay-sid",
                  [{"label": "EEG", "type": "EEG", "unit": "microvolts"}]),
        XdfStream("Replay-truth", "Markers", "string", 0.0, np.array([t0, t0 + onset]),
                  ["truth=normal;recording=" + normal.id,
                   "truth=seizure;recording=" + seizure.id]),
        XdfStream("seizure-monitor-probabilities", "Probabilities", "float32", 10.0,
                  t0 + hop, probs.astype(np.float32)),
        XdfStream("seizure-monitor-alerts", "Markers", "string", 0.0,
                  np.array([t0 + a["t"] for a in alerts]), [json.dumps(a) for a in alerts]),
    ]
    path = write_xdf(tmp_path_factory.mktemp("xdf") / "session.xdf", streams)
    return path, Scenario(eeg[None, :], np.zeros(0), rate, ("EEG",), ()), onset


def test_xdf_with_the_monitors_result_streams_is_reviewed_and_reported(
        xdf: tuple, tmp_path: Path, capsys) -> None:
    path, sc, onset = xdf
    streams, _ = pyxdf.load_xdf(str(path))  # the reference reader reads what was written
    assert len(streams) == 4
    rec = open_recording(path)
    assert rec.kind == "xdf" and rec.has_predictions
    assert np.allclose(rec.raw.get_data()[0] * 1e6, sc.data[0], atol=1e-3)
    [alert] = rec.alerts
    assert alert.raised == pytest.approx(onset + 1.5, abs=1e-3)
    assert alert.onset == pytest.approx(onset + 1.0, abs=1e-3)
    assert alert.end == pytest.approx(onset + 20.0, abs=1e-3) and alert.peak == 0.99
    assert [t.description for t in rec.truth] == ["normal", "seizure"]
    assert set(rec.trend.state) == {"normal", "seizure"}
    save_label(rec, alert, "confirmed")
    assert load_labels(open_recording(path))[alert.key].label == "confirmed"
    out = tmp_path / "xdf.html"
    code, stdout, err = run_cli(capsys, "report", path, "--out", out)
    assert code == 0, err
    assert "detected 1/1" in stdout and "alert 1 at" in out.read_text()


# --- bad input ----------------------------------------------------------------------------------


def one_error(err: str, path: Path, command: str = "report") -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"seizure-monitor {command}: error: ") and str(path) in lines[0]
    return lines[0]


def copy_recording(src: Path, dst: Path) -> Path:
    for a, b in zip(RecordingPaths.of(src).all(), RecordingPaths.of(dst).all(), strict=True):
        b.write_bytes(a.read_bytes().replace(src.stem.encode() + b".", dst.stem.encode() + b"."))
    return dst


def test_a_truncated_eeg_is_read_up_to_its_last_whole_sample_with_one_warning(
        own: tuple, tmp_path: Path, capsys) -> None:
    path = copy_recording(own[0], tmp_path / "cut.vhdr")
    eeg = RecordingPaths.of(path).eeg
    size = eeg.stat().st_size
    frame = 4 * 3
    with open(eeg, "r+b") as f:
        f.truncate(size // 2 + 5)  # in the middle of a sample
    code, _, err = run_cli(capsys, "report", path, "--out", tmp_path / "cut.html")
    assert code == 0
    lines = err.strip().splitlines()
    assert any(line.startswith("seizure-monitor report: warning: ") and str(eeg) in line
               and "cut short" in line for line in lines), err
    rec = open_recording(path)
    assert rec.n_samples == (size // 2 + 5) // frame
    assert all(a.sample < rec.n_samples for a in rec.alerts)
    eeg.write_bytes(b"")
    code, _, err = run_cli(capsys, "report", path, "--out", tmp_path / "empty.html")
    assert code == 2 and "no complete sample" in one_error(err, path)


def test_a_vhdr_pointing_to_a_missing_eeg_is_one_line(own: tuple, tmp_path: Path,
                                                      capsys) -> None:
    path = copy_recording(own[0], tmp_path / "lost.vhdr")
    RecordingPaths.of(path).eeg.unlink()
    code, _, err = run_cli(capsys, "report", path, "--out", tmp_path / "x.html")
    assert code == 2 and "lost.eeg" in one_error(err, path) and "missing" in err
    other = tmp_path / "foreign.vhdr"  # a BrainVision file of another program
    other.write_text(path.read_text().replace("seizure-monitor recording", "another")
                     .replace("DataFile=lost.eeg", "DataFile=gone.eeg"))
    code, _, err = run_cli(capsys, "evaluate", "--file", other, "--seizure-label", "x")
    assert code == 2 and "gone.eeg" in one_error(err, other, "evaluate")


def test_an_edf_without_a_matching_seizure_label_is_one_line(edf: tuple, capsys) -> None:
    path, _ = edf
    code, _, err = run_cli(capsys, "evaluate", "--file", path, "--seizure-label", "(?i)spike")
    line = one_error(err, path, "evaluate")
    assert code == 2 and "no annotation matches" in line and "Seizure (clinical)" in line


def test_an_xdf_without_an_eeg_stream_is_one_line(tmp_path: Path, capsys) -> None:
    path = write_xdf(tmp_path / "markers.xdf", [XdfStream(
        "Marks", "Markers", "string", 0.0, np.array([1.0, 2.0]), ["a", "b"])])
    code, _, err = run_cli(capsys, "report", path, "--out", tmp_path / "x.html")
    line = one_error(err, path)
    assert code == 2 and "no EEG stream" in line and "'Marks' (Markers)" in line
    junk = tmp_path / "junk.xdf"
    junk.write_bytes(b"EDF+ perhaps, not XDF")
    code, _, err = run_cli(capsys, "report", junk, "--out", tmp_path / "x.html")
    assert code == 2 and "not a readable XDF file" in one_error(err, junk)


def test_alert_markers_match_what_the_monitor_printed(own: tuple) -> None:
    """The recording's alert markers say what the JSON lines said (class, times, p)."""
    path, col = own
    text = RecordingPaths.of(path).vmrk.read_text()
    for ev in col.alerts:
        j = alert_json(ev)
        assert f"{j['class']} {j['state']} t={j['t']:.3f} onset={j['onset']:.3f}" in text
