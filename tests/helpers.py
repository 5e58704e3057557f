"""What the tests share besides fixtures (those are in conftest.py): the test data's paths, the
Kaggle CSV layout, unique LSL names, LSL outlets that carry a sample counter, a sink that keeps
what the pipeline reports, the command line in a subprocess, and waiting on a condition with a
deadline instead of a fixed sleep."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pylsl

from model.checkpoint import Classifier
from model.data import BONN_RATE, BONN_SETS, CHUNK, CLASSES, Recording
from model.train import TrainConfig, TrainResult, train
from monitor.alerts import AlertEvent
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.sources import LSLSource
from replay.scenario import Scenario, Segment

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
SUBSET = DATA / "bonn_subset.csv"
#: the model's window, in samples
WINDOW = 120
#: the levels every evaluation reports figures for (model/evaluate.py)
LEVELS = ("window", "smoothed_5s", "recording")
#: how every PNG file begins
PNG = b"\x89PNG\r\n\x1a\n"


def unique(prefix: str) -> str:
    """A name or source_id no other test (running at the same time on this machine) uses, so
    tests never see each other's LSL streams."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(condition: Callable[[], object], timeout: float = 10.0,
               what: str = "the condition") -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


# --- the recordings ---------------------------------------------------------------------------


def by_set(recordings: list[Recording], bonn_set: str, k: int = 0) -> np.ndarray:
    """The EEG of the ``k``-th recording of a Bonn set (S: seizure, F/N: tumor, O/Z: normal)."""
    return [r for r in recordings if r.bonn_set == bonn_set][k].data[0]


def per_set(recordings: list[Recording], n: int, skip: int = 0) -> list[Recording]:
    """``n`` recordings of each Bonn set, after skipping the first ``skip`` of each."""
    return [r for s in BONN_SETS for r in [x for x in recordings if x.bonn_set == s][skip:skip + n]]


def quick_train(train_recs: list[Recording], val_recs: list[Recording] | None,
                seed: int = 0, epochs: int = 2) -> TrainResult:
    """A few seconds of training with one torch thread (two are far slower on a busy machine)."""
    cfg = TrainConfig(epochs=epochs, seed=seed, windows_per_recording=16, batch_size=32,
                      threads=1)
    return train(train_recs, val_recs, cfg, progress=False)


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


def class_scenario(classes: list[str], seconds: float = 10.0, rate: float = 10.0) -> Scenario:
    """A flat scenario of one recording per class named, ``seconds`` each: for scoring, where
    only the truth counts."""
    n = int(seconds * rate)
    segs = tuple(Segment(k * n, (k + 1) * n, f"r{k}", c) for k, c in enumerate(classes))
    truth = np.concatenate([np.full(n, CLASSES.index(c), np.int8) for c in classes])
    return Scenario(np.zeros((1, len(truth)), np.float32), truth, rate, ("EEG",), segs)


def probs(seizure: float | list[float], tumor: float = 0.0) -> np.ndarray:
    """(n_channels, 3) probabilities with the given seizure (per channel) and tumor values."""
    s = np.atleast_1d(np.asarray(seizure, np.float64))
    t = np.full_like(s, tumor)
    return np.stack([s, t, np.clip(1 - s - t, 0, 1)], axis=1)


# --- the Kaggle CSV layout --------------------------------------------------------------------

HEADER = "Unnamed," + ",".join(f"X{i}" for i in range(1, CHUNK + 1)) + ",y"


def csv_row(row_id: str, y: int | str, start: int = 0) -> str:
    """One CSV row whose samples count up from ``start``, so their order is checkable."""
    return ",".join([row_id, *map(str, range(start, start + CHUNK)), str(y)])


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\r\n".join([header, *rows]) + "\r\n")
    return path


GOOD = csv_row("X1.V1.9", 1)
#: case -> (header, rows, where the reader's error must point)
MALFORMED = {
    "wrong header": (HEADER.replace("X7,", "X8,"), [GOOD], "line 1"),
    "short header": (HEADER.rsplit(",", 1)[0], [GOOD], "line 1"),
    "short row": (HEADER, [GOOD, GOOD.replace("X1.", "X2.").rsplit(",", 2)[0] + ",1"], "line 3"),
    "long row": (HEADER, [GOOD, GOOD.replace("X1.", "X2.") + ",4"], "line 3"),
    "non-numeric cell": (HEADER, [GOOD, GOOD.replace("X1.", "X2.").replace(",5,", ",5a,")],
                         "line 3, column X6"),
    "empty cell": (HEADER, [GOOD.replace(",5,", ",,")], "line 2, column X6"),
    "not finite": (HEADER, [GOOD.replace(",5,", ",nan,")], "line 2, column X6"),
    # Found by the fuzz test: finite as float64, infinite as the float32 the model sees.
    "beyond float32": (HEADER, [GOOD.replace(",5,", ",7e94,")], "line 2, column X6"),
    "label 0": (HEADER, [GOOD[:-1] + "0"], "line 2"),
    "label 6": (HEADER, [GOOD[:-1] + "6"], "line 2"),
    "label 1.0": (HEADER, [GOOD[:-1] + "1.0"], "line 2"),
    "duplicate chunk": (HEADER, [GOOD, csv_row("X2.V1.9", 1), GOOD], "line 4"),
}


# --- the command line -------------------------------------------------------------------------


def cli_argv(*args: object) -> list[str]:
    """`seizure-monitor ARGS` as this Python runs it (the tests' PYTHONPATH is inherited)."""
    return [sys.executable, "-m", "monitor.cli", *map(str, args)]


def cli(*args: object, cwd: Path = ROOT,
        timeout: float = 280.0) -> subprocess.CompletedProcess[str]:
    """`seizure-monitor ARGS` in a fresh process, as a user runs it (the timeout is under
    pytest's, so a hang shows the process's own output)."""
    return subprocess.run(cli_argv(*args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def ok(run: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have succeeded."""
    assert run.returncode == 0, run.stderr
    return run.stdout


# --- LSL streams with a sample counter --------------------------------------------------------


def lsl_outlet(name: str, source_id: str, channels: list[tuple[str, str, str]], rate: float,
               fmt: int = pylsl.cf_float32, stype: str = "EEG") -> pylsl.StreamOutlet:
    """An outlet whose <channels> description lists (label, type, unit) per channel."""
    info = pylsl.StreamInfo(name, stype, len(channels), rate, fmt, source_id)
    chans = info.desc().append_child("channels")
    for label, ctype, unit in channels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("type", ctype)
        ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def counter_outlet(name: str, source_id: str, fmt: int = pylsl.cf_float32,
                   unit: str = "microvolts", rate: float = BONN_RATE,
                   eeg: tuple[str, ...] = ("EEG",)) -> pylsl.StreamOutlet:
    """[counter (MISC), EEG channels named ``eeg``], at the Bonn rate unless told."""
    channels = [("counter", "MISC", "count"), *((label, "EEG", unit) for label in eeg)]
    return lsl_outlet(name, source_id, channels, rate, fmt)


def stamps_from(t0: float, n: int) -> np.ndarray:
    """The timestamps of ``n`` samples at the Bonn rate from ``t0``."""
    return t0 + np.arange(n) / BONN_RATE


def push(outlet: pylsl.StreamOutlet, eeg: np.ndarray, start: int, stop: int, t0: float,
         dtype=np.float32, chunk: int = 64) -> None:
    """Samples [start, stop) with the counter, stamped t0 + i / rate, in chunks."""
    for a in range(start, stop, chunk):
        b = min(a + chunk, stop)
        data = np.stack([np.arange(a, b), eeg[a:b]], axis=1).astype(dtype)
        outlet.push_chunk(data, (t0 + np.arange(a, b) / BONN_RATE).tolist())


def push_in_step(pipeline: Pipeline, outlet: pylsl.StreamOutlet, eeg: np.ndarray,
                 stamps: np.ndarray, start: int, stop: int, dtype=np.float32) -> None:
    """Push samples [start, stop) with the counter, sample i stamped ``stamps[i]``: a hop at a
    time (a whole window first), each once the worker has looked at every window the samples
    so far complete; a live stream the worker keeps up with."""
    hop = pipeline.worker.hop
    sent = start
    while sent < stop:
        n = min(stop - sent, max(hop, WINDOW - sent))
        data = np.stack([np.arange(sent, sent + n), eeg[sent:sent + n]], axis=1).astype(dtype)
        outlet.push_chunk(data, stamps[sent:sent + n].tolist())
        sent += n
        wait_until(lambda sent=sent: pipeline.buffer.written == sent
                   and pipeline.worker.next_end > sent, 10.0, f"sample {sent}")


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

    def stays_false(self, condition, seconds: float) -> bool:
        """True if ``condition`` (checked on every report) stays false ``seconds``."""
        with self._cond:
            return not self._cond.wait_for(condition, seconds)


def lsl_pipeline(name: str, classifier: Classifier, collector: Collector,
                 **settings) -> Pipeline:
    """A started pipeline on the LSL stream ``name``, its source open."""
    source = LSLSource(name=name, timeout=10.0)
    pipeline = Pipeline(source, MonitorSettings(device="cpu", **settings), [collector],
                        classifier)
    pipeline.start()
    assert pipeline.ready.wait(15.0)
    assert pipeline.error is None, pipeline.error
    return pipeline


def assert_one_line_error(run: subprocess.CompletedProcess[str], command: str,
                          named: str) -> None:
    """A refused input: exit 2 and one line on stderr, naming it, with no traceback."""
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"seizure-monitor {command}: error: "), lines
    assert named in lines[0]
