"""`seizure-monitor run` (monitor/commands/run.py): headless end to end, in a subprocess, on
real recordings; the threshold flags; and a screenshot of the dashboard."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import PNG, ROOT, SUBSET, cli, cli_argv

from model.data import CLASSES
from monitor.settings import ClassRule

#: how soon after the first seizure window the alert must be raised (stream seconds)
MAX_DELAY_S = 5.0


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    lines: list[dict]
    events: list[dict]


@pytest.fixture(scope="module")
def run(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    events = tmp_path_factory.mktemp("headless") / "events.jsonl"
    proc = cli("run", "--headless", "--csv", SUBSET, "--scenario", "normal,normal,seizure",
               "--speed", "0", "--checkpoint", trained_checkpoint, "--events", events)
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
    proc = cli("run", "--headless", "--csv", missing, "--speed", "0")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert str(missing) in lines[0] and "error" in lines[0]


def test_a_negative_speed_is_a_usage_error(trained_checkpoint: Path) -> None:
    proc = cli("run", "--headless", "--csv", SUBSET, "--speed", "-1", "--checkpoint",
               trained_checkpoint)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--speed" in lines[0] and "Traceback" not in proc.stderr


def test_threshold_flags_override_the_rule_and_an_unset_off_follows_a_lowered_on() -> None:
    from monitor.cli import build_parser
    from monitor.commands.run import settings_from_args

    def seizure_rule(*flags: str) -> ClassRule:
        args = build_parser().parse_args(["run", "--csv", "x.csv", *flags])
        return settings_from_args(args).alerts.seizure

    default = seizure_rule()
    assert seizure_rule("--seizure-on", "0.3") == ClassRule(0.3, 0.3, default.min_on_s,
                                                            default.min_off_s)
    assert seizure_rule("--seizure-on", "0.8").off == default.off
    assert (seizure_rule("--seizure-off", "0.2").on, seizure_rule("--seizure-off", "0.2").off) \
        == (default.on, 0.2)


def test_screenshot_command_writes_a_png(trained_checkpoint, tmp_path) -> None:
    png = tmp_path / "dashboard.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        cli_argv("run", "--checkpoint", trained_checkpoint, "--screenshot", png, "--duration",
                 "3"),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = png.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000
