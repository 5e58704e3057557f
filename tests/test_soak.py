"""Long runs: hours of stream replayed as fast as the worker takes it through the real pipeline
with the headless sinks, checked window by window.

The stream is a sample counter (not EEG, as a MISC channel of a live stream) next to the test
recordings looped, so every classified window is checked to hold exactly the samples it
should; memory is sampled as it goes; and a second run in other chunk sizes must print the
same thing, byte for byte. `test_soak_two_hours` is the long one (marked slow);
`test_soak_ten_minutes` runs the same checks in CI.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import psutil
import pytest

from model.checkpoint import Classifier
from model.data import BONN_RATE, BONN_SETS, Recording, read_kaggle_csv
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sinks import EventLog, JsonLinesSink, Prediction, Sink
from monitor.sources import ReplaySource
from replay.scenario import Scenario, Segment

SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"
WINDOW = 120
#: the soak's replay chunk (large, as a fast replay reads) and the usual one
SOAK_CHUNK, NORMAL_CHUNK = 997, 64
#: share of the run before memory is taken as warmed up
WARM_UP = 0.1


def looped_scenario(recordings: list[Recording], seconds: float) -> Scenario:
    """[counter, EEG] at the recordings' true rate: the recordings one set after another
    (Z, O, N, F, S, Z, ...) looped to ``seconds``."""
    by_set = {s: [r for r in recordings if r.bonn_set == s] for s in BONN_SETS}
    order = [rec for group in zip(*by_set.values(), strict=False) for rec in group]
    n = int(seconds * BONN_RATE)
    laps = -(-n // sum(r.n_samples for r in order))
    recs = order * laps
    eeg = np.concatenate([r.data[0] for r in recs])[:n]
    truth = np.concatenate([np.full(r.n_samples, r.label, np.int8) for r in recs])[:n]
    segments, start = [], 0
    for r in recs:
        if start >= n:
            break
        segments.append(Segment(start, min(n, start + r.n_samples), r.id, r.class_name))
        start += r.n_samples
    data = np.stack([np.arange(n, dtype=np.float32), eeg])
    return Scenario(data, truth, BONN_RATE, ("counter", "EEG"), tuple(segments))


class CountedReplay(ReplaySource):
    """A lockstep replay whose first channel is the counter, so only the second is classified."""

    def __init__(self, scenario: Scenario, chunk: int) -> None:
        super().__init__(scenario, speed=0, name="soak", chunk=chunk)
        self.info = replace(self.info, eeg=(1,))


class WindowCheck(Sink):
    """Checks, as each window comes out, that it is the next on the hop grid and holds exactly
    the samples it should; samples resident memory every ``every`` windows."""

    def __init__(self, pipeline: Pipeline, scenario: Scenario, hop: int, every: int = 500):
        self.pipeline, self.eeg, self.hop, self.every = pipeline, scenario.data[1], hop, every
        self.next_end = WINDOW
        self.windows = 0
        self.problems: list[str] = []
        self.rss: list[int] = []
        self._process = psutil.Process()

    def prediction(self, p: Prediction) -> None:
        end = round(p.t * BONN_RATE) + 1
        if end != self.next_end and len(self.problems) < 5:
            self.problems.append(f"window ending at {end}, expected {self.next_end}")
        win = self.pipeline.buffer.window(end, WINDOW)
        whole = win is not None and np.array_equal(win.data[0], np.arange(end - WINDOW, end)) \
            and np.array_equal(win.data[1], self.eeg[end - WINDOW:end])
        if not whole and len(self.problems) < 5:
            self.problems.append(f"window ending at {end} holds the wrong samples")
        self.next_end = end + self.hop
        self.windows += 1
        if self.windows % self.every == 0:
            self.rss.append(self._process.memory_info().rss)


@dataclass
class SoakRun:
    windows: int
    skipped: int
    written: int
    problems: list[str]
    rss: list[int]
    printed_sha256: str
    alerts: list[dict]
    statuses: list[str]
    seconds: float


def soak(classifier: Classifier, scenario: Scenario, chunk: int, out: Path) -> SoakRun:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "stdout.jsonl").open("w") as stdout:
        sinks: list[Sink] = [EventLog(out / "events.jsonl"), JsonLinesSink(stdout)]
        pipeline = Pipeline(CountedReplay(scenario, chunk), MonitorSettings(device="cpu"), sinks,
                            classifier)
        hop = round(pipeline.settings.hop_s * classifier.sample_rate)
        check = WindowCheck(pipeline, scenario, hop)
        pipeline.add_sink(check)
        start = time.perf_counter()
        pipeline.start()
        assert pipeline.wait(3 * 3600) and pipeline.error is None, pipeline.error
        seconds = time.perf_counter() - start
    logged = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    return SoakRun(
        pipeline.stats["windows"], pipeline.stats["skipped"], pipeline.buffer.written,
        check.problems, check.rss,
        hashlib.sha256((out / "stdout.jsonl").read_bytes()).hexdigest(),
        [obj for obj in logged if obj["type"] == "alert"],
        [obj["event"] for obj in logged if obj["type"] == "status"], seconds)


def check_soak(classifier: Classifier, tmp_path: Path, seconds: float) -> dict:
    scenario = looped_scenario(read_kaggle_csv(SUBSET), seconds)
    n = scenario.n_samples
    hop = round(MonitorSettings().hop_s * classifier.sample_rate)
    runs = {chunk: soak(classifier, scenario, chunk, tmp_path / f"chunk{chunk}")
            for chunk in (SOAK_CHUNK, NORMAL_CHUNK)}
    for chunk, run in runs.items():
        # No sample lost or repeated (every window held exactly its samples), no window
        # skipped (every window of the grid came out, in order, once).
        assert run.written == n
        assert run.problems == [], (chunk, run.problems)
        assert run.skipped == 0 and run.windows == (n - WINDOW) // hop + 1
        assert run.statuses[0] == "started" and run.statuses[-1] == "stopped"
        assert "skipped_windows" not in run.statuses and "error" not in run.statuses
        # Resident memory after warm-up grows by less than 5 %.
        warm = run.rss[int(len(run.rss) * WARM_UP):]
        assert len(warm) >= 5
        growth = (max(warm) - warm[0]) / warm[0]
        assert growth < 0.05, f"chunk {chunk}: RSS grew {growth:.1%} after warm-up"
    soak_run, normal = runs[SOAK_CHUNK], runs[NORMAL_CHUNK]
    # The same alerts, and the same output byte for byte, whatever the chunking.
    assert any(a["class"] == "seizure" for a in normal.alerts)
    assert soak_run.alerts == normal.alerts
    assert soak_run.printed_sha256 == normal.printed_sha256
    return {chunk: {"seconds": round(run.seconds, 1), "windows": run.windows,
                    "rss_mb": [round(r / 2**20) for r in (run.rss[0], run.rss[-1])]}
            for chunk, run in runs.items()}


def test_soak_ten_minutes(classifier: Classifier, tmp_path: Path) -> None:
    print(check_soak(classifier, tmp_path, 10 * 60))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_soak_two_hours(classifier: Classifier, tmp_path: Path) -> None:
    print(check_soak(classifier, tmp_path, 2 * 3600))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_lsl_ten_minutes_no_sample_lost() -> None:
    """Issue figure: 10 minutes of a real LSL stream (separate producer process, counter
    channel), every sample reaches the ring buffer once, in order, and no window is skipped."""
    from monitor.measure.amplifier import Amplifier
    from monitor.measure.bench import bench_classifier, stream_trial

    clf, _ = bench_classifier(None)
    with Amplifier() as amp:
        r = stream_trial(amp, clf, MonitorSettings(device="cpu"), 4, 5.0, 600.0)
    print(f"10-minute LSL stream: {r['windows']} windows, {r['skipped']} skipped, "
          f"{r['lost_samples']} lost samples, latency p99 {r['p99']:.1f} ms")
    assert r["seconds"] >= 590
    assert r["lost_samples"] == 0 and r["skipped"] == 0
