"""Stopping: SIGKILL loses nothing already reported, SIGINT and SIGTERM stop the headless
monitor cleanly (exit code 0, the event log ending with "stopped"), and ``stop()`` joins the
threads and closes the inlet before the monitor's own outlets and the event log. (Named for
what it covers: stopping crosses the command, the pipeline, the source and the sinks.)"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
from helpers import (
    ROOT,
    SUBSET,
    Collector,
    by_set,
    cli_argv,
    counter_outlet,
    push,
    unique,
    wait_until,
)

from model.checkpoint import Classifier
from model.data import Recording
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sinks import EventLog, LSLResultSink
from monitor.sources import LSLSource


class Monitor:
    """The headless monitor in a subprocess, its stdout read line by line as it comes."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(cli_argv("run", "--headless", *args), cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, condition, timeout: float, what: str) -> None:
        """Read stdout until ``condition(self.seen)`` holds."""
        deadline = time.monotonic() + timeout
        while not condition(self.seen):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {what}; stderr: {self.stderr_now()}"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, f"the monitor ended before {what}: {self.stderr_now()}"
            if line.endswith("\n"):  # a line cut by a kill is not a line
                self.seen.append(json.loads(line))

    def rest(self) -> list[dict]:
        """Whatever it printed after what was read, once it has exited."""
        self._reader.join(10.0)
        while (line := self.lines.get_nowait()) is not None:
            if line.endswith("\n"):
                self.seen.append(json.loads(line))
        return self.seen

    def stderr_now(self) -> str:
        return self.proc.stderr.read() if self.proc.poll() is not None else "(running)"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def kinds(lines: list[dict], kind: str) -> list[dict]:
    return [obj for obj in lines if obj["type"] == kind]


def test_sigkill_mid_run_leaves_a_valid_event_log_with_every_alert_printed(
    trained_checkpoint: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    monitor = Monitor("--csv", str(SUBSET), "--scenario", "seizure,normal,seizure,normal",
                      "--loop", "--speed", "0", "--no-predictions", "--events", str(events),
                      "--checkpoint", str(trained_checkpoint))
    try:
        monitor.until(lambda seen: len(kinds(seen, "alert")) >= 5, 60.0, "five alerts")
        monitor.proc.kill()  # SIGKILL, mid-run: the replay loops for ever
        monitor.proc.wait(10.0)
        printed = monitor.rest()
    finally:
        monitor.close()
    assert monitor.proc.returncode == -signal.SIGKILL
    text = events.read_text()
    assert text.endswith("\n")
    logged = [json.loads(line) for line in text.splitlines()]  # every line is whole JSON
    assert logged[0]["type"] == "session"
    # Every alert it printed before it died is in the log, in order (the log is written
    # first, so it may hold one the kill kept from reaching stdout).
    alerts_printed, alerts_logged = kinds(printed, "alert"), kinds(logged, "alert")
    assert len(alerts_printed) >= 5
    assert alerts_logged[:len(alerts_printed)] == alerts_printed
    assert len(alerts_logged) - len(alerts_printed) <= 1
    assert kinds(logged, "status")[:len(kinds(printed, "status"))] == kinds(printed, "status")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_the_headless_monitor_cleanly(
    trained_checkpoint: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    """A paced replay (its own acquisition and worker threads), stopped mid-run: exit code 0
    within a few seconds, "stopped" the last line of stdout and of the event log."""
    events = tmp_path / "events.jsonl"
    monitor = Monitor("--csv", str(SUBSET), "--scenario", "normal", "--loop", "--speed", "2",
                      "--events", str(events), "--checkpoint", str(trained_checkpoint))
    try:
        monitor.until(lambda seen: len(kinds(seen, "prediction")) >= 10, 60.0, "predictions")
        monitor.proc.send_signal(sig)
        sent = time.monotonic()
        monitor.proc.wait(15.0)
        took = time.monotonic() - sent
        printed, err = monitor.rest(), monitor.proc.stderr.read()
    finally:
        monitor.close()
    assert monitor.proc.returncode == 0, err
    assert took < 3.0, f"took {took:.1f} s to stop"
    assert "Traceback" not in err and "error" not in err
    assert printed[-1]["type"] == "status" and printed[-1]["event"] == "stopped"
    assert "0 skipped" in printed[-1]["detail"]
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    assert logged[-1] == printed[-1]
    assert [obj["event"] for obj in kinds(logged, "status")].count("stopped") == 1


# --- in process: what stop() does --------------------------------------------------------


class RecordingSource(LSLSource):
    def __init__(self, order: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.order = order

    def close(self) -> None:
        if self._inlet is not None:
            self.order.append("inlet")
        super().close()


class RecordingOutlets(LSLResultSink):
    def __init__(self, order: list[str], *args) -> None:
        super().__init__(*args)
        self.order = order

    def close(self) -> None:
        if self._probs is not None:
            self.order.append("outlets")
        super().close()


def test_stop_while_the_stream_is_lost_joins_threads_and_closes_inlet_outlets_log_in_order(
    classifier: Classifier, recordings: list[Recording], tmp_path: Path
) -> None:
    """Ctrl-C while the amplifier is unplugged: the inlet is recovering inside liblsl, and
    stop() still returns at once, with everything closed, inlet first."""
    eeg = by_set(recordings, "S")
    name, sid = unique("stop"), unique("stop-sid")
    outlet = counter_outlet(name, sid)
    order: list[str] = []
    col = Collector()
    log = EventLog(tmp_path / "events.jsonl")
    outlets = RecordingOutlets(order, unique("stop-results"), 10.0, unique("stop-results"))
    pipeline = Pipeline(RecordingSource(order, name=name, timeout=10.0),
                        MonitorSettings(device="cpu"), [log, col, outlets], classifier)
    pipeline.start()
    assert pipeline.ready.wait(15.0) and pipeline.error is None, pipeline.error
    assert outlet.wait_for_consumers(5.0)
    push(outlet, eeg, 0, 400, pylsl.local_clock())
    wait_until(lambda: pipeline.buffer.written == 400, 10.0, "400 samples")
    outlet = None
    col.wait_for(lambda: col.events("stream_lost"), 10.0, "stream_lost")
    start = time.monotonic()
    pipeline.stop()
    assert pipeline.wait(5.0)
    assert time.monotonic() - start < 2.0
    assert all(not t.is_alive() for t in pipeline._threads)
    assert order == ["inlet", "outlets"]
    assert pipeline.source._inlet is None and log._fd == -1
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert lines[-1]["event"] == "stopped" and lines[-2]["event"] == "stream_lost"
    pipeline.stop()  # twice is safe
    pipeline.source.close()
    assert np.isfinite(col.predictions[-1].smoothed).all()
