"""`seizure-monitor run --record` as a user runs it, in a subprocess: killed with SIGKILL in
the middle of a recording, the files open in mne with every alert it had printed and at most
about a second of samples missing; a disk that fills up ends the recording, not the monitor;
a path that cannot work is refused at start in one line."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import mne
import numpy as np

from model.data import NOMINAL_RATE, read_kaggle_csv
from monitor.record import RecordingPaths
from replay.scenario import build_scenario

ROOT = Path(__file__).parent.parent
SUBSET = Path(__file__).parent / "data" / "bonn_subset.csv"
SCENARIO = "normal,seizure,normal,seizure,normal,normal,normal"


def monitor(path: Path, checkpoint: Path, *flags: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "--headless", "--record", str(path),
         "--csv", str(SUBSET), "--scenario", SCENARIO, "--checkpoint", str(checkpoint),
         "--device", "cpu", *flags],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def markers(raw) -> list[str]:
    return list(raw.annotations.description)


def test_kill_9_leaves_a_readable_recording_with_every_printed_alert(
        trained_checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "crash.vhdr"
    proc = monitor(path, trained_checkpoint, "--speed", "8")
    printed, last_t = [], 0.0
    try:
        deadline = time.monotonic() + 120
        after = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"the monitor ended early: {proc.stderr.read()}"
            obj = json.loads(line)
            if obj["type"] == "alert":
                printed.append(obj)
                after = after or time.monotonic()
            elif obj["type"] == "prediction":
                last_t = obj["t"]
            # a second of wall clock past the first alert (8 s of stream), then the kill
            if after is not None and time.monotonic() - after > 1.0:
                break
        assert printed, "no alert printed"
        proc.kill()  # SIGKILL: no handler, no flush, no close
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    raw = mne.io.read_raw_brainvision(path, preload=True, verbose="error")
    rate = raw.info["sfreq"]
    assert rate == NOMINAL_RATE  # the replay's own rate: recorded before resampling
    # the samples are the scenario's, exactly, as far as they reached the disk
    scenario = build_scenario(read_kaggle_csv(SUBSET), SCENARIO.split(","))
    n = raw.n_times
    assert np.array_equal(raw.get_data(units="uV").astype(np.float32)[0], scenario.data[0, :n])
    # at most about a second missing: the last printed window ended at last_t
    assert last_t * rate - n <= 1.0 * rate, f"{last_t * rate - n:.0f} samples missing"
    descriptions = markers(raw)
    for a in printed:
        assert any(d.startswith(f"Alert/{a['class']} {a['state']} t={a['t']:.3f}")
                   for d in descriptions), (a, descriptions)


def test_a_full_disk_ends_the_recording_and_the_monitor_goes_on(
        trained_checkpoint: Path, tmp_path: Path) -> None:
    """The file size limit (RLIMIT_FSIZE) makes writes past 20 kB fail as a full disk does
    (EFBIG instead of ENOSPC; Python ignores SIGXFSZ, so the write raises)."""
    path = tmp_path / "full.vhdr"
    limit = 20_000  # about 28 s of the replay: the second seizure comes after

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    proc = monitor(path, trained_checkpoint, "--speed", "0", "--no-predictions",
                   preexec_fn=small_disk)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    failed = [i for i, e in enumerate(events) if e.get("event") == "recording_failed"]
    assert len(failed) == 1 and str(path) in events[failed[0]]["detail"]
    after = events[failed[0] + 1:]
    assert any(e["type"] == "alert" for e in after), "no alert after the recording failed"
    assert after[-1]["event"] == "stopped"
    eeg = RecordingPaths.of(path).eeg
    assert eeg.stat().st_size <= limit
    raw = mne.io.read_raw_brainvision(path, preload=True, verbose="error")  # what is there
    assert raw.n_times == eeg.stat().st_size // 4


def test_a_recording_path_that_cannot_work_is_one_line_at_start(trained_checkpoint: Path,
                                                                tmp_path: Path, capsys) -> None:
    """Refused before anything starts (the command line's own entry point, in process)."""
    from monitor.cli import main

    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "taken.vmrk").write_text("")
    for target, what in ((tmp_path / "afile" / "rec.vhdr", "is a file"),
                         (tmp_path / "rec.edf", "ending in .vhdr"),
                         (tmp_path / "taken.vhdr", "exists already")):
        code = main(["run", "--headless", "--record", str(target), "--csv", str(SUBSET),
                     "--scenario", "normal", "--speed", "0", "--checkpoint",
                     str(trained_checkpoint)])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("seizure-monitor run: error: "), err
        assert str(target) in lines[0] and what in lines[0]
