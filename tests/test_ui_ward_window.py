"""The ward window offscreen (pytest-qt) on a real redis-server: tiles, the flashing alarm,
acknowledge and snooze from the ward reaching the bedside, the history, a monitor going
offline, the GUI thread never waiting on a stalled Redis; and the bedside dashboard showing who
acknowledged at which ward."""

from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import Qt  # noqa: E402
from ward_helpers import alert_on, prediction, status  # noqa: E402

from model.checkpoint import load_classifier  # noqa: E402
from model.data import read_recordings  # noqa: E402
from monitor.launch import demo_csv  # noqa: E402
from monitor.settings import MonitorSettings  # noqa: E402
from monitor.sources import ReplaySource  # noqa: E402
from monitor.ui.ward_window import WardWindow  # noqa: E402
from monitor.ui.window import MainWindow  # noqa: E402
from monitor.ward.connection import RedisTarget  # noqa: E402
from monitor.ward.publisher import RedisPublisher  # noqa: E402
from monitor.ward.station import WardCommands  # noqa: E402
from replay.scenario import build_scenario  # noqa: E402


def _bedsides(server, n: int, acks: list) -> list[RedisPublisher]:
    pubs = []
    for i in range(n):
        pub = RedisPublisher(RedisTarget.resolve(server.url), f"bed-{i + 1}", f"Bed {i + 1}",
                             on_ack=acks.append)
        pub.claim_now()
        pub.start()
        pub.status(status("started", "test"))
        pubs.append(pub)
    return pubs


def _close(pubs: list[RedisPublisher]) -> None:
    for pub in pubs:
        pub.close()
    for pub in pubs:
        pub.join()


def test_ward_window_alarm_ack_snooze_history_offline(qtbot, redis_server):
    acks: list = []
    pubs = _bedsides(redis_server, 3, acks)
    target = RedisTarget.resolve(redis_server.url)
    window = WardWindow(target, WardCommands(target, "ana", "ward-1").start(),
                        offline_after_s=2.0, sound=False)
    qtbot.addWidget(window)
    window.resize(1200, 500)
    window.show()
    try:
        for pub in pubs:
            pub.prediction(prediction(1.0, 0.1))
        qtbot.waitUntil(lambda: len(window.tiles) == 3, timeout=10_000)
        pubs[1].prediction(prediction(2.0, 0.9, "seizure"))
        pubs[1].alert(alert_on("seizure", 70.0))
        qtbot.waitUntil(lambda: window._order[:1] == ["bed-2"], timeout=10_000)
        tile = window.tiles["bed-2"]
        assert tile.state.text().startswith("SEIZURE")
        levels = set()
        qtbot.waitUntil(lambda: levels.add(tile.property("level")) or len(levels) == 2,
                        timeout=5_000)
        assert levels == {"seizure", "seizure_dim"}  # flashing until acknowledged
        assert window.state.patients["bed-2"].sounding(time.time())
        # snooze: the sound stops for 5 minutes, the alarm stays
        window.snooze("bed-2", 5)
        st = window.state.patients["bed-2"]
        assert not st.sounding(time.time()) and st.urgent() is not None
        qtbot.waitUntil(lambda: "sound snoozed until" in tile.health.toolTip(), timeout=5_000)
        qtbot.mouseClick(tile.ack_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(acks), timeout=10_000)  # the bedside heard it
        assert (acks[0].by, acks[0].where) == ("ana", "ward-1")
        qtbot.waitUntil(lambda: tile.property("level") == "seizure_acked", timeout=5_000)
        assert "acknowledged by ana at ward-1" in tile.detail.toolTip()
        window.show_history("bed-2")
        table = window.history_dialog.table
        assert table.rowCount() == 1 and table.item(0, 1).text() == "seizure"
        assert "ana at ward-1" in table.item(0, 4).text()
        # a bedside that stops beating (no "stopped": killed) goes offline
        pubs[2].writer.close(0.0)
        qtbot.waitUntil(lambda: window.tiles["bed-3"].property("level") == "offline",
                        timeout=10_000)
        assert window.tiles["bed-3"].state.text().startswith("MONITOR OFFLINE")
    finally:
        window.shutdown()
        _close(pubs)


def test_ward_window_never_waits_on_a_stalled_redis(qtbot, redis_server):
    acks: list = []
    pubs = _bedsides(redis_server, 1, acks)
    target = RedisTarget.resolve(redis_server.url)
    window = WardWindow(target, WardCommands(target, "ana", "ward-1").start(), sound=False)
    qtbot.addWidget(window)
    window.show()
    frames = []
    window.frame_drawn.connect(lambda: frames.append(time.monotonic()))
    try:
        pubs[0].alert(alert_on("seizure", 1.0))
        qtbot.waitUntil(lambda: "bed-1" in window.tiles and
                        window.state.patients["bed-1"].urgent() is not None, timeout=10_000)
        redis_server.pause()
        try:
            t0 = time.monotonic()
            window.acknowledge("bed-1")
            window.snooze("bed-1", 15)
            assert time.monotonic() - t0 < 0.05
            qtbot.wait(1500)
            during = [f for f in frames if f > t0]
            assert len(during) >= 25  # still drawing about 30 frames a second
            assert max(b - a for a, b in zip(during, during[1:], strict=False)) < 0.25
        finally:
            redis_server.resume()
        qtbot.waitUntil(lambda: bool(acks), timeout=15_000)  # delivered once Redis answers
    finally:
        window.shutdown()
        _close(pubs)


def test_bedside_dashboard_shows_who_acknowledged_at_the_ward(qtbot, redis_server):
    target = RedisTarget.resolve(redis_server.url)
    pub = RedisPublisher(target, "bed-d", "Bed D")
    assert pub.claim_now() is None
    window = MainWindow(MonitorSettings(), load_classifier(), find_streams=False, publisher=pub)
    qtbot.addWidget(window)
    window.show()
    scenario = build_scenario(read_recordings(demo_csv()), ["seizure", "normal"], seed=0)
    window.start(ReplaySource(scenario, speed=2.0, loop=True, name="seizure"))
    try:
        qtbot.waitUntil(lambda: bool(window.history.unacknowledged()), timeout=30_000)
        commands = WardCommands(target, "ana", "ward-1").start()
        commands.acknowledge("bed-d", "seizure", None)
        qtbot.waitUntil(lambda: not window.history.unacknowledged(), timeout=10_000)
        qtbot.waitUntil(lambda: "acknowledged by ana at ward-1" in window.banner.detail.text(),
                        timeout=5_000)
        assert "ana at ward-1" in window.status.message.text()
        commands.close()
    finally:
        window.shutdown()
        pub.close()
        pub.join()
