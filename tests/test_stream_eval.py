"""`evaluate --stream`: seeded sessions through the real pipeline, scored per event."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.checkpoint import data_fingerprint, load_classifier, save_checkpoint
from model.data import BONN_RATE, CLASSES, Recording, read_kaggle_csv
from model.train import TrainConfig, config_dict, train
from model.windows import grouped_split
from monitor.alerts import Alert
from monitor.cli import main
from monitor.measure.scoring import class_events, class_metrics, match_alerts, recalls, szcore
from monitor.measure.sessions import (
    CollectingSink,
    Session,
    SessionRun,
    at_recorded_rate,
    decide,
    plan_sessions,
    run_session,
)
from monitor.measure.stream_eval import TSV_COLUMNS, with_seizure_rule
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sources import ReplaySource
from replay.scenario import Scenario, Segment

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"


@pytest.fixture(scope="module")
def recordings() -> list[Recording]:
    return read_kaggle_csv(SUBSET)


@pytest.fixture(scope="module")
def split_checkpoint(tmp_path_factory, recordings) -> tuple[Path, list[str]]:
    """A checkpoint trained for a few seconds on a grouped split, with its validation ids."""
    train_recs, val_recs = grouped_split(recordings, 0.25, seed=0)
    cfg = TrainConfig(epochs=1, seed=0, windows_per_recording=16, batch_size=32, threads=1)
    result = train(train_recs, None, cfg, progress=False)
    ids = [r.id for r in val_recs]
    path = tmp_path_factory.mktemp("ckpt") / "split.pt"
    save_checkpoint(path, result.net, sample_rate=BONN_RATE,
                    fingerprint=data_fingerprint(train_recs), metrics={},
                    training={"config": config_dict(cfg), "validation_ids": ids})
    return path, ids


@pytest.fixture(scope="module")
def all_checkpoint(tmp_path_factory, split_checkpoint) -> Path:
    """The same weights, stored as if trained on every recording (no validation ids)."""
    clf = load_classifier(split_checkpoint[0])
    path = tmp_path_factory.mktemp("ckpt") / "all.pt"
    save_checkpoint(path, clf.net, sample_rate=BONN_RATE, fingerprint="x", metrics={},
                    training={"validation_ids": []})
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, split_checkpoint) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("stream")
    code = main(["evaluate", "--stream", "--csv", str(SUBSET), "--checkpoint",
                 str(split_checkpoint[0]), "--heldout", "--sessions", "2", "--normal-minutes",
                 "1", "--seed", "3", "--out", str(out), "--json", str(out / "r.json"),
                 "--sweep"])
    assert code == 0
    return json.loads((out / "r.json").read_text()), out


def test_json_has_the_issue_keys(evaluated) -> None:
    r, _ = evaluated
    for cls in ("seizure", "tumor"):
        m = r[cls]
        for key in ("sensitivity", "detected", "events", "false_alerts_per_hour",
                    f"non_{cls}_hours"):
            assert key in m
        assert set(m["latency_s"]) >= {"median", "max"}
        assert isinstance(m["detected"], int) and isinstance(m["events"], int)
    assert r["seizure"]["events"] == 2
    assert set(r["state_recall"]) == {"seizure", "tumor", "normal"}
    assert set(r["szcore"]) >= {"sensitivity", "precision", "f1", "fp_per_24h"}
    assert r["sessions"]["seizure"] == 2 and r["sessions"]["normal"] == 1
    assert r["sweep"] and set(r["sweep"][0]) >= {"smoothing_s", "seizure_on", "min_on_s",
                                                 "sensitivity", "latency_median_s",
                                                 "latency_max_s", "false_alerts_per_hour"}


def test_heldout_sessions_use_only_validation_recordings(evaluated, split_checkpoint) -> None:
    r, _ = evaluated
    ids = set(split_checkpoint[1])
    used = {rec for s in r["sessions"]["list"] for rec in s["recordings"]}
    assert used and used <= ids


def test_tsvs_and_plot_are_written(evaluated) -> None:
    r, out = evaluated
    for s in r["sessions"]["list"]:
        for suffix in ("events", "truth"):
            lines = (out / f"{s['name']}_{suffix}.tsv").read_text().splitlines()
            assert tuple(lines[0].split("\t")) == TSV_COLUMNS
            assert len(lines) >= 2 and all(len(x.split("\t")) == len(TSV_COLUMNS)
                                           for x in lines)
        truth = (out / f"{s['name']}_truth.tsv").read_text().splitlines()[1].split("\t")
        assert truth[2] == ("sz" if s["kind"] == "seizure" else "bckg")
    assert (out / "sessions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heldout_needs_validation_ids(all_checkpoint, capsys) -> None:
    code = main(["evaluate", "--stream", "--csv", str(SUBSET), "--checkpoint",
                 str(all_checkpoint), "--heldout"])
    assert code == 2
    assert "stores no validation recordings" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--sessions", "3"], ["--seed", "0"]])
def test_stream_flags_need_stream(capsys, flags: list[str]) -> None:
    assert main(["evaluate", "--csv", str(SUBSET), *flags]) == 2
    assert "only apply with --stream" in capsys.readouterr().err


def test_sessions_use_every_recording_before_reusing_one(recordings) -> None:
    recs = at_recorded_rate(recordings)
    assert all(r.sample_rate == BONN_RATE for r in recs)
    sessions, plan = plan_sessions(recs, seizure_sessions=10, normal_minutes=3, seed=1)
    seizure = [s for s in sessions if s.kind == "seizure"]
    assert len(seizure) == 10
    for s in seizure:
        assert [g.class_name for g in s.scenario.segments][-1] == "seizure"
        assert all(g.class_name != "seizure" for g in s.scenario.segments[:-1])
    first8 = [s.scenario.segments[-1].recording_id for s in seizure[:8]]
    assert len(set(first8)) == 8  # 8 seizure recordings: all used before a repeat
    assert plan["seizure"] == {"recordings": 8, "draws": 10, "reused": 2}
    normal = [s for s in sessions if s.kind == "normal"]
    assert sum(s.scenario.duration for s in normal) >= 180
    assert all(g.class_name == "normal" for s in normal for g in s.scenario.segments)
    again, _ = plan_sessions(recs, 10, 3, seed=1)
    assert [g.recording_id for s in again for g in s.scenario.segments] == \
        [g.recording_id for s in sessions for g in s.scenario.segments]


def test_decide_reproduces_the_pipeline(recordings, split_checkpoint) -> None:
    """The sweep's re-decision is exactly what the pipeline's smoother and policy did."""
    clf = load_classifier(split_checkpoint[0])
    sessions, _ = plan_sessions(at_recorded_rate(recordings), 1, 0, seed=0)
    settings = MonitorSettings(device="cpu")
    run = run_session(sessions[0], clf, settings)
    assert len(run.t) > 1000
    again = decide(run, settings)
    np.testing.assert_array_equal(again.smoothed, run.smoothed)
    assert list(again.state) == list(run.state)
    assert again.alerts == run.alerts
    strict = decide(run, with_seizure_rule(settings, on=1.0, min_on_s=5.0))
    assert not [a for a in strict.alerts if a.cls == "seizure"]


def test_threaded_pipeline_and_the_stream_evaluation_decide_alike(recordings, classifier) -> None:
    """One decision path: a seeded session through the threaded pipeline (acquisition and
    worker threads, the replay paced against the clock) and through evaluate --stream's
    lockstep path gives the same predictions, and the same alerts at the same stream times,
    exactly."""
    [session], _ = plan_sessions(at_recorded_rate(recordings), 1, 0, seed=3)
    settings = MonitorSettings(device="cpu")
    lockstep = run_session(session, classifier, settings)
    sink = CollectingSink()
    pipe = Pipeline(ReplaySource(session.scenario, speed=25, name=session.name), settings,
                    [sink], classifier=classifier, mode="threaded", realtime=False)
    assert pipe.mode == "threaded"
    pipe.start()
    assert pipe.wait(120), "the threaded replay did not finish"
    assert pipe.error is None and len(pipe._threads) == 2
    threaded = sink.run(session)
    assert len(lockstep.t) > 1000 and pipe.stats["skipped"] == 0
    np.testing.assert_array_equal(threaded.t, lockstep.t)
    np.testing.assert_array_equal(threaded.probs, lockstep.probs)
    np.testing.assert_array_equal(threaded.smoothed, lockstep.smoothed)
    assert list(threaded.state) == list(lockstep.state)
    assert threaded.alerts == lockstep.alerts and lockstep.alerts
    assert {a.cls for a in lockstep.alerts} >= {"seizure"}


def _alert(raised: float, end: float | None = None, cls: str = "seizure") -> Alert:
    return Alert(cls, raised - 1.0, raised, 0.9, ("EEG",), end)


def test_match_alerts_counts_only_alerts_raised_inside_the_event() -> None:
    events = [(100.0, 123.0)]
    lat, false = match_alerts(events, [_alert(102.5, 130.0)])
    assert lat == [2.5] and false == []
    lat, false = match_alerts(events, [_alert(40.0, 45.0)])  # 60 s before onset: false
    assert lat == [None] and len(false) == 1
    # Strict: an alert raised before the seizure recording (during another, unrelated one) is
    # a false alarm, never a detection with a negative latency, even within 30 s of onset.
    lat, false = match_alerts(events, [_alert(75.0, 90.0)])
    assert lat == [None] and len(false) == 1
    lat, false = match_alerts(events, [_alert(50.0, 110.0)])  # false, and still on at onset:
    assert lat == [None] and len(false) == 1  # no alert was raised for the seizure: missed
    lat, false = match_alerts(events, [_alert(123.0, 125.0)])  # raised as it ended: after it
    assert lat == [None] and len(false) == 1
    lat, false = match_alerts([], [_alert(10.0, 12.0)])
    assert lat == [] and len(false) == 1


def test_an_alert_raised_30_s_before_a_seizure_recording_is_one_false_alarm() -> None:
    """The case that hid a false alarm: a seizure alert raised at 64.3 s, during a set-F
    recording, about 30 s before the seizure recording starts, was credited as a detection
    with latency -30 s (a latency mean of 0.001 s beside a median of 1.44 s), and not counted
    as false. Strictly it is one false seizure alarm, and latencies are never negative."""
    rate, n = 173.61, 4097
    kinds = ["normal", "tumor", "normal", "tumor", "seizure"]
    segs = tuple(Segment(k * n, (k + 1) * n, f"r{k}", c) for k, c in enumerate(kinds))
    truth = np.concatenate([np.full(n, CLASSES.index(c), np.int8) for c in kinds])
    sc = Scenario(np.zeros((1, len(truth)), np.float32), truth, rate, ("EEG",), segs)
    onset = 4 * n / rate  # 94.4 s
    assert onset - 64.3 == pytest.approx(30.1, abs=0.05)
    empty = np.zeros(0)

    def run(alerts):
        return SessionRun(Session("seizure-01", "seizure", sc), empty, np.zeros((0, 1, 3)),
                          np.zeros((0, 1), bool), np.zeros((0, 1, 3)), np.zeros(0, "<U7"),
                          np.zeros(0, int), alerts)

    ok = run([_alert(onset + 1.44, onset + 20)])
    early = run([_alert(64.3, 70.0), _alert(onset + 1.44, onset + 20)])
    m = class_metrics([ok, early], "seizure")
    assert m["detected"] == 2 and m["false_alerts"] == 1
    assert m["latency_s"]["median"] == m["latency_s"]["mean"] == pytest.approx(1.44)
    assert m["latency_s"]["max"] == pytest.approx(1.44)
    assert m["false_alerts_per_hour"] == pytest.approx(1 / (2 * onset / 3600), rel=1e-3)
    held = run([_alert(64.3, onset + 20)])  # on from 64.3 s to past the onset: missed
    m = class_metrics([held], "seizure")
    assert m["detected"] == 0 and m["false_alerts"] == 1 and m["latency_s"]["mean"] is None
    # SzCORE, labelled as such, keeps its 30 s pre-onset tolerance: it credits the early one.
    assert szcore([held])["tp"] == 1


def _scenario(classes: list[str], seconds: float = 10.0, rate: float = 10.0) -> Scenario:
    n = int(seconds * rate)
    segs = tuple(Segment(k * n, (k + 1) * n, f"r{k}", c) for k, c in enumerate(classes))
    truth = np.concatenate([np.full(n, CLASSES.index(c), np.int8) for c in classes])
    return Scenario(np.zeros((1, len(truth)), np.float32), truth, rate, ("EEG",), segs)


def test_class_events_merge_neighbouring_recordings_and_szcore_scores() -> None:
    sc = _scenario(["normal", "tumor", "tumor", "normal", "seizure"])
    assert class_events(sc, "tumor") == [(10.0, 30.0)]
    assert class_events(sc, "seizure") == [(40.0, 50.0)]
    empty = np.zeros(0)
    run = SessionRun(Session("s", "seizure", sc), empty, np.zeros((0, 1, 3)),
                     np.zeros((0, 1), bool), np.zeros((0, 1, 3)), np.zeros(0, "<U7"),
                     np.zeros(0, int), [_alert(42.0, 50.0)])
    s = szcore([run])
    assert (s["sensitivity"], s["precision"], s["fp_per_24h"]) == (1.0, 1.0, 0.0)
    m = class_metrics([run], "seizure")
    assert m["detected"] == 1 and m["latency_s"]["median"] == 2.0 and m["false_alerts"] == 0
    assert m["non_seizure_hours"] == round(40 / 3600, 4)
    wrong = replace(run, alerts=[_alert(5.0, 8.0)])
    assert szcore([wrong])["fp"] == 1 and szcore([wrong])["sensitivity"] == 0.0
    assert class_metrics([wrong], "seizure")["false_alerts"] == 1


def test_a_stretch_with_no_classified_channel_counts_as_0_for_alerts_and_not_in_recall() -> None:
    """Seizure for 10 s, then 5 s of unusable signal, then 5 s of normal: the alert must end
    during the bad stretch (it counts as 0), and the bad windows are no class in the recall."""
    sc = _scenario(["seizure", "normal"])
    t = np.arange(1, 201) * 0.1
    probs = np.zeros((200, 1, 3))
    probs[:100, 0, 0] = 1.0
    probs[100:, 0, 2] = 1.0
    valid = np.ones((200, 1), bool)
    valid[100:150] = False
    truth = np.repeat([0, 2], 100)
    run = SessionRun(Session("s", "seizure", sc), t, probs, valid, np.zeros_like(probs),
                     np.zeros(200, "<U7"), truth, [])
    decided = decide(run, MonitorSettings())
    # One alert: the bad stretch faded the seizure state, so good signal coming back raises
    # no second one (holding the old state through the stretch did).
    [alert] = decided.alerts
    assert alert.cls == "seizure" and alert.raised < 2.0
    assert 10.0 < alert.end < 15.0
    assert decided.smoothed[149, 0].max() < 0.4  # faded to near uniform by the stretch's end
    state_recall, smoothed_recall = recalls([decided])
    # Only the 50 classified normal windows count; counting the 50 unclassified ones as a
    # class would halve it.
    assert smoothed_recall["seizure"] == 1.0 and smoothed_recall["normal"] == 1.0
    assert state_recall["normal"] < 1.0  # the alert was still on early in the bad stretch
    assert decided.state[139] == "normal"  # and off before its end
