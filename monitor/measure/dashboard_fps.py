"""measure_dashboard_fps: the dashboard on a real pipeline with many channels, offscreen.

The source is a ReplaySource over a Scenario built here: the bundled demo recordings copied to
``channels`` channels at 178 Hz, each shifted in time so no two lanes are alike. The replay
starts 10 s in, so the traces are full from the first frame.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import numpy as np

from model.checkpoint import Classifier, load_classifier, shipped_checkpoint
from model.data import BONN_RATE, CLASSES, NOMINAL_RATE, read_recordings
from model.network import SeizureNet
from replay.player import Player
from replay.scenario import Scenario, Segment, build_scenario

DEMO_CLASSES = ["normal", "tumor", "normal", "seizure", "normal"]


def run_qt_for(seconds: float) -> None:
    """Let Qt run for ``seconds`` in a local event loop (QApplication.quit() would close the
    window being measured)."""
    from PyQt6.QtCore import QEventLoop, Qt, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), Qt.TimerType.PreciseTimer, loop.quit)
    loop.exec()


def synthetic_scenario(channels: int = 64) -> Scenario:
    """The demo scenario on ``channels`` channels (channel i delayed by 7 i samples)."""
    from monitor.launch import demo_csv

    demo = build_scenario(read_recordings(demo_csv()), DEMO_CLASSES)
    n = demo.n_samples
    data = np.stack([np.roll(demo.data[0], 7 * i) for i in range(channels)]).astype(np.float32)
    return Scenario(data, demo.truth.copy(), NOMINAL_RATE,
                    tuple(f"EEG{i + 1:02d}" for i in range(channels)),
                    (Segment(0, n, f"demo-x{channels}", None),))


class _ClockAhead:
    """perf_counter, except that every reading after the first is ``lead`` seconds ahead:
    a player started on it hands out its first ``lead`` seconds at once."""

    def __init__(self, lead: float):
        self.lead, self._started = lead, False

    def __call__(self) -> float:
        if not self._started:
            self._started = True
            return time.perf_counter()
        return time.perf_counter() + self.lead


def _classifier(checkpoint: Path | None) -> tuple[Classifier, str]:
    if checkpoint is not None:
        return load_classifier(checkpoint), str(checkpoint)
    if shipped_checkpoint().is_file():
        return load_classifier(), "shipped"
    # Frame rate does not depend on the weights: an untrained network of the same size.
    net = SeizureNet().eval()
    return Classifier(net, CLASSES, net.config.window, BONN_RATE, {}), "untrained (same size)"


def measure_dashboard_fps(channels: int = 64, seconds: float = 10.0,
                          checkpoint: Path | None = None) -> dict:
    """Frames actually drawn per second, and the longest gap between frame-timer ticks (a
    stall of the GUI thread), with the worker running. Creates the QApplication if needed."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6 import sip
    from PyQt6.QtCore import QEvent, QObject
    from PyQt6.QtWidgets import QApplication

    from monitor.settings import MonitorSettings
    from monitor.sources import ReplaySource
    from monitor.ui.window import MainWindow

    app = QApplication.instance() or QApplication(["measure_dashboard_fps"])
    classifier, model = _classifier(checkpoint)
    scenario = synthetic_scenario(channels)
    source = ReplaySource(scenario, speed=1.0, loop=True, name=f"synthetic-{channels}ch")
    source.player = Player(scenario, speed=1.0, loop=True, clock=_ClockAhead(10.0))
    window = MainWindow(MonitorSettings(), classifier, find_streams=False)
    window.resize(1600, 1000)
    window.show()
    window.start(source)

    class PaintCounter(QObject):
        count = 0

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    painted = PaintCounter()
    window.traces.viewport().installEventFilter(painted)
    ticks: list[float] = []
    window.frame_drawn.connect(lambda: ticks.append(time.perf_counter()))

    deadline = time.monotonic() + 60
    while window.timeline.last is None and time.monotonic() < deadline:
        run_qt_for(0.2)
    if window.timeline.last is None:
        window.close()
        window.shutdown()
        raise RuntimeError(f"the pipeline gave no prediction within 60 s: "
                           f"{window.pipeline.error if window.pipeline else 'not started'}")
    run_qt_for(1.0)  # warm-up: first layouts, caches
    gc.freeze()  # as run_dashboard does
    ticks.clear()
    painted.count = 0
    windows0 = window.pipeline.stats["windows"]
    skipped0 = window.pipeline.stats["skipped"]
    start, cpu0, gui0 = time.perf_counter(), time.process_time(), time.thread_time()
    run_qt_for(seconds)
    elapsed = time.perf_counter() - start
    cpu, gui = time.process_time() - cpu0, time.thread_time() - gui0
    stats = dict(window.pipeline.stats)
    gaps = np.diff(ticks) * 1e3 if len(ticks) > 1 else np.array([np.inf])
    window.close()
    window.shutdown()
    app.processEvents()
    sip.delete(window)  # before the application, whoever owns it
    return {
        "channels": channels,
        "rate_hz": scenario.sample_rate,
        "seconds": round(elapsed, 2),
        "fps": round(painted.count / elapsed, 1),
        "ticks_per_s": round(len(ticks) / elapsed, 1),
        "max_gap_ms": round(float(gaps.max()), 1),
        "p99_gap_ms": round(float(np.percentile(gaps, 99)), 1),
        "windows": stats["windows"] - windows0,
        "skipped_windows": stats["skipped"] - skipped0,
        "infer_ms": round(stats["infer_ms"], 2),
        # CPU, not wall, time: what the dashboard itself costs, whatever else the machine runs
        "gui_cpu_ms_per_frame": round(1e3 * gui / max(1, len(ticks)), 1),
        "process_cpu_percent": round(100 * cpu / elapsed),
        "model": model,
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
