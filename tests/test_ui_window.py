"""The dashboard's main window (monitor/ui/window.py), offscreen: real replays and real LSL
streams through a real pipeline.

Every wait is on a condition with a deadline (qtbot.waitUntil); nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from helpers import SUBSET, unique  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402

from monitor.settings import MonitorSettings  # noqa: E402
from monitor.sources import LSLSource, ReplaySource, SourceChunk  # noqa: E402
from monitor.ui.controls import SourceRequest  # noqa: E402
from replay.lsl import LSLReplay  # noqa: E402
from replay.scenario import build_scenario  # noqa: E402


def replay(recordings, classes: str, speed: float, seed: int = 0, **kw) -> ReplaySource:
    return ReplaySource(build_scenario(recordings, classes.split(","), seed=seed), speed=speed,
                        name=classes, **kw)


def events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_window_opens_on_a_replay_and_applies_thresholds_live(make_window, recordings,
                                                              qtbot) -> None:
    w = make_window()
    w.start(replay(recordings, "normal", speed=2.0))
    qtbot.waitUntil(lambda: w.timeline.last is not None, timeout=20_000)
    qtbot.waitUntil(lambda: w.traces._quiet.xData is not None and
                    len(w.traces._quiet.xData) > 100, timeout=5_000)
    qtbot.waitUntil(lambda: w.banner.state in ("normal", "tumor"), timeout=2_000)
    assert "normal" in w.status.labels["source"].text()
    assert w.score_label.isVisible()  # a labelled replay is scored
    qtbot.waitUntil(lambda: re.search(r"\d\.\d measured", w.status.labels["rate"].text()),
                    timeout=5_000)

    on, off = w.controls._rule_boxes["seizure"]
    on.setValue(0.8)
    qtbot.waitUntil(lambda: w.pipeline.settings.alerts.seizure.on == pytest.approx(0.8),
                    timeout=5_000)
    off.setValue(0.9)  # above "on": refused, and said so
    assert w.controls.alert_problem.isVisible()
    assert w.settings.alerts.seizure.off == pytest.approx(0.35)

    qtbot.keyClick(w, Qt.Key.Key_P)  # freeze: drawing stops, acquisition goes on
    assert w.traces.frozen
    frozen_at = w.timeline.last.t
    qtbot.waitUntil(lambda: w.timeline.last.t > frozen_at + 1.0, timeout=10_000)
    qtbot.keyClick(w, Qt.Key.Key_P)
    assert not w.traces.frozen


def test_a_seizure_raises_the_alert_and_acknowledge_is_logged(make_window, recordings,
                                                             qtbot, tmp_path) -> None:
    w = make_window()
    w.start(replay(recordings, "normal,seizure", speed=10.0))
    qtbot.waitUntil(lambda: w.banner.state == "seizure", timeout=30_000)
    assert w.score.seizures, "the alert came before the seizure began"
    latency = w.score.seizures[0].latency
    assert latency is not None and latency < 5.0, f"alert {latency} s after the onset"
    assert w.banner.title.text() == "SEIZURE ALERT"
    assert w.banner.acknowledge.isEnabled()
    assert w.history.rowCount() == 1 and w.history.item(0, 1).text() == "seizure"
    log = tmp_path / "events.jsonl"
    qtbot.waitUntil(lambda: any(e["type"] == "alert" for e in events(log)), timeout=5_000)

    qtbot.waitUntil(lambda: w.banner._flash_on, timeout=2_000)  # flashing until acknowledged
    qtbot.waitUntil(lambda: not w.banner._flash_on, timeout=2_000)
    qtbot.keyClick(w, Qt.Key.Key_Space)  # the shortcut of the Acknowledge button
    qtbot.waitUntil(lambda: any(e.get("event") == "acknowledged" for e in events(log)),
                    timeout=5_000)
    assert w.history.item(0, 4).text() != "—"  # acknowledged at a wall-clock time
    qtbot.waitUntil(lambda: not w.banner.acknowledge.isEnabled(), timeout=2_000)
    assert w.banner.state != "seizure_ended"  # silenced, whether or not the seizure goes on
    assert not w.banner._flash_on


def test_acknowledge_after_the_replay_ended_is_still_logged(make_window, recordings, qtbot,
                                                           tmp_path) -> None:
    """The pipeline has closed its event log by then, so the window appends the line."""
    w = make_window()
    w.start(replay(recordings, "seizure", speed=20.0))
    qtbot.waitUntil(lambda: w.pipeline is not None and w.pipeline.done.is_set(), timeout=30_000)
    assert w.history.unacknowledged(), "the seizure raised no alert"
    qtbot.keyClick(w, Qt.Key.Key_Space)
    log = tmp_path / "events.jsonl"
    qtbot.waitUntil(lambda: [e.get("detail") for e in events(log)
                             if e.get("event") == "acknowledged"] == ["seizure alert acknowledged"],
                    timeout=5_000)
    assert not w.history.unacknowledged()


@pytest.mark.parametrize("kind", ["demo", "recordings"])
def test_a_replay_started_from_the_source_controls_runs(make_window, qtbot, kind: str) -> None:
    """What the Start button does: the request is built into a source off the GUI thread and
    monitored, with the replay settings the controls hold."""
    w = make_window()
    req = SourceRequest(kind, SUBSET if kind == "recordings" else None, "normal,seizure",
                        speed=8.0)
    w.start_request(req)
    qtbot.waitUntil(lambda: w.timeline.last is not None and w.timeline.last.t > 2.0,
                    timeout=20_000)
    assert not w.error_banner.isVisible()
    source = w.pipeline.source
    assert isinstance(source, ReplaySource) and source.speed == 8.0
    assert [seg.class_name for seg in source.scenario.segments] == ["normal", "seizure"]


def test_a_lost_lsl_stream_turns_the_status_bar_red_and_recovery_says_so(
        make_window, recordings, qtbot) -> None:
    scenario = build_scenario(recordings, ["normal"] * 3)
    sid = unique("dashboard-test")
    name = f"DashboardTest-{sid[-6:]}"

    def publish() -> tuple[LSLReplay, threading.Thread]:
        pub = LSLReplay(scenario, name=name, speed=1.0, loop=True, source_id=sid)
        pub.start()
        thread = threading.Thread(target=pub.run, daemon=True)
        thread.start()
        return pub, thread

    pub, thread = publish()
    try:
        # The stream is listed live by the window's finder; pick it there and press Start.
        w = make_window(MonitorSettings(stale_s=1.0), find_streams=True)
        combo = w.controls.source
        qtbot.waitUntil(lambda: any(sid in combo.itemText(i) for i in range(combo.count())),
                        timeout=15_000)
        combo.setCurrentIndex(next(i for i in range(combo.count())
                                   if sid in combo.itemText(i)))
        qtbot.mouseClick(w.controls.start, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: w.timeline.last is not None, timeout=20_000)
        assert isinstance(w.pipeline.source, LSLSource)
        assert sid in w.status.labels["source"].text()
        # (the pipeline may report a short loss while the inlet connects)
        qtbot.waitUntil(lambda: w.status.health in ("ok", "recovered"), timeout=10_000)

        pub.stop()
        thread.join(5)
        qtbot.waitUntil(lambda: w.status.health == "lost", timeout=15_000)
        assert "STREAM LOST" in w.status.labels["health"].text()
        assert "background" in w.status.styleSheet()  # red
        with qtbot.waitSignal(w.frame_drawn, timeout=2_000):
            pass  # still drawing
        qtbot.keyClick(w, Qt.Key.Key_P)
        assert w.traces.frozen  # still answering

        pub, thread = publish()
        qtbot.waitUntil(lambda: w.status.health == "recovered", timeout=30_000)
        assert "recovered" in w.status.labels["health"].text()
    finally:
        pub.stop()
        thread.join(5)


class FailingSource(ReplaySource):
    """A replay whose reads fail after a few seconds of stream."""

    def read(self) -> SourceChunk | None:
        chunk = super().read()
        if self.player.sent > 3 * self.scenario.sample_rate:
            raise OSError("the amplifier went away (test)")
        return chunk


def test_a_source_failure_shows_in_the_window_and_it_stays_usable(make_window, recordings,
                                                                  qtbot, tmp_path) -> None:
    w = make_window()
    scenario = build_scenario(recordings, ["normal"])
    w.start(FailingSource(scenario, speed=5.0, name="failing"))
    qtbot.waitUntil(lambda: w.error_banner.isVisible(), timeout=20_000)
    assert "the amplifier went away" in w.error_banner.label.text()
    assert w.status.health == "error"
    qtbot.waitUntil(lambda: w.banner.state == "error", timeout=5_000)
    qtbot.waitUntil(lambda: any(e.get("event") == "error"
                                for e in events(tmp_path / "events.jsonl")), timeout=5_000)
    w.start(replay(recordings, "normal", speed=2.0))  # and another source works
    qtbot.waitUntil(lambda: w.timeline.last is not None, timeout=20_000)
    assert not w.error_banner.isVisible()
    assert w.status.health == "ok"
