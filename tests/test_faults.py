"""Stream faults through the real pipeline: a producer that vanishes, returns, or returns
changed; timestamps that jump; a wrong declared rate; bad samples; a failing worker or sink; a
worker too slow for the stream.

Real LSL outlets on loopback (a unique name and source_id per test) carry a sample counter next
to a real recording, so a lost or repeated sample fails a test; the headless cases run the
command line in a subprocess. Waits are on conditions with deadlines.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import pylsl
import pytest
from test_pipeline import (
    WINDOW,
    Collector,
    counter_outlet,
    lsl_pipeline,
    push,
    seizure_recording,
    wait_until,
)

from model.checkpoint import Classifier
from model.data import BONN_RATE, Recording
from monitor import health as health_module
from monitor.alerts import AlertEvent
from monitor.pipeline import Pipeline
from monitor.settings import AlertSettings, ClassRule, MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.sources import LSLSource, ReplaySource
from replay.scenario import Scenario, Segment

ROOT = Path(__file__).parent.parent
SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def by_set(recordings: list[Recording], bonn_set: str, k: int = 0) -> np.ndarray:
    return [r for r in recordings if r.bonn_set == bonn_set][k].data[0]


def push_stamped(pipeline: Pipeline, outlet: pylsl.StreamOutlet, eeg: np.ndarray,
                 stamps: np.ndarray, start: int, stop: int) -> None:
    """As test_pipeline.push_in_step, with the given timestamp for every sample: a hop at a
    time, each once the worker has looked at every window the samples so far complete."""
    hop = pipeline.worker.hop
    sent = start
    while sent < stop:
        n = min(stop - sent, max(hop, WINDOW - sent))
        data = np.stack([np.arange(sent, sent + n), eeg[sent:sent + n]], 1).astype(np.float32)
        outlet.push_chunk(data, stamps[sent:sent + n].tolist())
        sent += n
        wait_until(lambda sent=sent: pipeline.buffer.written == sent
                   and pipeline.worker.next_end > sent, 10.0, f"sample {sent}")


def push_paced(outlet: pylsl.StreamOutlet, eeg: np.ndarray, start: int, stop: int,
               rate: float, speed: float = 1.0, stamp_rate: float | None = None,
               stop_event: threading.Event | None = None, sent_to: list | None = None) -> int:
    """Samples [start, stop) as they fall due at ``rate * speed`` samples a second (paced by
    the elapsed time, as a device would), stamped ``t0 + i / stamp_rate``; returns (and
    appends to ``sent_to``) the index after the last sample sent."""
    stamp_rate = stamp_rate or rate
    began, sent = time.monotonic(), start
    t0 = pylsl.local_clock() - start / stamp_rate
    while sent < stop and not (stop_event and stop_event.is_set()):
        due = min(stop, start + int((time.monotonic() - began) * rate * speed))
        if due > sent:
            data = np.stack([np.arange(sent, due), eeg[sent:due]], 1).astype(np.float32)
            outlet.push_chunk(data, (t0 + np.arange(sent, due) / stamp_rate).tolist())
            sent = due
        time.sleep(0.01)  # the producer's own pace, not a wait for a result
    if sent_to is not None:
        sent_to.append(sent)
    return sent


def stays_false(col: Collector, condition, seconds: float) -> bool:
    """True if ``condition`` (checked on every report to ``col``) stays false ``seconds``."""
    with col._cond:
        return not col._cond.wait_for(condition, seconds)


def grid_ends(total: int, hop: int) -> list[int]:
    return list(range(WINDOW, total + 1, hop))


# --- the producer vanishes and returns ------------------------------------------------------


def test_no_alert_from_stale_data_while_lost_and_none_from_before_the_gap(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    """Lost while a seizure alert is pending: nothing is classified or raised while lost, and
    after the gap the alert needs a full minimum duration of new data (the pending onset from
    before the gap is forgotten)."""
    eeg = seizure_recording(recordings)
    min_on = 2.0
    alerts = AlertSettings(seizure=ClassRule(0.5, 0.35, min_on, 3.0))
    name, sid = unique("stale"), unique("stale-sid")
    outlet = counter_outlet(name, sid)
    col = Collector()
    pipeline = lsl_pipeline(name, classifier, col, alerts=alerts)
    hop = pipeline.worker.hop
    try:
        assert outlet.wait_for_consumers(5.0)
        t0 = pylsl.local_clock() - 60.0
        stamps = t0 + np.arange(len(eeg)) / BONN_RATE
        # Up to the first window over the threshold, then one second more: pending, not raised.
        sent = WINDOW
        push_stamped(pipeline, outlet, eeg, stamps, 0, sent)
        while not any(p.smoothed[0, 0] >= 0.5 for p in col.predictions):
            push_stamped(pipeline, outlet, eeg, stamps, sent, sent + hop)
            sent += hop
        more = sent + int(BONN_RATE)
        push_stamped(pipeline, outlet, eeg, stamps, sent, more)
        sent = more
        assert not col.alerts, "raised before the minimum duration"
        n_before = len(col.predictions)
        outlet = None  # the device goes away
        col.wait_for(lambda: col.events("stream_lost"), 10.0, "stream_lost")
        # Longer than the minimum duration passes while lost, and nothing is classified or
        # raised from the samples already there.
        assert stays_false(col, lambda: len(col.predictions) > n_before or col.alerts, min_on)
        assert pipeline.error is None and not pipeline.done.is_set()
        outlet = counter_outlet(name, sid)
        assert outlet.wait_for_consumers(15.0), "the inlet did not reconnect"
        # The seizure goes on (stamped as if it had never stopped) until the alert.
        while not col.alerts and sent + hop <= len(eeg):
            push_stamped(pipeline, outlet, eeg, stamps, sent, sent + hop)
            sent += hop
        col.wait_for(lambda: col.events("stream_recovered"), 10.0, "stream_recovered")
    finally:
        pipeline.stop()
    assert pipeline.wait(10.0) and pipeline.error is None, pipeline.error
    assert col.alerts, "the seizure after the gap raised no alert"
    on = col.alerts[0]
    first_after = col.predictions[n_before].t
    assert on.state == "on" and on.alert.onset >= first_after
    assert on.alert.raised - on.alert.onset >= min_on - 1e-6


def test_headless_monitor_keeps_running_while_the_stream_is_lost_and_logs_both_events(
    trained_checkpoint: Path, recordings: list[Recording], tmp_path: Path
) -> None:
    """`run --lsl NAME --headless --events F` on a real-time producer that vanishes and comes
    back with the same source_id; the silence is not taken for a wrong rate."""
    eeg = np.tile(by_set(recordings, "Z"), 3)
    name, sid = unique("headless-lost"), unique("headless-lost-sid")
    outlet = counter_outlet(name, sid)
    events = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "--headless", "--lsl", name, "--timeout",
         "30", "--events", str(events), "--checkpoint", str(trained_checkpoint),
         "--no-predictions"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def logged(event: str) -> bool:
        return events.exists() and any(f'"event": "{event}"' in line
                                       for line in events.read_text().splitlines())

    try:
        assert outlet.wait_for_consumers(60.0), "the monitor did not connect"
        wait_until(lambda: logged("started"), 10.0, "started")
        half = int(4 * BONN_RATE)
        push_paced(outlet, eeg, 0, half, BONN_RATE)
        outlet = None
        gone = time.monotonic()
        wait_until(lambda: logged("stream_lost"), 10.0, "stream_lost")
        lost_after = time.monotonic() - gone
        assert proc.poll() is None, proc.communicate()
        outlet = counter_outlet(name, sid)
        assert outlet.wait_for_consumers(15.0), "the monitor did not reconnect"
        push_paced(outlet, eeg, half, 2 * half, BONN_RATE)
        wait_until(lambda: logged("stream_recovered"), 10.0, "stream_recovered")
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert lost_after < MonitorSettings().stale_s + 0.5, f"stream_lost after {lost_after:.2f} s"
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    status = [obj for obj in lines if obj["type"] == "status"]
    names = [obj["event"] for obj in status]
    assert names[0] == "started" and sid in status[0]["detail"]
    assert names.count("stream_lost") == names.count("stream_recovered") == 1
    assert names.index("stream_lost") < names.index("stream_recovered")
    assert names[-1] == "stopped"
    # Eight seconds of samples over twelve of wall time is no rate mismatch: the silence
    # while lost does not count.
    assert not {"error", "rate_mismatch", "timestamp_jump"} & set(names), names
    printed = [json.loads(line) for line in out.splitlines()]
    assert [obj for obj in printed if obj["type"] == "status"] == status


# --- the producer returns changed ----------------------------------------------------------


def outlet_of(name: str, sid: str, n_channels: int, rate: float) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, "EEG", n_channels, rate, pylsl.cf_float32, sid)
    chans = info.desc().append_child("channels")
    for k in range(n_channels):
        ch = chans.append_child("channel")
        ch.append_child_value("label", "counter" if k == 0 else f"EEG{k}")
        ch.append_child_value("type", "MISC" if k == 0 else "EEG")
        ch.append_child_value("unit", "count" if k == 0 else "microvolts")
    return pylsl.StreamOutlet(info)


@pytest.mark.parametrize("change", ["channels", "rate"])
def test_a_producer_back_with_another_shape_is_a_clear_error_not_a_crash(
    classifier: Classifier, recordings: list[Recording], change: str
) -> None:
    """liblsl reconnects to the same source_id whatever its shape: with another rate it would
    be read at the old one, with another channel count it would never deliver. The monitor
    refuses it with a sentence naming the stream, and stops cleanly."""
    eeg = seizure_recording(recordings)
    name, sid = unique(f"changed-{change}"), unique("changed-sid")
    outlet = counter_outlet(name, sid)
    col = Collector()
    pipeline = lsl_pipeline(name, classifier, col)
    try:
        assert outlet.wait_for_consumers(5.0)
        push(outlet, eeg, 0, 600, pylsl.local_clock())
        wait_until(lambda: pipeline.buffer.written == 600, 10.0, "600 samples")
        outlet = None
        col.wait_for(lambda: col.events("stream_lost"), 10.0, "stream_lost")
        n, rate = (3, BONN_RATE) if change == "channels" else (2, 2 * BONN_RATE)
        outlet = outlet_of(name, sid, n, rate)
        # It publishes; whether liblsl connects or not, none of it may be read.
        deadline = time.monotonic() + 10.0
        while not pipeline.done.is_set() and time.monotonic() < deadline:
            outlet.push_chunk(np.ones((20, n), np.float32))
            pipeline.done.wait(0.05)
        assert pipeline.wait(10.0), "the pipeline did not stop"
    finally:
        pipeline.stop()
    assert pipeline.error is not None
    assert re.search(rf"came back with {n} channels at {rate:g} Hz", pipeline.error)
    assert name in pipeline.error and sid in pipeline.error and "restart" in pipeline.error
    assert "\n" not in pipeline.error and "Traceback" not in pipeline.error
    assert pipeline.buffer.written == 600  # nothing of the changed stream reached the buffer
    names = [ev.event for _, ev in col.statuses]
    assert names[-2:] == ["error", "stopped"] and "stream_recovered" not in names
    assert col.events("error")[0][1].detail == pipeline.error
    assert all(not t.is_alive() for t in pipeline._threads)


# --- timestamps and rates ------------------------------------------------------------------


@pytest.mark.parametrize("jump", [-5.0, 5.0])
def test_timestamps_that_jump_warn_and_every_window_is_still_classified_right(
    classifier: Classifier, recordings: list[Recording], jump: float
) -> None:
    eeg = seizure_recording(recordings)
    total = len(eeg)
    name = unique("jump")
    outlet = counter_outlet(name, unique("jump-sid"))
    col = Collector()
    pipeline = lsl_pipeline(name, classifier, col)
    hop = pipeline.worker.hop
    stamps = pylsl.local_clock() - 30.0 + np.arange(total) / BONN_RATE
    stamps[total // 2:] += jump
    try:
        assert outlet.wait_for_consumers(5.0)
        push_stamped(pipeline, outlet, eeg, stamps, 0, total)
    finally:
        pipeline.stop()
    assert pipeline.wait(10.0) and pipeline.error is None, pipeline.error
    # One warning (another only if the push took over 10 s: dejitter keeps the stamps moving)
    (_, warning), *_ = col.events("timestamp_jump")
    assert name in warning.detail and "sample order" in warning.detail
    assert float(re.search(r"are ([-+]\d+\.\d+) s off", warning.detail).group(1)) * jump > 0
    assert not col.events("stream_lost")
    # Every sample once, in order, and one segment: the jump is not a gap.
    buf = pipeline.buffer.latest(total)
    np.testing.assert_array_equal(buf.data[0], np.arange(total))
    assert set(buf.segment.tolist()) == {0}
    # Every window of the grid classified, each exactly as the model classifies its samples.
    ends = grid_ends(total, hop)
    assert len(col.predictions) == len(ends) and pipeline.stats["skipped"] == 0
    expected = classifier.predict_proba(np.stack([eeg[e - WINDOW:e] for e in ends]))
    got = np.stack([p.probs[0] for p in col.predictions])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_declared_rate_far_from_the_measured_one_warns_and_windows_stay_whole(
    classifier: Classifier, recordings: list[Recording], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Declares 173.61 Hz, delivers 110 Hz (stamped at 110 Hz): rate_mismatch after the
    measurement (3 s here, 10 s in use), and the windows are still whole windows of
    consecutive samples."""
    monkeypatch.setattr(health_module, "RATE_WINDOW_S", 3.0)
    eeg = np.tile(seizure_recording(recordings), 2)
    true_rate = 110.0
    name = unique("rate")
    outlet = counter_outlet(name, unique("rate-sid"))
    col = Collector()
    pipeline = lsl_pipeline(name, classifier, col)
    stop, sent = threading.Event(), []
    pusher = threading.Thread(target=push_paced, args=(outlet, eeg, 0, len(eeg), true_rate),
                              kwargs={"stop_event": stop, "sent_to": sent}, daemon=True)
    try:
        assert outlet.wait_for_consumers(5.0)
        pusher.start()
        col.wait_for(lambda: col.events("rate_mismatch"), 20.0, "rate_mismatch")
        stop.set()
        pusher.join(5.0)
        [total] = sent
        wait_until(lambda: pipeline.buffer.written == total
                   and pipeline.worker.next_end > total, 10.0, "the last window")
    finally:
        stop.set()
        pipeline.stop()
    assert pipeline.wait(10.0) and pipeline.error is None, pipeline.error
    [(_, mismatch)] = col.events("rate_mismatch")[:1]
    measured = float(re.search(r"delivers ([\d.]+) Hz", mismatch.detail).group(1))
    assert "declares 173.61 Hz" in mismatch.detail and abs(measured - true_rate) < 11
    # The stamps follow the true rate, so they drift off the declared one: said as well.
    assert col.events("timestamp_jump")
    assert total > 3 * true_rate
    buf = pipeline.buffer.latest(total)
    np.testing.assert_array_equal(buf.data[0], np.arange(total))
    assert pipeline.stats["windows"] + pipeline.stats["skipped"] == \
        len(grid_ends(total, pipeline.worker.hop))


# --- bad samples ---------------------------------------------------------------------------

#: fault -> (what it does to the seizure recording, the problem the warning names)
FAULTS = {
    "nan": (lambda x: np.where(np.arange(len(x)) % 50 == 7, np.nan, x), "NaN or inf"),
    "inf": (lambda x: np.where(np.arange(len(x)) % 50 == 7, -np.inf, x), "NaN or inf"),
    "flat line": (lambda x: np.full_like(x, x[0]), "flat signal"),
    "clipping": (lambda x: np.clip(x, *np.percentile(x, [30, 70])), "clipping"),
    "volts as microvolts": (lambda x: x * 1e-6, "flat signal"),
    "microvolts as volts": (lambda x: x * 1e6, "far outside the training range"),
}
#: faults any one sample of which makes a window unusable
PER_SAMPLE = {"nan", "inf", "microvolts as volts"}


def two_channel_scenario(recordings: list[Recording], fault=None) -> tuple[Scenario, slice]:
    """Channel Fp1: normal EEG. Channel T3: normal, seizure (faulted), normal.
    At the recordings' true rate, so no resampling smears a bad sample."""
    parts = [by_set(recordings, "Z")[:600], by_set(recordings, "S").astype(np.float64),
             by_set(recordings, "O")[:600]]
    fp1 = np.concatenate([by_set(recordings, "Z", k) for k in (1, 2)])[:1200 + len(parts[1])]
    if fault is not None:
        parts[1] = fault(parts[1])
    t3 = np.concatenate(parts)
    a, b = len(parts[0]), len(parts[0]) + len(parts[1])
    segments = (Segment(0, a, "Z", "normal"), Segment(a, b, "S", "seizure"),
                Segment(b, len(t3), "O", "normal"))
    truth = np.concatenate([np.full(len(p), c, np.int8)
                            for p, c in zip(parts, (2, 0, 2), strict=True)])
    data = np.stack([fp1, t3]).astype(np.float32)
    return Scenario(data, truth, BONN_RATE, ("Fp1", "T3"), segments), slice(a, b)


def replay(classifier: Classifier, scenario: Scenario) -> tuple[Pipeline, Collector]:
    col = Collector()
    pipeline = Pipeline(ReplaySource(scenario, speed=0), MonitorSettings(device="cpu"), [col],
                        classifier)
    pipeline.start()
    assert pipeline.wait(60.0) and pipeline.error is None, pipeline.error
    return pipeline, col


def test_the_clean_two_channel_scenario_raises_the_seizure_alert_on_t3(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    """The control for the faults below: without them the seizure raises an alert."""
    _, col = replay(classifier, two_channel_scenario(recordings)[0])
    ons = [ev for ev in col.alerts if ev.state == "on" and ev.alert.cls == "seizure"]
    assert ons and all(ev.alert.channels == ("T3",) for ev in ons)
    assert not col.events("bad_samples")


@pytest.mark.parametrize("fault", FAULTS)
def test_bad_samples_are_named_by_channel_and_raise_no_alert(
    classifier: Classifier, recordings: list[Recording], fault: str
) -> None:
    change, problem = FAULTS[fault]
    scenario, bad = two_channel_scenario(recordings, change)
    pipeline, col = replay(classifier, scenario)
    assert not col.alerts, [(ev.state, ev.alert) for ev in col.alerts]
    warnings = [ev.detail for _, ev in col.events("bad_samples")]
    assert warnings and all(w.startswith("channel T3: ") for w in warnings)
    assert any(problem in w for w in warnings), warnings
    assert [ev.detail for _, ev in col.events("signal_ok")] == ["channel T3: signal quality back"]
    data = scenario.data[1]
    bad_sample = np.zeros(scenario.n_samples, bool)
    bad_sample[bad] = True
    if fault in PER_SAMPLE:
        bad_sample &= ~np.isfinite(data) | (np.abs(data) > 1e4)
    for p in col.predictions:
        end = round(p.t * BONN_RATE) + 1
        window = slice(end - WINDOW, end)
        assert p.valid[0], "the clean channel stopped being classified"
        inside = bad.start <= window.start and window.stop <= bad.stop
        if inside or (fault in PER_SAMPLE and bad_sample[window].any()):
            assert not p.valid[1] and np.isnan(p.probs[1]).all(), (fault, p.t)
    assert pipeline.stats["windows"] == len(grid_ends(scenario.n_samples, pipeline.worker.hop))


def test_signal_back_after_a_bad_stretch_raises_no_second_alert(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    """T3: normal, 12 s of seizure (alert), 12 s of NaN, then normal again. The bad
    stretch fades the seizure state, so the returning normal signal raises no second alert;
    holding the state through the stretch did."""
    seizure = by_set(recordings, "S").astype(np.float64)
    parts = [by_set(recordings, "Z")[:600], seizure[:2100], np.full(2100, np.nan),
             by_set(recordings, "O")[:1200]]
    t3 = np.concatenate(parts)
    fp1 = np.concatenate([by_set(recordings, "Z", k) for k in (1, 2, 3)])[:len(t3)]
    edges = np.cumsum([0] + [len(p) for p in parts])
    segments = tuple(Segment(int(a), int(b), bonn_set, cls) for a, b, bonn_set, cls in
                     zip(edges[:-1], edges[1:], "ZSSO",
                         ("normal", "seizure", "seizure", "normal"), strict=True))
    truth = np.repeat(np.array([2, 0, 0, 2], np.int8), [len(p) for p in parts])
    scenario = Scenario(np.stack([fp1, t3]).astype(np.float32), truth, BONN_RATE,
                        ("Fp1", "T3"), segments)
    _, col = replay(classifier, scenario)
    ons = [ev.alert for ev in col.alerts if ev.state == "on"]
    assert [a.cls for a in ons] == ["seizure"], ons
    assert ons[0].raised < edges[2] / BONN_RATE
    assert [ev.detail for _, ev in col.events("signal_ok")] == ["channel T3: signal quality back"]


# --- the worker fails, or falls behind -----------------------------------------------------

INJECT = """
import sys
from monitor import worker
real, calls = worker.InferenceWorker._classify, []
def failing(self, win, behind):
    calls.append(1)
    if len(calls) > 20:
        raise RuntimeError("injected fault in the worker (test)")
    return real(self, win, behind)
worker.InferenceWorker._classify = failing
from monitor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_worker_exception_in_headless_mode_exits_1_with_its_traceback_logged(
    trained_checkpoint: Path, tmp_path: Path
) -> None:
    """The real command line with the real worker, made to raise on its 21st window; paced
    (speed 10), so the worker runs on its own thread."""
    events = tmp_path / "events.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", INJECT, "run", "--headless", "--csv", str(SUBSET), "--scenario",
         "normal,normal", "--speed", "10", "--events", str(events), "--checkpoint",
         str(trained_checkpoint)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert err[-1] == ("seizure-monitor run: error: worker: RuntimeError: injected fault in "
                       "the worker (test)")
    assert "Traceback" in proc.stderr and "in failing" in proc.stderr  # shown, with where
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    status = [obj for obj in lines if obj["type"] == "status"]
    [error] = [obj for obj in status if obj["event"] == "error"]
    assert "Traceback" in error["detail"] and "injected fault" in error["detail"]
    assert status[-1]["event"] == "stopped" and "after an error" in status[-1]["detail"]
    printed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [obj for obj in printed if obj["type"] == "status"] == status
    assert sum(obj["type"] == "prediction" for obj in printed) == 20


class FullDisk(Sink):
    """A sink whose every write fails, as an event log on a full disk would."""

    def __init__(self) -> None:
        self.closed = False

    def prediction(self, p: Prediction) -> None:
        raise OSError(28, "No space left on device")

    def status(self, ev: StatusEvent) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("speed", [0.0, 20.0], ids=["lockstep", "threaded"])
def test_a_failing_sink_stops_the_monitor_with_the_error_and_never_hangs(
    classifier: Classifier, recordings: list[Recording], speed: float
) -> None:
    scenario = two_channel_scenario(recordings)[0]
    col, disk = Collector(), FullDisk()
    pipeline = Pipeline(ReplaySource(scenario, speed=speed), MonitorSettings(device="cpu"),
                        [disk, col], classifier)
    pipeline.start()
    assert pipeline.wait(30.0), "the pipeline hung"
    assert "No space left on device" in pipeline.error
    names = [ev.event for _, ev in col.statuses]
    assert names[-2:] == ["error", "stopped"]  # the other sinks still hear of it
    assert disk.closed
    assert all(not t.is_alive() for t in pipeline._threads)


class FullDiskAtAlert(Sink):
    """An event log whose disk fills up just as the seizure alert comes."""

    def alert(self, ev: AlertEvent) -> None:
        raise OSError(28, "No space left on device")


def test_an_alert_a_sink_fails_on_still_reaches_the_other_sinks(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    col = Collector()
    pipeline = Pipeline(ReplaySource(two_channel_scenario(recordings)[0], speed=0),
                        MonitorSettings(device="cpu"), [FullDiskAtAlert(), col], classifier)
    pipeline.start()
    assert pipeline.wait(30.0), "the pipeline hung"
    assert "No space left on device" in pipeline.error
    [on] = col.alerts
    assert (on.state, on.alert.cls) == ("on", "seizure")
    # The window that raised it is still shown: its prediction went out after the failure.
    assert col.predictions[-1].t == pytest.approx(on.alert.raised)
    assert [ev.event for _, ev in col.statuses][-2:] == ["error", "stopped"]


class SlowClassifier(Classifier):
    """The real model, made to take at least ``delay`` seconds per window."""

    delay = 0.05

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        time.sleep(self.delay)
        return super().predict_proba(x)


class Lag(Sink):
    """Keeps no prediction: counts them and records how far behind the newest sample the
    worker was when each came out."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline, self.count, self.lags, self.last_skipped = pipeline, 0, [], 0
        self.reports: list[str] = []

    def prediction(self, p: Prediction) -> None:
        self.count += 1
        end = round(p.t * BONN_RATE) + 1
        self.lags.append(self.pipeline.buffer.written - end)
        self.last_skipped = p.skipped_total

    def status(self, ev: StatusEvent) -> None:
        if ev.event == "skipped_windows":
            self.reports.append(ev.detail)


def test_a_worker_too_slow_for_the_stream_skips_counts_and_reports_and_does_not_fall_behind(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    """A model at 20 windows a second at most, fed 40 windows' worth of stream a second (4x
    real time at a 0.1 s hop) for 16 s of stream: it skips to the newest window instead of
    queueing, so neither its lag nor the process's memory grows."""
    slow = SlowClassifier(classifier.net, classifier.classes, classifier.window,
                          classifier.sample_rate, classifier.meta)
    eeg = np.tile(seizure_recording(recordings), 2)
    total = int(16 * BONN_RATE)
    name = unique("slow")
    outlet = counter_outlet(name, unique("slow-sid"))
    pipeline = Pipeline(LSLSource(name=name, timeout=10.0), MonitorSettings(device="cpu"), [],
                        slow)
    lag = Lag(pipeline)
    pipeline.add_sink(lag)
    process = psutil.Process()
    rss: list[int] = []
    pipeline.start()
    try:
        assert pipeline.ready.wait(15.0) and pipeline.error is None, pipeline.error
        assert outlet.wait_for_consumers(5.0)
        pusher = threading.Thread(target=push_paced, args=(outlet, eeg, 0, total, BONN_RATE),
                                  kwargs={"speed": 4.0}, daemon=True)
        pusher.start()
        while pusher.is_alive():
            rss.append(process.memory_info().rss)
            pusher.join(0.25)
        wait_until(lambda: pipeline.buffer.written == total
                   and pipeline.worker.next_end > total, 10.0, "the newest window")
    finally:
        pipeline.stop()
    assert pipeline.wait(10.0) and pipeline.error is None, pipeline.error
    skipped = pipeline.stats["skipped"]
    assert skipped > 0.25 * len(grid_ends(total, pipeline.worker.hop))
    assert pipeline.stats["windows"] + skipped == len(grid_ends(total, pipeline.worker.hop))
    assert lag.count == pipeline.stats["windows"] and lag.last_skipped == skipped
    counts = [int(re.match(r"(\d+) windows skipped", d).group(1)) for d in lag.reports]
    assert counts and counts == sorted(counts) and counts[-1] <= skipped
    # Never more than a second of stream behind the newest sample, from start to end.
    assert max(lag.lags) < BONN_RATE, max(lag.lags)
    # Memory: flat after the first second (a queue of 100 windows would not show; a backlog
    # of every window would, and so would keeping the stream).
    warm = rss[len(rss) // 4:]
    assert max(warm) - warm[0] < 16 * 2**20, [r >> 20 for r in rss]
