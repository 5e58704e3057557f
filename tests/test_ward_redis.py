"""The bedside publisher and the ward station against a real redis-server (started by the
tests on a free port in a temp folder), through the faults the issue lists: Redis down at the
start, killed with -9 and restarted with and without persistence, stalled, a wrong password,
a foreign entry, the ward restarted, a second monitor claiming a patient id.

Each test feeds the real publisher decisions (alert on/off, status events, predictions) and
checks, at a ward reading the streams, that every alert and acknowledgement arrives exactly
once and in order, while the sink calls never wait on Redis.

Cross-cutting: the ward package against a real redis-server, every fault of the issue."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from helpers import wait_until
from ward_helpers import Notes, alert_off, alert_on, prediction, status

from monitor.measure.redis_server import LocalRedis
from monitor.ward.claim import ClaimHeld
from monitor.ward.connection import RedisTarget
from monitor.ward.keys import PatientKeys
from monitor.ward.publisher import RedisPublisher
from monitor.ward.station import Station, WardCommands


def _publisher(server: LocalRedis, patient: str = "bed-1", **kw) -> tuple[RedisPublisher,
                                                                              Notes]:
    notes = Notes()
    pub = RedisPublisher(RedisTarget.resolve(server.url), patient, f"Bed {patient}",
                         notify=notes, **kw)
    return pub, notes


class Ward:
    """A station collecting what it prints."""

    def __init__(self, server: LocalRedis, offline_after_s: float = 5.0):
        self.events: list[dict] = []
        self.station = Station(RedisTarget.resolve(server.url), self.events.append,
                               offline_after_s=offline_after_s, block_ms=200).start()

    def of(self, type_: str, patient: str | None = None) -> list[dict]:
        return [e for e in list(self.events) if e["type"] == type_
                and (patient is None or e["patient"] == patient)]

    def alert_uids(self) -> list[str]:
        return [e["uid"] for e in self.of("alert")]

    def stop(self) -> None:
        self.station.stop()


def _raise_alerts(pub: RedisPublisher, n: int, t0: float = 0.0) -> None:
    """n alerts, each on then off: 2n durable alert messages."""
    for i in range(n):
        t = t0 + 10 * i
        pub.alert(alert_on("seizure", t))
        pub.alert(alert_off("seizure", t, t + 5))


def _sent_alert_uids(pub: RedisPublisher) -> list[str]:
    return [e.message.uid for e in list(pub.outbox._entries) if e.message.type == "alert"]


def test_alerts_status_trend_and_acks_both_ways(redis_server):
    acks = []
    pub, notes = _publisher(redis_server, on_ack=acks.append)
    assert pub.claim_now() is None
    pub.start()
    ward = Ward(redis_server)
    try:
        pub.status(status("started", "replay 'demo'"))
        for i in range(5):
            pub.prediction(prediction(i * 0.1, 0.2 + 0.1 * i))
        pub.alert(alert_on("seizure", 70.0))
        wait_until(lambda: ward.of("alert"), what="the alert at the ward")
        alert = ward.of("alert")[0]
        assert alert["label"] == "Bed bed-1" and alert["class"] == "seizure"
        assert alert["state"] == "on" and alert["received"] >= alert["ts"]
        st = ward.station.state.patients["bed-1"]
        wait_until(lambda: st.p is not None, what="a trend entry")
        assert st.p == pytest.approx(0.6) and st.health == "ok"
        # the ward acknowledges: the bedside's on_ack gets who and where
        commands = WardCommands(RedisTarget.resolve(redis_server.url), "ana", "ward-1").start()
        commands.acknowledge("bed-1", "seizure", alert["alert_id"])
        wait_until(lambda: acks, what="the ward's ack at the bedside")
        assert (acks[0].by, acks[0].where, acks[0].alert_id) == ("ana", "ward-1",
                                                                  alert["alert_id"])
        # the bedside's pipeline logs it: the publisher sees the status and echoes it once
        pub.status(status("acknowledged", "seizure alert (onset t=69.5 s) acknowledged by ana "
                                          "at ward-1"))
        wait_until(lambda: ward.of("ack", "bed-1") and len(ward.of("ack")) >= 2)
        alarm = st.alarms[alert["alert_id"]]
        assert [(a.by, a.where, a.origin) for a in alarm.acks] == [("ana", "ward-1", "ward")]
        # a second ack command for the same alert is not applied at the bedside twice
        commands.acknowledge("bed-1", "seizure", alert["alert_id"])
        wait_until(lambda: len(ward.of("ack")) >= 3)
        assert len(acks) == 1
        commands.close()
        # a bedside ack of the next alert reaches the ward with the bedside's name
        pub.alert(alert_off("seizure", 70.0, 80.0))
        pub.alert(alert_on("tumor", 90.0))
        pub.status(status("acknowledged", "tumor alert (onset t=89.5 s) acknowledged"))
        wait_until(lambda: any(a.origin == "bedside" for al in st.alarms.values()
                               for a in al.acks))
        assert [a.cls for a in st.alarms.values()] == ["seizure", "tumor"]
        assert notes.items == []
    finally:
        pub.close()
        pub.join()
        ward.stop()


def test_redis_down_at_start_then_everything_once_in_order(tmp_path):
    server = LocalRedis(tmp_path / "r")  # port chosen, not started
    pub, notes = _publisher(server)
    assert "cannot connect" in pub.claim_now()
    pub.start()
    t0 = time.monotonic()
    _raise_alerts(pub, 5)
    assert time.monotonic() - t0 < 0.1  # the sink never waits on Redis
    wait_until(lambda: "publish_offline" in notes.events())
    server.start()
    try:
        ward = Ward(server)
        wait_until(lambda: len(ward.of("alert")) == 10, what="10 alert messages")
        assert ward.alert_uids() == _sent_alert_uids(pub)
        assert notes.events()[:2] == ["publish_offline", "publish_online"]
        pub.status(status("stopped", "0 windows"))
        pub.close()
        assert pub.join()
        wait_until(lambda: ward.of("status"))
        assert ward.station.state.duplicates == 0
        ward.stop()
    finally:
        server.stop()


@pytest.mark.parametrize("appendonly", [True, False], ids=["aof", "no-persistence"])
def test_redis_killed_and_restarted_mid_run(redis_factory, appendonly):
    server = redis_factory(appendonly=appendonly)
    pub, notes = _publisher(server)
    pub.claim_now()
    pub.start()
    ward = Ward(server)
    stop = threading.Event()
    fed = []

    def feed():
        i = 0
        while not stop.is_set() and i < 400:
            pub.alert(alert_on("seizure", 10.0 * i))
            pub.alert(alert_off("seizure", 10.0 * i, 10.0 * i + 5))
            pub.prediction(prediction(i, 0.5))
            fed.append(i)
            i += 1
            time.sleep(0.005)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        wait_until(lambda: len(ward.of("alert")) > 40, what="alerts before the kill")
        server.restart()  # kill -9, start again on the same port and folder
        wait_until(lambda: "publish_online" in notes.events(), what="the publisher back")
        stop.set()
        feeder.join()
        sent = _sent_alert_uids(pub)
        wait_until(lambda: len(ward.of("alert")) == len(sent), timeout=15,
                   what=f"{len(sent)} alerts at the running ward")
        assert ward.alert_uids() == sent  # none lost, none twice, in order
        # a ward started now reads the stream from the start: the same, once each
        late = Ward(server)
        wait_until(lambda: len(late.of("alert")) == len(sent), timeout=15)
        assert late.alert_uids() == sent and late.station.state.duplicates == 0
        late.stop()
        if not appendonly:  # the empty server was refilled with the session's history
            assert pub.writer.stats["resent"] >= 40
        print(f"resent {pub.writer.stats['resent']} of {len(sent)}, "
              f"duplicates skipped at the ward {ward.station.state.duplicates}")
    finally:
        stop.set()
        feeder.join()
        pub.close()
        pub.join()
        ward.stop()


def test_stalled_network_does_not_hold_the_bedside(redis_server):
    pub, notes = _publisher(redis_server)
    pub.claim_now()
    pub.start()
    ward = Ward(redis_server)
    try:
        _raise_alerts(pub, 2)
        wait_until(lambda: len(ward.of("alert")) == 4)
        redis_server.pause()  # SIGSTOP: connections stay open, nothing answers
        try:
            t0 = time.monotonic()
            _raise_alerts(pub, 3, t0=100)
            pub.status(status("bad_samples", "EEG: flat line"))
            assert time.monotonic() - t0 < 0.1
            wait_until(lambda: "publish_offline" in notes.events(), timeout=8,
                       what="the client timeout")
        finally:
            redis_server.resume()
        wait_until(lambda: len(ward.of("alert")) == 10, timeout=15)
        assert ward.alert_uids() == _sent_alert_uids(pub)
        assert any(e["event"] == "bad_samples" for e in ward.of("status"))
    finally:
        pub.close()
        pub.join()
        ward.stop()


def test_ward_restarted_shows_history_and_current_state(redis_server):
    pub, _ = _publisher(redis_server)
    pub.claim_now()
    pub.start()
    try:
        _raise_alerts(pub, 3)
        pub.alert(alert_on("seizure", 100.0))
        first = Ward(redis_server)
        wait_until(lambda: len(first.of("alert")) == 7)
        first.stop()
        second = Ward(redis_server)
        wait_until(lambda: len(second.of("alert")) == 7)
        st = second.station.state.patients["bed-1"]
        assert len(st.alarms) == 4 and st.urgent() is not None
        assert second.alert_uids() == first.alert_uids()
        second.stop()
    finally:
        pub.close()
        pub.join()


def test_wrong_password_is_one_line_without_the_password(redis_factory):
    server = redis_factory(password="right-pw")
    wrong = server.url.replace("right-pw", "wrong-pw")
    notes = Notes()
    pub = RedisPublisher(RedisTarget.resolve(wrong), "bed-1", notify=notes)
    line = pub.claim_now()
    assert "refused the password" in line and "wrong-pw" not in line and ":***@" in line
    pub.start()
    pub.alert(alert_on("seizure", 1.0))  # monitoring goes on
    wait_until(lambda: notes.items)
    event, detail = notes.items[0]
    assert event == "publish_offline" and "wrong-pw" not in detail
    assert "refused the password" in detail and "\n" not in detail
    pub.close()
    pub.join()


def test_foreign_entries_are_skipped_with_a_warning(redis_factory, caplog):
    redis_server = redis_factory(appendonly=True)
    acks = []
    pub, notes = _publisher(redis_server, on_ack=acks.append)
    pub.claim_now()
    pub.start()
    keys = PatientKeys("bed-1")
    ward = Ward(redis_server)
    try:
        pub.alert(alert_on("seizure", 1.0))
        wait_until(lambda: ward.of("alert"))
        client = redis_server.client()
        with caplog.at_level(logging.WARNING):
            client.xadd(keys.events, {"hello": "world"})
            client.xadd(keys.events, {"v": "1", "type": "alert", "ts": "1", "data": "[]",
                                      "uid": "x:y:1"})
            client.xadd(keys.trend, {"v": "1", "type": "trend", "ts": "1", "data": "{}"})
            client.xadd(keys.commands, {"v": "1", "type": "ack", "ts": "1", "data": "{}"})
            client.hset("seizure-monitor:patients", "not a patient!", "x")
            # the publisher reconnects to a restarted Redis and reconciles, reading back past
            # the foreign entries
            redis_server.restart()
            client = redis_server.client()
            wait_until(lambda: "publish_online" in notes.events(), what="a reconnect")
            pub.alert(alert_off("seizure", 1.0, 5.0))
            wait_until(lambda: len(ward.of("alert")) == 2)
            wait_until(lambda: ward.station.state.skipped == 4, what="4 entries skipped")
            WardCommands(RedisTarget.resolve(redis_server.url), "ana", "w").start() \
                .acknowledge("bed-1", "seizure", ward.of("alert")[0]["alert_id"])
            wait_until(lambda: acks, what="a valid ack after the foreign one")
        messages = [r.getMessage() for r in caplog.records]
        assert sum("skipped" in m for m in messages) == 6  # 4 at the ward, 1 bedside, 1 id
        assert "bed-1" in ward.station.state.patients and len(ward.station.state.patients) == 1
        server_uids = [f[b"uid"].decode() for _, f in client.xrange(keys.events)
                       if b"uid" in f and f[b"uid"].startswith(b"bed-1")]
        assert server_uids == [e.message.uid for e in pub.outbox._entries]
    finally:
        pub.close()
        pub.join()
        ward.stop()


def test_second_monitor_is_refused_unless_it_takes_over(redis_server):
    first, first_notes = _publisher(redis_server)
    assert first.claim_now() is None
    first.start()
    try:
        second, _ = _publisher(redis_server)
        with pytest.raises(ClaimHeld, match="--take-over") as info:
            second.claim_now()
        assert "pid" in str(info.value)
        third, _ = _publisher(redis_server, take_over=True)
        assert third.claim_now() is None
        third.start()
        wait_until(lambda: "publish_refused" in first_notes.events(), what="the takeover seen")
        holder = json.loads(redis_server.client().get(PatientKeys("bed-1").claim))
        assert holder["session"] == third.session
        third.close()
        third.join()
        # a monitor that stopped released its claim: the id is free again at once
        fourth, _ = _publisher(redis_server)
        assert fourth.claim_now() is None
    finally:
        first.close()
        first.join()


@pytest.mark.parametrize("appendonly", [True, False], ids=["aof", "no-persistence"])
def test_acks_both_ways_survive_a_redis_kill(redis_factory, appendonly):
    server = redis_factory(appendonly=appendonly)
    target = RedisTarget.resolve(server.url)
    acks = []
    pub, _ = _publisher(server, on_ack=acks.append)
    pub.claim_now()
    pub.start()
    ward = Ward(server)
    commands = WardCommands(target, "ana", "ward-1").start()
    try:
        pub.alert(alert_on("seizure", 10.0))
        pub.alert(alert_on("tumor", 12.0))
        wait_until(lambda: len(ward.of("alert")) == 2)
        server.kill()
        # while Redis is down: the ward acknowledges the seizure, the bedside the tumor
        seizure = ward.of("alert")[0]["alert_id"]
        commands.acknowledge("bed-1", "seizure", seizure)
        pub.status(status("acknowledged", "tumor alert (onset t=11.5 s) acknowledged"))
        server.start()
        wait_until(lambda: acks, timeout=15, what="the ward's ack at the bedside")
        pub.status(status("acknowledged", "seizure alert acknowledged by ana at ward-1"))
        st = ward.station.state.patients["bed-1"]
        wait_until(lambda: all(a.acknowledged for a in st.alarms.values()), timeout=15)
        wait_until(lambda: len(ward.of("ack")) == 3, timeout=15)  # command, echo, bedside
        # markers behind them in the same streams: a duplicate would have come before these
        pub.alert(alert_on("seizure", 50.0))
        wait_until(lambda: len(ward.of("alert")) == 3)
        commands.acknowledge("bed-1", "seizure", ward.of("alert")[2]["alert_id"])
        pub.status(status("marker"))
        wait_until(lambda: len(acks) == 2 and ward.of("status"), timeout=15)
        assert acks[0].alert_id == seizure and acks[1].alert_id != seizure
        assert len(ward.of("ack")) == 4
        assert sorted((a.by, a.where, a.origin) for al in st.alarms.values() for a in al.acks) \
            == [("", "bedside " + pub.host, "bedside")] + [("ana", "ward-1", "ward")] * 2
        cmd_uids = [f[b"uid"] for _, f in server.client().xrange(PatientKeys("bed-1").commands)]
        assert len(cmd_uids) == len(set(cmd_uids)) == 2
    finally:
        commands.close()
        pub.close()
        pub.join()
        ward.stop()


def test_redis_restarted_empty_while_the_bedside_is_quiet(redis_server):
    """No write fails (the restart falls between two), yet the empty server is refilled: the
    writer never lets redis-py reconnect silently."""
    pub, notes = _publisher(redis_server)
    pub.claim_now()
    pub.start()
    try:
        _raise_alerts(pub, 2)
        ward = Ward(redis_server)
        wait_until(lambda: len(ward.of("alert")) == 4)
        ward.stop()
        redis_server.restart()  # no persistence: everything gone
        wait_until(lambda: "publish_online" in notes.events(), what="the reconnect noticed")
        late = Ward(redis_server)
        wait_until(lambda: len(late.of("alert")) == 4, what="the session's alerts again")
        assert late.alert_uids() == _sent_alert_uids(pub)
        late.stop()
    finally:
        pub.close()
        pub.join()
