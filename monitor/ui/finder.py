"""StreamFinder: the LSL streams on the network, listed live from a background thread (a
resolve waits on the network, so it never runs in the GUI thread)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import pylsl
from PyQt6.QtCore import QObject, pyqtSignal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamChoice:
    name: str
    type: str
    source_id: str
    hostname: str
    rate: float
    channels: int

    @property
    def label(self) -> str:
        sid = f", {self.source_id}" if self.source_id else ""
        return (f"LSL: {self.name} ({self.type or 'no type'}, {self.channels} ch "
                f"@ {self.rate:g} Hz{sid} on {self.hostname})")


class StreamFinder(QObject):
    """Resolves every ``period`` seconds and emits ``found`` with the sorted list."""

    found = pyqtSignal(list)  # list[StreamChoice]

    def __init__(self, period: float = 2.0, parent=None):
        super().__init__(parent)
        self.period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lsl-finder", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 0.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                infos = pylsl.resolve_streams(wait_time=1.0)
            except Exception as exc:  # a network hiccup must not end the listing for good
                log.warning("listing LSL streams failed: %s", exc)
                infos = []
            streams = sorted({StreamChoice(i.name(), i.type(), i.source_id(), i.hostname(),
                                           i.nominal_srate(), i.channel_count())
                              for i in infos if i.nominal_srate() > 0},
                             key=lambda s: (s.name, s.hostname, s.source_id))
            if self._stop.is_set():
                return
            try:
                self.found.emit(streams)
            except RuntimeError:  # the window closed while we resolved
                return
            self._stop.wait(self.period)
