"""Bad files, flags and checkpoints on the command line, and input that cannot be trusted.

Every bad input to `run --headless` and `replay` gives one line on stderr naming the input
(and what to do), exit code 2, nothing on stdout and no traceback. The reader-level cases are
tests/test_data.py's; here they go through ``main()`` as the console command calls it (an
exception escaping it would be the traceback), and a few through a real subprocess. (Named for
what it covers, not for one module: the same bad input is tried on every command it reaches.)
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import mne
import numpy as np
import pytest
import torch
from helpers import (
    HEADER,
    MALFORMED,
    ROOT,
    SUBSET,
    cli,
    cli_argv,
    counter_outlet,
    unique,
    wait_until,
    write_csv,
)

from model.checkpoint import weights_hash
from monitor.cli import main


def one_line_error(command: str, code: int, out: str, err: str, *named: str) -> str:
    assert code == 2, (code, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"seizure-monitor {command}: error: "), lines[0]
    for name in named:
        assert name in lines[0], (name, lines[0])
    return lines[0]


# --- malformed and unusable data files, through both commands ----------------------------


def csv_case(case: str) -> Callable[[Path], Path]:
    header, rows, _ = MALFORMED[case]
    return lambda tmp: write_csv(tmp / "bad.csv", rows, header=header)


def file_of(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name
    return make


def folder(tmp: Path) -> Path:
    (tmp / "adir.csv").mkdir()
    return tmp / "adir.csv"


def ecg_only(tmp: Path) -> Path:
    path = tmp / "ecg_raw.fif"
    info = mne.create_info(["ECG"], 256.0, ["ecg"])
    mne.io.RawArray(np.zeros((1, 512)), info, verbose="error").save(path, verbose="error")
    return path


#: case -> (flag, the bad input it is given, what the message must say besides the path)
DATA_FILES: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    **{f"csv {case}": ("--csv", csv_case(case), MALFORMED[case][2]) for case in MALFORMED},
    "csv empty file": ("--csv", file_of("empty.csv", b""), "empty"),
    "csv header only": ("--csv", lambda tmp: write_csv(tmp / "head.csv", []), "no data rows"),
    "csv a directory": ("--csv", folder, "directory"),
    "csv missing": ("--csv", lambda tmp: tmp / "missing.csv", "no such file"),
    "csv binary": ("--csv", file_of("bin.csv", b"\xff\xfe\x00\x81" * 50), "not a text CSV"),
    "eeg unreadable": ("--file", file_of("junk.edf", np.random.default_rng(1).bytes(4096)),
                       "mne cannot read"),
    # mne's messages for these span several lines
    "eeg unreadable vhdr": ("--file", file_of("junk.vhdr", b"\xd5\xe2s\n\x19\n" * 100),
                            "mne cannot read"),
    "eeg unreadable cnt": ("--file", file_of("junk.cnt", np.random.default_rng(2).bytes(4096)),
                           "mne cannot read"),
    "eeg missing": ("--file", lambda tmp: tmp / "missing.fif", "no such file"),
    "eeg without eeg channels": ("--file", ecg_only, "no EEG channels"),
    "bonn folder without sets": ("--bonn", lambda tmp: tmp, "no recordings found"),
}


@pytest.mark.parametrize("command", ["run", "replay"])
@pytest.mark.parametrize("case", DATA_FILES)
def test_a_bad_data_file_is_one_line_naming_it(tmp_path: Path, capsys, command: str,
                                               case: str) -> None:
    flag, make, where = DATA_FILES[case]
    path = make(tmp_path)
    argv = [command, flag, str(path)]
    if command == "run":
        argv += ["--headless", "--speed", "0"]
    else:
        argv += ["--speed", "0", "--name", unique("bad-input")]
    code = main(argv)
    out, err = capsys.readouterr()
    one_line_error(command, code, out, err, str(path), where)


# --- impossible flags and scenarios ------------------------------------------------------

RUN_FLAGS = {
    "negative speed": (["--speed", "-1"], "--speed"),
    "speed nan": (["--speed", "nan"], "--speed"),
    "speed inf": (["--speed", "inf"], "--speed"),
    "hop longer than the buffer": (["--hop", "40"], "--hop"),
    "hop zero": (["--hop", "0"], "--hop"),
    "negative smoothing": (["--smoothing", "-1"], "--smoothing"),
    "threshold above 1": (["--seizure-on", "1.5"], "on=1.5"),
    "channels-k zero": (["--channels-k", "0"], "--channels-k"),
    "unknown scenario class": (["--scenario", "normal,sleep"], "unknown class 'sleep'"),
    "unknown recording id": (["--recordings", "Q:nope"], "'Q:nope'"),
    "config missing": (["--config", "{tmp}/none.toml"], "none.toml"),
    "config unknown key": (["--config", "{tmp}/odd.toml"], "odd.toml"),
    "config channels_k zero": (["--config", "{tmp}/k0.toml"], "k0.toml: --channels-k"),
    "config buffer shorter than a window": (["--config", "{tmp}/buf.toml"],
                                            "buf.toml: buffer_s"),
    "config unknown smoothing mode": (["--config", "{tmp}/mode.toml"], "mode.toml: --smoothing"),
    "config zero torch threads": (["--config", "{tmp}/thr.toml"], "thr.toml: torch_threads"),
    "events in a missing folder": (["--events", "{tmp}/no/such/dir/events.jsonl"],
                                   "events.jsonl"),
    "events is a directory": (["--events", "{tmp}"], "--events"),
    "cuda without cuda": (["--device", "cuda"], "--device cuda"),
    "lsl and a file": (["--lsl", "X"], "not both"),
    "host without a stream": (["--host", "lab-pc"], "--host"),
    "scale without a stream": (["--scale", "2"], "--scale"),
}


#: command -> its flags but the output; each writes its output only when its work is done
OUTPUT_COMMANDS = {
    "train": (["train", "--csv", str(SUBSET), "--epochs", "1"], "--json"),
    "train --out": (["train", "--csv", str(SUBSET), "--epochs", "1"], "--out"),
    "evaluate": (["evaluate", "--csv", str(SUBSET)], "--json"),
    "evaluate --plots": (["evaluate", "--csv", str(SUBSET)], "--plots"),
    "compare": (["compare", "--csv", str(SUBSET), "--epochs", "1"], "--json"),
    "bench": (["bench", "--tiny"], "--json"),
}


@pytest.mark.parametrize("case", OUTPUT_COMMANDS)
def test_an_output_path_that_cannot_be_written_is_refused_before_the_work(
        tmp_path: Path, capsys, case: str) -> None:
    """Its folder would sit under a file: refused at once, not after an hour of training."""
    argv, flag = OUTPUT_COMMANDS[case]
    (tmp_path / "a_file").write_text("")
    target = tmp_path / "a_file" / "sub" / "out.json"
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_:
        main([*argv, flag, str(target)])
    assert exit_.value.code == 2 and time.monotonic() - start < 5.0
    err = capsys.readouterr().err
    assert flag in err and "cannot create folder" in err
    assert f"{tmp_path / 'a_file'} is a file" in err


def test_an_output_folder_is_checked_at_once_and_made_only_when_written(tmp_path: Path,
                                                                         capsys) -> None:
    from monitor.commands import output_dir, output_file

    assert output_file(f"{tmp_path}/new/deeper/x.json") == tmp_path / "new/deeper/x.json"
    assert output_dir(f"{tmp_path}/plots/here") == tmp_path / "plots/here"
    assert not (tmp_path / "new").exists() and not (tmp_path / "plots").exists()
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        output_file(str(tmp_path))
    # A command refused for another flag leaves no folder behind.
    assert main(["evaluate", "--csv", str(SUBSET), "--out", str(tmp_path / "never")]) == 2
    assert "--out" in capsys.readouterr().err and not (tmp_path / "never").exists()
    # The figures are written into the folders the command makes.
    assert main(["evaluate", "--csv", str(SUBSET), "--json", str(tmp_path / "a/b/s.json"),
                 "--plots", str(tmp_path / "c/d")]) == 0
    assert (tmp_path / "a/b/s.json").is_file() and list((tmp_path / "c/d").glob("*.png"))


@pytest.mark.parametrize("case", RUN_FLAGS)
def test_an_impossible_run_flag_is_one_line_naming_it(tmp_path: Path, capsys,
                                                      trained_checkpoint: Path,
                                                      case: str) -> None:
    if case == "cuda without cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    (tmp_path / "odd.toml").write_text("hopp_s = 0.2\n")
    (tmp_path / "k0.toml").write_text("[alerts]\nchannels_k = 0\n")
    (tmp_path / "buf.toml").write_text("buffer_s = 0.5\nhop_s = 0.1\n")
    (tmp_path / "mode.toml").write_text('smoothing_mode = "median"\n')
    (tmp_path / "thr.toml").write_text("torch_threads = 0\n")
    flags, named = RUN_FLAGS[case]
    flags = [f.format(tmp=tmp_path) for f in flags]
    base = ["run", "--headless", "--csv", str(SUBSET), "--speed", "0", "--checkpoint",
            str(trained_checkpoint)]
    if "--scenario" not in flags and "--recordings" not in flags:
        base += ["--scenario", "normal"]  # short, should a case not fail
    code = main(base + flags)
    out, err = capsys.readouterr()
    one_line_error("run", code, out, err, named)


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--speed", "nan"], "--speed"), (["--speed", "inf"], "--speed"),
     (["--file", "{subset}", "--scenario", "normal"], "--scenario")],
    ids=["speed nan", "speed inf", "scenario of an unlabelled file"],
)
def test_an_impossible_replay_flag_is_one_line_naming_it(capsys, flags: list[str],
                                                         named: str) -> None:
    """The rest (negative speed, unknown class or id, --duration 0) are in test_replay.py."""
    flags = [f.format(subset=SUBSET) for f in flags]
    source = [] if "--file" in flags else ["--csv", str(SUBSET)]
    code = main(["replay", *source, *flags, "--name", unique("bad-flag")])
    out, err = capsys.readouterr()
    one_line_error("replay", code, out, err, named)


# --- checkpoints -------------------------------------------------------------------------


class WouldRunCode:
    """Unpickling this runs a shell command (which would create ``marker``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def edited(ckpt: dict, path: Path, edit: Callable[[dict], None]) -> Path:
    ckpt = {**ckpt, "config": dict(ckpt["config"]), "state_dict": dict(ckpt["state_dict"])}
    edit(ckpt)
    torch.save(ckpt, path)
    return path


def tamper(ckpt: dict) -> None:
    name = next(iter(ckpt["state_dict"]))
    ckpt["state_dict"][name] = ckpt["state_dict"][name] + 1.0


def smaller_net(ckpt: dict) -> None:
    """A config that does not fit the weights, with a hash that fits them (so the hash check
    passes and the shapes are what is wrong)."""
    ckpt["config"]["hidden"] = ckpt["config"]["hidden"] // 2
    ckpt["weights_sha256"] = weights_hash(ckpt["state_dict"])


CHECKPOINTS: dict[str, tuple[Callable[[dict, Path], Path], str]] = {
    "missing": (lambda c, tmp: tmp / "none.pt", "not found"),
    "random bytes": (lambda c, tmp: (tmp / "junk.pt", (tmp / "junk.pt").write_bytes(
        b"PK\x03\x04" + bytes(range(256)) * 8))[0], "not a readable checkpoint"),
    "truncated": (lambda c, tmp: truncated(c, tmp / "half.pt"), "not a readable checkpoint"),
    "empty": (lambda c, tmp: (tmp / "empty.pt", (tmp / "empty.pt").write_bytes(b""))[0],
              "not a readable checkpoint (corrupt or truncated?): EOFError"),
    "a directory": (lambda c, tmp: tmp, "not found"),
    "another program's": (lambda c, tmp: (tmp / "other.pt", torch.save(
        {"weights": torch.zeros(3)}, tmp / "other.pt"))[0], "not a seizure-monitor checkpoint"),
    "a newer format": (lambda c, tmp: edited(c, tmp / "v2.pt", lambda d: d.update(version=2)),
                       "version 2"),
    "another window": (lambda c, tmp: edited(
        c, tmp / "w240.pt", lambda d: (d.update(window=240), d["config"].update(window=240))),
        "240-sample windows"),
    "another class set": (lambda c, tmp: edited(
        c, tmp / "classes.pt", lambda d: d.update(classes=["seizure", "normal"])),
        "['seizure', 'normal']"),
    "two outputs for three classes": (lambda c, tmp: edited(
        c, tmp / "n2.pt", lambda d: d["config"].update(n_classes=2)), "2 outputs"),
    "keys missing": (lambda c, tmp: edited(
        c, tmp / "keys.pt", lambda d: (d.pop("config"), d.pop("window"))), "lacks config, window"),
    "tampered weights": (lambda c, tmp: edited(c, tmp / "tampered.pt", tamper), "stored hash"),
    "weights of another shape": (lambda c, tmp: edited(c, tmp / "shape.pt", smaller_net),
                                 "do not fit the stored model config"),
}


def truncated(ckpt: dict, path: Path) -> Path:
    torch.save(ckpt, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(scope="module")
def checkpoint_dict(trained_checkpoint: Path) -> dict:
    return torch.load(trained_checkpoint, map_location="cpu", weights_only=True)


def run_with_checkpoint(path: Path) -> list[str]:
    return ["run", "--headless", "--csv", str(SUBSET), "--scenario", "normal", "--speed", "0",
            "--checkpoint", str(path)]


@pytest.mark.parametrize("case", CHECKPOINTS)
def test_a_bad_checkpoint_is_refused_in_one_line_naming_it(tmp_path: Path, capsys,
                                                           checkpoint_dict: dict,
                                                           case: str) -> None:
    make, why = CHECKPOINTS[case]
    path = make(checkpoint_dict, tmp_path)
    code = main(run_with_checkpoint(path))
    out, err = capsys.readouterr()
    one_line_error("run", code, out, err, str(path), why)


#: how the payload is written -> what the refusal says
EXPLOITS = {
    "torch.save": "refused: the file holds Python objects",
    "pickle protocol 2": "refused: the file holds Python objects",
    # the safe loader stops at protocol 4's framing before it meets the object
    "pickle protocol 4": "not a readable checkpoint",
}


def exploit(kind: str, path: Path, marker: Path) -> Path:
    payload = {"format": "seizure-monitor-checkpoint", "version": 1, "x": WouldRunCode(marker)}
    if kind == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=int(kind[-1])))
    return path


@pytest.mark.parametrize("kind", EXPLOITS)
def test_a_checkpoint_that_would_run_code_is_refused_and_runs_none(tmp_path: Path, capsys,
                                                                   kind: str) -> None:
    marker = tmp_path / "pwned"
    path = exploit(kind, tmp_path / "evil.pt", marker)
    code = main(run_with_checkpoint(path))
    out, err = capsys.readouterr()
    line = one_line_error("run", code, out, err, str(path), EXPLOITS[kind])
    assert "weights_only" not in line  # torch's own advice is to load it unsafely
    assert not marker.exists()


# --- the real command line ---------------------------------------------------------------


def test_on_the_real_command_line_too(tmp_path: Path) -> None:
    """A process of its own: no warning or log line from a library reaches stderr, no code
    from the checkpoint runs."""
    marker = tmp_path / "pwned"
    evil = exploit("pickle protocol 2", tmp_path / "evil.pt", marker)
    proc = cli(*run_with_checkpoint(evil))
    one_line_error("run", proc.returncode, proc.stdout, proc.stderr, str(evil), "refused")
    assert not marker.exists()
    bad = write_csv(tmp_path / "bad.csv", [], header=HEADER.replace("X7,", "X8,"))
    proc = cli("replay", "--csv", str(bad), "--speed", "0")
    one_line_error("replay", proc.returncode, proc.stdout, proc.stderr, str(bad), "line 1")


# --- two streams of one name -------------------------------------------------------------

#: liblsl's own log lines ("2026-01-01 12:00:00.000 (   0.001s) [thread] file.cpp:12 INFO| ...")
LIBLSL_LOG = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \(\s*[\d.]+s\) \[.*\]\s+\S+:\d+\s+\w+\|")


def own_lines(stderr: str) -> list[str]:
    """stderr less liblsl's log lines (its level is the user's, set in lsl_api.cfg)."""
    return [line for line in stderr.strip().splitlines() if not LIBLSL_LOG.match(line)]



def test_two_streams_of_one_name_are_listed_and_refused_unless_one_is_picked(
    trained_checkpoint: Path, tmp_path: Path
) -> None:
    """LSL has no authentication: a second publisher of the name is listed with everything
    that tells them apart, and the monitor refuses to guess. --source-id picks one, and the
    event log says which (source_id and host) it monitors."""
    name = unique("twin")
    sids = unique("twin-a"), unique("twin-b")
    outlets = [counter_outlet(name, sid) for sid in sids]
    host = socket.gethostname()
    proc = cli("run", "--headless", "--lsl", name, "--timeout", "10", "--checkpoint",
               str(trained_checkpoint))
    assert proc.returncode == 1
    assert [json.loads(line)["event"] for line in proc.stdout.splitlines()] == ["error",
                                                                                 "stopped"]
    assert "Traceback" not in proc.stderr
    [line] = own_lines(proc.stderr)
    assert line.startswith("seizure-monitor run: error: source: 2 LSL streams match")
    for sid in sids:
        assert (f"name={name!r} type='EEG' source_id={sid!r} host={host!r} rate=173.61 "
                f"channels=2") in line
    assert "--source-id" in line and "--host" in line

    events = tmp_path / "events.jsonl"
    picked = subprocess.Popen(
        cli_argv("run", "--headless", "--lsl", name, "--source-id", sids[1], "--timeout", "30",
                 "--events", events, "--checkpoint", trained_checkpoint, "--no-predictions"),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert outlets[1].wait_for_consumers(60.0), "the monitor did not connect"
        assert not outlets[0].have_consumers()
        wait_until(lambda: events.exists() and '"started"' in events.read_text(), 10.0,
                   "the started line")
        outlets[1].push_chunk(np.ones((50, 2), np.float32))
        picked.send_signal(signal.SIGTERM)
        t = time.monotonic()
        out, err = picked.communicate(timeout=15.0)
    finally:
        if picked.poll() is None:
            picked.kill()
            picked.communicate()
    assert picked.returncode == 0, err
    assert time.monotonic() - t < 5.0
    status = [obj for obj in map(json.loads, events.read_text().splitlines())
              if obj["type"] == "status"]
    started = status[0]
    assert started["event"] == "started"
    assert f"source_id={sids[1]!r}" in started["detail"] and f"host={host!r}" in started["detail"]
    assert status[-1]["event"] == "stopped"


@pytest.mark.parametrize("flags", [["--speed", "2"], ["--scenario", "normal"], ["--loop"]])
def test_replay_flags_with_a_live_stream_are_refused_not_ignored(capsys,
                                                                 flags: list[str]) -> None:
    assert main(["run", "--headless", "--lsl", "X", *flags]) == 2
    err = capsys.readouterr().err
    assert flags[0] in err and "live LSL stream" in err and len(err.strip().splitlines()) == 1
