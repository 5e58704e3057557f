"""A private ``redis-server`` for the tests and the ward bench: a free port, its own folder,
an optional password and persistence, and the faults the ward must survive (kill -9 and
restart on the same port and folder, a stall by SIGSTOP).

Written by hand because there is no well-kept library for it: ``redis-server`` from the
system's package (Debian ``redis-server``) is started as a child process, and nothing is
faked (no fakeredis).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

#: how long a starting server may take before it is given up on
START_S = 15.0


def free_port() -> int:
    """A port nothing listens on now (redis-server refuses ``--port 0``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRedis:
    """One redis-server child process; ``start()``, ``kill()`` (SIGKILL), ``restart()``,
    ``pause()`` / ``resume()`` (SIGSTOP / SIGCONT), ``stop()``."""

    def __init__(self, folder: str | Path, password: str | None = None,
                 appendonly: bool = False, port: int | None = None):
        exe = shutil.which("redis-server")
        if exe is None:
            raise FileNotFoundError("redis-server: not found on PATH; install Debian's "
                                    "redis-server package (or Valkey) to run the ward's tests "
                                    "and bench.")
        self.exe = exe
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.appendonly = appendonly
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password,
                           socket_timeout=5, **kwargs)

    def start(self) -> LocalRedis:
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.folder), "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", "everysec", "--daemonize", "no",
                "--logfile", str(self.folder / "redis.log")]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_S
        client = self.client(socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    # With AOF on, a server still loading its file answers LOADING: wait.
                    if client.ping():
                        return self
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "redis.log")
                    tail = log.read_text()[-500:] if log.exists() else ""
                    self.stop()
                    raise RuntimeError(f"redis-server on port {self.port} did not start: "
                                       f"{tail}")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: what was not yet written to its file is lost (AOF fsyncs every second)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused one dies too
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> LocalRedis:
        """kill -9, then start again on the same port and folder."""
        self.kill()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (a stalled network)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
