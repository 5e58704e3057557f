"""The threaded pipeline over a real LSL stream and over a replay, with a real classifier.

The LSL streams carry a sample-counter channel next to a real recording, so the buffer's
contents prove that no sample was lost or repeated, across a lost and recovered stream too.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl

from model.checkpoint import Classifier
from model.data import BONN_RATE, CLASSES, NOMINAL_RATE, Recording
from model.network import NetConfig, SeizureNet
from monitor.alerts import AlertEvent
from monitor.pipeline import Pipeline, Tap
from monitor.settings import MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.sources import LSLSource, ReplaySource
from replay.scenario import build_scenario

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"
WINDOW = 120


class Collector(Sink):
    """Keeps everything the pipeline reports, with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.predictions: list[Prediction] = []
        self.alerts: list[AlertEvent] = []
        self.statuses: list[tuple[float, StatusEvent]] = []
        self._cond = threading.Condition()

    def prediction(self, p: Prediction) -> None:
        with self._cond:
            self.predictions.append(p)
            self._cond.notify_all()

    def alert(self, ev: AlertEvent) -> None:
        with self._cond:
            self.alerts.append(ev)
            self._cond.notify_all()

    def status(self, ev: StatusEvent) -> None:
        with self._cond:
            self.statuses.append((time.monotonic(), ev))
            self._cond.notify_all()

    def events(self, name: str) -> list[tuple[float, StatusEvent]]:
        return [(t, ev) for t, ev in self.statuses if ev.event == name]

    def wait_for(self, condition, timeout: float, what: str) -> None:
        with self._cond:
            assert self._cond.wait_for(condition, timeout), f"timed out waiting for {what}"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def seizure_recording(recordings: list[Recording]) -> np.ndarray:
    return next(r for r in recordings if r.bonn_set == "S").data[0]


def counter_outlet(name: str, source_id: str, fmt: int = pylsl.cf_float32,
                   unit: str = "microvolts") -> pylsl.StreamOutlet:
    """[counter (MISC), EEG] at the Bonn rate."""
    info = pylsl.StreamInfo(name, "EEG", 2, BONN_RATE, fmt, source_id)
    chans = info.desc().append_child("channels")
    for label, ctype, u in (("counter", "MISC", "count"), ("EEG", "EEG", unit)):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("type", ctype)
        ch.append_child_value("unit", u)
    return pylsl.StreamOutlet(info)


def push(outlet: pylsl.StreamOutlet, eeg: np.ndarray, start: int, stop: int, t0: float,
         dtype=np.float32, chunk: int = 64) -> None:
    """Samples [start, stop) with the counter, stamped t0 + i / rate, in chunks."""
    for a in range(start, stop, chunk):
        b = min(a + chunk, stop)
        data = np.stack([np.arange(a, b), eeg[a:b]], axis=1).astype(dtype)
        outlet.push_chunk(data, (t0 + np.arange(a, b) / BONN_RATE).tolist())


def push_in_step(pipeline: Pipeline, outlet: pylsl.StreamOutlet, eeg: np.ndarray, start: int,
                 stop: int, t0: float, dtype=np.float32) -> None:
    """Push a hop at a time (a whole window first), each once the worker has looked at every
    window the samples so far complete: a live stream the worker keeps up with."""
    hop = pipeline.worker.hop
    sent = start
    while sent < stop:
        n = min(stop - sent, max(hop, WINDOW - sent))
        push(outlet, eeg, sent, sent + n, t0, dtype, chunk=n)
        sent += n
        wait_until(lambda sent=sent: pipeline.buffer.written == sent
                   and pipeline.worker.next_end > sent, 10.0, f"sample {sent}")


def lsl_pipeline(name: str, classifier: Classifier, collector: Collector,
                 **settings) -> Pipeline:
    source = LSLSource(name=name, timeout=10.0)
    pipeline = Pipeline(source, MonitorSettings(device="cpu", **settings), [collector],
                        classifier)
    pipeline.start()
    assert pipeline.ready.wait(15.0)
    assert pipeline.error is None, pipeline.error
    return pipeline


def window_index(ts: np.ndarray, p: Prediction) -> int:
    """Buffer index of the last sample of a prediction's window (t is exact stream time)."""
    [idx] = np.flatnonzero(ts - ts[0] == p.t)
    return int(idx)


def test_lsl_stream_lost_and_recovered_loses_no_sample_and_no_window_spans_the_gap(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    eeg = seizure_recording(recordings)
    total, half = len(eeg), len(eeg) // 2
    name, sid = f"pipe-{uuid.uuid4().hex[:10]}", f"pipe-sid-{uuid.uuid4().hex[:10]}"
    outlet = counter_outlet(name, sid)
    col = Collector()
    pipeline = lsl_pipeline(name, classifier, col)
    try:
        assert outlet.wait_for_consumers(5.0)
        # A device that was recording before we connected.
        push_in_step(pipeline, outlet, eeg, 0, half, pylsl.local_clock() - 60.0)
        outlet = None  # the device goes away
        gone = time.monotonic()
        col.wait_for(lambda: col.events("stream_lost"), 10.0, "stream_lost")
        [(lost_at, lost)] = col.events("stream_lost")
        stale = pipeline.settings.stale_s
        assert lost_at - gone < stale + 1.5, f"stream_lost only after {lost_at - gone:.1f} s"
        assert name in lost.detail
        assert not col.events("stream_recovered")
        # It comes back with the same source_id (a restarted amplifier driver) and goes on.
        outlet = counter_outlet(name, sid)
        assert outlet.wait_for_consumers(15.0), "the inlet did not reconnect"
        push_in_step(pipeline, outlet, eeg, half, total,
                     pylsl.local_clock() - half / BONN_RATE)
        col.wait_for(lambda: col.events("stream_recovered"), 10.0, "stream_recovered")
    finally:
        pipeline.stop()
    assert pipeline.wait(10.0) and pipeline.error is None, pipeline.error
    # Every sample exactly once, in order, across the gap; the EEG untouched (no resampling
    # at the model's own rate, and microvolts kept as they are).
    buf = pipeline.buffer.latest(total)
    assert pipeline.buffer.written == total
    np.testing.assert_array_equal(buf.data[0], np.arange(total))
    np.testing.assert_array_equal(buf.data[1], eeg)
    assert not col.events("resampling")
    np.testing.assert_array_equal(buf.segment, [0] * half + [1] * (total - half))
    names = [ev.event for _, ev in col.statuses]
    assert names.index("stream_lost") < names.index("stream_recovered")
    assert names.count("stream_lost") == names.count("stream_recovered") == 1
    # Every window of the grid was looked at: those wholly on one side of the gap were
    # classified, none of those spanning it.
    hop = pipeline.worker.hop
    grid = range(WINDOW, total + 1, hop)
    spanning = [e for e in grid if e - WINDOW < half < e]
    assert spanning and pipeline.stats["skipped"] == 0
    ends = [window_index(buf.timestamps, p) + 1 for p in col.predictions]
    assert ends == [e for e in grid if e not in spanning]
    for end in ends:
        assert len(set(buf.segment[end - WINDOW:end].tolist())) == 1
    # And the real seizure recording raised the seizure alert.
    assert [(ev.state, ev.alert.cls) for ev in col.alerts][:1] == [("on", "seizure")]


def smoothed_classes(col: Collector) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([p.t for p in col.predictions])
    cls = np.array([int(np.argmax(p.smoothed[p.lead])) for p in col.predictions])
    return t, cls


def test_volts_at_the_bonn_rate_give_the_classes_of_dataset_units_at_178_hz(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    """The same recordings, once as a live double64 stream in volts at 173.61 Hz (classified
    untouched) and once replayed in dataset units at 178 Hz (resampled by the pipeline)."""
    scenario = build_scenario(recordings, ["normal", "seizure"], seed=1)
    assert scenario.sample_rate == NOMINAL_RATE
    eeg = scenario.data[0].astype(np.float64)
    total = len(eeg)

    replay = Collector()
    pipeline = Pipeline(ReplaySource(scenario, speed=0), MonitorSettings(device="cpu"),
                        [replay], classifier)
    pipeline.start()
    assert pipeline.wait(60.0) and pipeline.error is None, pipeline.error
    [(_, resampling)] = replay.events("resampling")
    assert resampling.detail.startswith("178 Hz -> 173.61 Hz")

    name = f"volts-{uuid.uuid4().hex[:10]}"
    outlet = counter_outlet(name, f"volts-sid-{uuid.uuid4().hex[:10]}", pylsl.cf_double64,
                            unit="volts")
    live = Collector()
    pipeline = lsl_pipeline(name, classifier, live)
    hop = pipeline.worker.hop
    try:
        assert pipeline.info.scale == (1.0, 1e6)
        assert outlet.wait_for_consumers(5.0)
        # Every window classified, as in the lockstep replay.
        push_in_step(pipeline, outlet, eeg * 1e-6, 0, total, pylsl.local_clock(), np.float64)
    finally:
        pipeline.stop()
    assert pipeline.wait(10.0) and pipeline.error is None, pipeline.error
    assert not live.events("resampling")
    assert pipeline.stats["skipped"] == 0
    tail = pipeline.buffer.latest(pipeline.buffer.capacity)  # the last 30 s
    index = np.arange(total - tail.data.shape[1], total)
    np.testing.assert_array_equal(tail.data[0], index)
    np.testing.assert_allclose(tail.data[1], eeg[index], rtol=1e-6)  # volts back to microvolts

    # Match windows by the recording sample they end on: stream time x each run's rate.
    t_live, cls_live = smoothed_classes(live)
    t_replay, cls_replay = smoothed_classes(replay)
    assert len(t_live) == (total - WINDOW) // hop + 1
    pos_live, pos_replay = t_live * BONN_RATE, t_replay * NOMINAL_RATE
    nearest = np.abs(pos_live[:, None] - pos_replay[None, :]).argmin(1)
    close = np.abs(pos_live - pos_replay[nearest]) <= hop
    assert close.mean() > 0.95
    agreement = (cls_live[close] == cls_replay[nearest[close]]).mean()
    assert agreement >= 0.95, f"only {agreement:.1%} of windows agree"
    seizure = CLASSES.index("seizure")
    assert (cls_live == seizure).any() and (cls_live != seizure).any()

    def decisions(col: Collector, rate: float) -> list[tuple[str, str, float]]:
        return [(ev.state, ev.alert.cls, ev.alert.onset * rate / BONN_RATE) for ev in col.alerts]

    got, expected = decisions(live, BONN_RATE), decisions(replay, NOMINAL_RATE)
    assert [d[:2] for d in got] == [d[:2] for d in expected]
    assert ("on", "seizure") in [d[:2] for d in got]
    for a, b in zip(got, expected, strict=True):
        assert abs(a[2] - b[2]) < 1.0, (got, expected)


def test_a_worker_behind_skips_windows_and_says_so(
    classifier: Classifier, recordings: list[Recording]
) -> None:
    eeg = seizure_recording(recordings)
    total = int(10 * BONN_RATE)
    name = f"burst-{uuid.uuid4().hex[:10]}"
    outlet = counter_outlet(name, f"burst-sid-{uuid.uuid4().hex[:10]}")
    col = Collector()
    # A one-sample hop: no CPU classifies 173 windows a second, one by one, for ever.
    pipeline = lsl_pipeline(name, classifier, col, hop_s=1 / BONN_RATE)
    try:
        assert pipeline.worker.hop == 1
        assert outlet.wait_for_consumers(5.0)
        push(outlet, eeg, 0, total, pylsl.local_clock() - total / BONN_RATE, chunk=total)
        wait_until(lambda: pipeline.buffer.written == total, 10.0, "the burst")
        buf = pipeline.buffer.latest(total)
        last_t = buf.timestamps[-1] - buf.timestamps[0]
        col.wait_for(lambda: col.predictions and col.predictions[-1].t == last_t, 10.0,
                     "the newest window")
    finally:
        pipeline.stop()
    assert pipeline.wait(10.0) and pipeline.error is None, pipeline.error
    np.testing.assert_array_equal(buf.data[0], np.arange(total))  # the burst arrived whole
    skipped = pipeline.stats["skipped"]
    assert skipped > 0.5 * total
    # Every window of the grid is either classified or counted as skipped.
    assert pipeline.stats["windows"] + skipped == total - WINDOW + 1
    assert col.predictions[-1].skipped_total == skipped
    reports = col.events("skipped_windows")
    assert reports, [ev.event for _, ev in col.statuses]
    counts = [int(re.match(r"(\d+) windows skipped", ev.detail).group(1)) for _, ev in reports]
    assert counts[0] > 0 and counts == sorted(counts) and counts[-1] <= skipped


def test_a_failing_worker_stops_the_pipeline_and_reports_the_error(
    recordings: list[Recording]
) -> None:
    """A network with two outputs where the monitor expects three: the worker raises."""
    net = SeizureNet(NetConfig(n_classes=2)).eval()
    broken = Classifier(net, CLASSES, WINDOW, BONN_RATE, {})
    scenario = build_scenario(recordings, ["normal"])
    col = Collector()
    pipeline = Pipeline(ReplaySource(scenario, speed=0), MonitorSettings(device="cpu"), [col],
                        broken)
    pipeline.start()
    assert pipeline.wait(30.0)
    assert pipeline.error is not None and pipeline.error.startswith("replay: ValueError")
    [(_, error)] = col.events("error")
    assert error.detail.startswith(pipeline.error) and "Traceback" in error.detail
    assert not col.predictions
    pipeline.stop()  # stopping a stopped pipeline is safe


class _Tap(Tap):
    def __init__(self) -> None:
        self.info = None
        self.chunks: list[tuple[int, int]] = []
        self.ends: list[int] = []

    def opened(self, info) -> None:
        self.info = info

    def chunk(self, chunk, first: int) -> None:
        self.chunks.append((first, chunk.data.shape[1]))

    def window(self, result) -> None:
        self.ends.append(result.end)


def test_taps_see_raw_chunks_and_every_window_and_the_snapshot_copies_the_newest_samples(
    recordings: list[Recording], classifier: Classifier
) -> None:
    """A replay at the CSV's nominal 178 Hz: taps get the chunks as the source delivered them
    (before resampling to the model's rate) and every classified window; the dashboard's
    snapshot holds the newest samples of the ring buffer, refilled in place."""
    scenario = build_scenario(recordings, ["normal", "seizure"])
    assert scenario.sample_rate == NOMINAL_RATE
    tap, col = _Tap(), Collector()
    pipeline = Pipeline(ReplaySource(scenario, speed=0), MonitorSettings(device="cpu"), [col],
                        classifier, taps=[tap])
    assert pipeline.mode == "lockstep" and pipeline.snapshot() is None  # not open yet
    pipeline.start()
    assert pipeline.wait(60.0) and pipeline.error is None
    assert tap.info is not None and tap.info.sample_rate == NOMINAL_RATE
    assert sum(n for _, n in tap.chunks) == scenario.n_samples  # at the source's own rate
    firsts = [f for f, _ in tap.chunks]
    assert firsts == sorted(firsts) and firsts[0] == 0
    assert pipeline.buffer.written != scenario.n_samples  # resampled to 173.61 Hz
    assert len(tap.ends) == len(col.predictions) and tap.ends == sorted(tap.ends)
    view = pipeline.snapshot(seconds=10.0)
    assert view.traces.shape == (1, round(10.0 * classifier.sample_rate))
    assert view.filled == view.traces.shape[1] and view.written == pipeline.buffer.written
    np.testing.assert_array_equal(view.traces,
                                  pipeline.buffer.latest(view.filled).data[[0]])
    assert view.windows == len(col.predictions) and view.speed == 0
    assert pipeline.snapshot(view) is view  # refilled in place
