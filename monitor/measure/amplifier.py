"""The synthetic amplifier: a process of its own that publishes EEG-like samples over LSL, as
a real amplifier would, for the bench and the long LSL tests.

It pushes float32 samples at a given rate, stamped with ``local_clock()`` at the push, with a
sample counter on an extra non-EEG channel, so every window's last sample can be traced to its
push and a lost sample is counted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pylsl
from scipy.signal import lfilter

from monitor.lsl_log import quiet_liblsl

#: samples of synthetic signal the amplifier loops over (about 6 s)
TABLE_SAMPLES = 1024


class BenchError(RuntimeError):
    """A measurement that could not be taken (no stream, a pipeline error)."""


def synthetic_eeg(n_channels: int, n_samples: int, rate: float, seed: int = 0) -> np.ndarray:
    """(n_channels, n_samples) float32, about 40 uV of 1/f-like noise plus an alpha rhythm:
    within the training data's range, never flat or clipped, so every window is classified."""
    rng = np.random.default_rng(seed)
    noise = lfilter([1.0], [1.0, -0.95], rng.standard_normal((n_channels, n_samples)), axis=1)
    noise *= 35.0 / noise.std(axis=1, keepdims=True)
    t = np.arange(n_samples) / rate
    freq = rng.uniform(8.0, 12.0, (n_channels, 1))
    phase = rng.uniform(0, 2 * np.pi, (n_channels, 1))
    return (noise + 20.0 * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def _stream_info(n_eeg: int, rate: float, source_id: str) -> pylsl.StreamInfo:
    info = pylsl.StreamInfo("seizure-monitor-bench", "EEG", n_eeg + 1, rate, pylsl.cf_float32,
                            source_id)
    channels = info.desc().append_child("channels")
    for k in range(n_eeg + 1):
        ch = channels.append_child("channel")
        ch.append_child_value("label", "counter" if k == 0 else f"EEG{k:04d}")
        ch.append_child_value("unit", "microvolts")
        ch.append_child_value("type", "MISC" if k == 0 else "EEG")
    return info


def _serve_stream(conn) -> None:
    """The amplifier process: on ("start", ...) publish a stream, push until "stop", send back
    the push time of every sample; "quit" ends the process."""
    while True:
        cmd = conn.recv()
        if cmd[0] == "quit":
            return
        _, n_eeg, rate, source_id, max_s = cmd
        block = np.empty((TABLE_SAMPLES, n_eeg + 1), np.float32)
        block[:, 1:] = synthetic_eeg(n_eeg, TABLE_SAMPLES, rate).T
        outlet = pylsl.StreamOutlet(_stream_info(n_eeg, rate, source_id))
        conn.send("ready")
        push = np.full(int(max_s * rate) + 1, np.nan)
        sent = 0
        while not conn.poll() and not outlet.wait_for_consumers(0.1):
            pass
        t0 = pylsl.local_clock()
        # Paced by elapsed time, not by sleeping 1/rate: a late wake-up pushes what fell due.
        while not conn.poll() and sent < len(push):
            due = min(len(push), int((pylsl.local_clock() - t0) * rate) + 1)
            if due > sent:
                idx = np.arange(sent, due)
                chunk = block[idx % TABLE_SAMPLES]
                chunk[:, 0] = idx
                now = pylsl.local_clock()
                outlet.push_chunk(chunk, now)
                push[sent:due] = now
                sent = due
            wait = t0 + sent / rate - pylsl.local_clock()
            if wait > 0:
                time.sleep(wait)
        conn.recv()  # the "stop"
        del outlet
        conn.send(push[:sent])


class _Duplex:
    """Two one-way pipes as one connection (send / recv / poll of picklable objects)."""

    def __init__(self, read_fd: int, write_fd: int):
        self._in = Connection(read_fd, writable=False)
        self._out = Connection(write_fd, readable=False)
        self.recv, self.poll, self.send = self._in.recv, self._in.poll, self._out.send

    def close(self) -> None:
        self._in.close()
        self._out.close()


def _amplifier_main(read_fd: int, write_fd: int) -> None:
    quiet_liblsl()  # its log lines would land in the bench's report
    conn = _Duplex(read_fd, write_fd)
    try:
        _serve_stream(conn)
    finally:
        conn.close()


class Amplifier:
    """Handle on the amplifier process; ``with Amplifier() as amp: amp.start(...); amp.stop()``.

    A plain subprocess, not multiprocessing: a spawned process would re-run the caller's main
    script, which a script without an ``if __name__ == "__main__"`` guard does not survive.
    """

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._conn: _Duplex | None = None

    def __enter__(self) -> Amplifier:
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        code = f"from monitor.measure.amplifier import _amplifier_main; " \
               f"_amplifier_main({to_child}, " \
               f"{from_child})"
        self._proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                                      pass_fds=(to_child, from_child))
        os.close(to_child)
        os.close(from_child)
        self._conn = _Duplex(to_parent, from_parent)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, n_eeg: int, rate: float, source_id: str, max_s: float) -> None:
        self._conn.send(("start", n_eeg, rate, source_id, max_s))
        if not self._conn.poll(60) or self._conn.recv() != "ready":
            raise BenchError("the synthetic amplifier process did not publish its stream.")

    def stop(self) -> np.ndarray:
        """Stop pushing; the push time (local_clock) of every sample sent, by counter."""
        self._conn.send(("stop",))
        if not self._conn.poll(30):
            raise BenchError("the synthetic amplifier process did not stop.")
        return self._conn.recv()

    def close(self) -> None:
        """Ask the process to quit, then make sure it has; safe to call twice."""
        if self._proc is None:
            return
        with contextlib.suppress(OSError):  # it may have gone already
            self._conn.send(("quit",))
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._conn.close()
        self._proc = self._conn = None
