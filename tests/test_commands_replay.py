"""`seizure-monitor replay` (monitor/commands/replay.py): a scenario published as LSL."""

from __future__ import annotations

import threading
import time

import pylsl
import pytest
from helpers import SUBSET, unique

from monitor.cli import main


def test_replay_command_at_speed_0_waits_for_an_inlet_and_loses_nothing(capsys) -> None:
    sid = unique("test")
    received: list[int] = []

    def consume() -> None:
        # Connect only after the command has started: at speed 0 it must wait for us.
        streams = pylsl.resolve_bypred(f"source_id='{sid}'", 1, 15.0)
        inlet = pylsl.StreamInlet(streams[0], max_buflen=60)
        inlet.open_stream(timeout=5.0)
        idle = time.monotonic()
        while time.monotonic() - idle < 2.0:
            _, stamps = inlet.pull_chunk(timeout=0.2)
            if stamps:
                received.append(len(stamps))
                idle = time.monotonic()

    consumer = threading.Thread(target=consume)
    consumer.start()
    code = main(["replay", "--csv", str(SUBSET), "--scenario", "tumor,seizure", "--seed", "1",
                 "--speed", "0", "--name", "CliTest", "--source-id", sid])
    consumer.join(30)
    out, err = capsys.readouterr()
    assert code == 0
    assert "waiting for an inlet" in err
    assert sum(received) == 2 * 23 * 178
    first, last = out.strip().splitlines()
    assert "'CliTest'" in first and sid in first and "178 Hz" in first
    assert "2 segment(s)" in first and "(tumor)" in first and "(seizure)" in first
    assert last == f"done: {2 * 23 * 178} samples sent"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--speed", "-1"], "--speed must be"),
        (["--scenario", "normal,sleep"], "unknown class 'sleep'"),
        (["--recordings", "Q:nope"], "no recording with id 'Q:nope'"),
        (["--duration", "0"], "--duration must be"),
    ],
)
def test_replay_command_errors_are_one_line(capsys, flags, message) -> None:
    assert main(["replay", "--csv", str(SUBSET), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seizure-monitor replay: error: ")
    assert message in err[0]
