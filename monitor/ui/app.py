"""`seizure-monitor run` with a window: the QApplication, the window, and screenshot mode."""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path

from model.checkpoint import load_classifier
from monitor.launch import SourceSpec
from monitor.settings import MonitorSettings
from monitor.sources import Source
from monitor.ui import has_screen
from monitor.ui.controls import SourceRequest
from monitor.ui.finder import StreamChoice
from monitor.ward.publisher import RedisPublisher

DEFAULT_SCREENSHOT_AFTER_S = 10.0


def _qt_message(mode, context, message: str) -> None:
    # The offscreen platform (screenshots, tests) says this on every layout change.
    if "does not support propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def request_from_spec(spec: SourceSpec) -> SourceRequest:
    """The command line's source, as the window's source controls show it."""
    speed, loop, scenario = spec.replay_speed, spec.loop, spec.scenario or ""
    if spec.live:
        return SourceRequest("lsl", stream=StreamChoice(
            spec.lsl or "", spec.lsl_type or "", spec.source_id or "", spec.host or "", 0.0, 0))
    path = spec.csv or spec.bonn or spec.file
    if path is None:
        return SourceRequest("demo", None, scenario, speed, loop)
    return SourceRequest("recordings", Path(path), scenario, speed, loop)


def run_dashboard(source: Source, settings: MonitorSettings, spec: SourceSpec,
                  events: Path | None = None, lsl_out: bool = False,
                  screenshot: Path | None = None, duration: float | None = None,
                  record: Path | None = None, publisher: RedisPublisher | None = None,
                  patient: str | None = None) -> int:
    """Show the dashboard on ``source`` until the window is closed (or, with ``screenshot``,
    for ``duration`` seconds, then save a PNG of the window)."""
    if not has_screen():  # `run` only gets here without a screen for a screenshot
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    classifier = load_classifier(settings.checkpoint)

    from PyQt6 import sip
    from PyQt6.QtCore import QTimer, qInstallMessageHandler
    from PyQt6.QtWidgets import QApplication

    from monitor.ui.window import MainWindow

    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("seizure-monitor")
    window = MainWindow(settings, classifier, events=events, find_streams=screenshot is None,
                        lsl_out=lsl_out, record=record, publisher=publisher, patient=patient)
    window.resize(1600, 1000)
    request = request_from_spec(spec)
    window.controls.show_request(request)
    window.show()
    window.start(source, request)

    # Ctrl+C in the terminal closes the window: Python only sees signals while it runs, so a
    # timer wakes it now and then.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)

    saved = {"ok": True}
    if screenshot is not None:
        def shoot() -> None:
            window.banner.flash(False)  # a still shows the alarm colour, not a random phase
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            saved["ok"] = window.grab().save(str(screenshot))
            if not saved["ok"]:
                print(f"seizure-monitor run: error: {screenshot}: cannot write the PNG.",
                      file=sys.stderr)
            window.close()

        QTimer.singleShot(int(1000 * (duration or DEFAULT_SCREENSHOT_AFTER_S)), shoot)
    elif duration is not None:
        QTimer.singleShot(int(1000 * duration), window.close)
    # What exists now lives as long as the window: keep the collector from walking it, so a
    # full collection does not stall a frame.
    gc.freeze()
    app.exec()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    wake.stop()
    window.shutdown()
    app.processEvents()  # what the pipeline posted while it stopped
    if publisher is not None:  # the last events (down to "stopped") to Redis, if it answers
        publisher.close()
        publisher.join()
    error = window.pipeline.error if window.pipeline is not None else None
    # The window (and the sinks it gave its pipelines) go before the application does: the
    # other order, left to the garbage collector, crashes at exit now and then.
    sip.delete(window)
    if not saved["ok"]:
        return 1
    if error:
        print(f"seizure-monitor run: error: {error}", file=sys.stderr)
        return 1
    return 0
