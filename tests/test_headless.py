"""`seizure-monitor run --headless` end to end, in a subprocess, on real recordings."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.data import CLASSES

ROOT = Path(__file__).parent.parent
SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"
#: how soon after the first seizure window the alert must be raised (stream seconds)
MAX_DELAY_S = 5.0


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    lines: list[dict]
    events: list[dict]


def monitor(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor.cli", "run", "--headless", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    events = tmp_path_factory.mktemp("headless") / "events.jsonl"
    proc = monitor("--csv", str(SUBSET), "--scenario", "normal,normal,seizure", "--speed", "0",
                   "--checkpoint", str(trained_checkpoint), "--events", str(events))
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    return Run(proc.returncode, proc.stdout, proc.stderr, lines, logged)


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_probs(probs: dict) -> None:
    assert list(probs) == list(CLASSES)
    assert all(v is None or (is_number(v) and 0 <= v <= 1) for v in probs.values())


def test_exit_code_zero_and_every_line_is_json_of_a_documented_shape(run: Run) -> None:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.lines) == len(run.stdout.splitlines()) > 100
    kinds = {"prediction": 0, "alert": 0, "status": 0}
    for obj in run.lines:
        kinds[obj["type"]] += 1
        assert is_number(obj["t"]) and obj["t"] >= 0
        if obj["type"] == "prediction":
            assert {"type", "t", "probs", "smoothed", "truth"} <= set(obj)
            check_probs(obj["probs"])
            check_probs(obj["smoothed"])
            assert obj["truth"] in CLASSES
        elif obj["type"] == "alert":
            assert {"type", "state", "class", "t", "p"} <= set(obj)
            assert obj["state"] in ("on", "off") and obj["class"] in ("seizure", "tumor")
            assert is_number(obj["p"]) and 0 <= obj["p"] <= 1
        else:
            assert {"type", "t", "event", "detail"} <= set(obj)
            assert isinstance(obj["event"], str) and isinstance(obj["detail"], str)
    assert all(kinds.values()), kinds
    times = [obj["t"] for obj in run.lines if obj["type"] == "prediction"]
    assert times == sorted(times)


def test_seizure_alert_within_seconds_of_onset_and_none_before(run: Run) -> None:
    predictions = [obj for obj in run.lines if obj["type"] == "prediction"]
    truths = [p["truth"] for p in predictions]
    # The scenario: two normal recordings, then the seizure to the end.
    first = truths.index("seizure")
    assert set(truths[:first]) == {"normal"} and set(truths[first:]) == {"seizure"}
    onset = predictions[first]["t"]
    assert 40 < onset < 50  # two 23-second recordings
    alerts = [obj for obj in run.lines if obj["type"] == "alert" and obj["class"] == "seizure"]
    assert alerts, "no seizure alert"
    assert all(a["t"] >= onset for a in alerts), (onset, alerts)
    on = alerts[0]
    assert on["state"] == "on"
    assert on["t"] - onset <= MAX_DELAY_S, (onset, on)
    assert on["onset"] >= onset
    # The predictions say the same: no seizure state before the onset, seizure after the alert.
    assert all(p["state"] != "seizure" for p in predictions[:first])
    assert predictions[-1]["state"] == "seizure"


def test_the_events_file_holds_the_alerts(run: Run) -> None:
    assert run.events[0]["type"] == "session"
    alerts = [obj for obj in run.lines if obj["type"] == "alert"]
    assert [obj for obj in run.events if obj["type"] == "alert"] == alerts
    statuses = [obj for obj in run.lines if obj["type"] == "status"]
    assert [obj for obj in run.events if obj["type"] == "status"] == statuses
    assert not [obj for obj in run.events if obj["type"] == "prediction"]


def test_a_missing_csv_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    proc = monitor("--csv", str(missing), "--speed", "0")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert str(missing) in lines[0] and "error" in lines[0]


def test_a_negative_speed_is_a_usage_error(trained_checkpoint: Path) -> None:
    proc = monitor("--csv", str(SUBSET), "--speed", "-1", "--checkpoint",
                   str(trained_checkpoint))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--speed" in lines[0] and "Traceback" not in proc.stderr
