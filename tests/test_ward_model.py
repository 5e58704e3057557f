"""The ward's synchronous parts, without threads or Redis: URLs and their redaction, the key
layout, the message schema, the outbox's reconciliation, and the ward's state model.

Named after the package it tests (monitor/ward), its synchronous parts."""

from __future__ import annotations

import json

import pytest

from monitor.ward.connection import RedisTarget, WardError, redact
from monitor.ward.keys import PatientKeys, stream_kind
from monitor.ward.outbox import Outbox
from monitor.ward.schema import VERSION, Message, SchemaError, parse, split_uid
from monitor.ward.station import StreamEntry, WardState

# -- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url, shown", [
    ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
    ("rediss://nurse:s3cret@host/1", "rediss://nurse:***@host/1"),
    ("redis://host:6379/0?password=s3cret&db=2", "redis://host:6379/0?password=***&db=2"),
    ("redis://host", "redis://host"),
])
def test_redact_hides_every_password(url, shown):
    assert redact(url) == shown


def test_url_from_environment_and_password_variable(monkeypatch):
    monkeypatch.setenv("SEIZURE_MONITOR_REDIS_URL", "redis://:fromenv@h:1/0")
    target = RedisTarget.resolve(None)
    assert target.shown == "redis://:***@h:1/0" and "fromenv" not in repr(target)
    monkeypatch.delenv("SEIZURE_MONITOR_REDIS_URL")
    monkeypatch.setenv("SEIZURE_MONITOR_REDIS_PASSWORD", "pw2")
    target = RedisTarget.resolve("redis://h:1/0")
    assert target.password == "pw2"
    assert target.scrub("AUTH pw2 failed for redis://h:1/0") == "AUTH *** failed for redis://h:1/0"
    monkeypatch.delenv("SEIZURE_MONITOR_REDIS_PASSWORD")
    with pytest.raises(WardError, match="SEIZURE_MONITOR_REDIS_URL"):
        RedisTarget.resolve(None)


@pytest.mark.parametrize("url", ["http://:pw@h/0", "h:6379", "redis://:pw@h:99999/0"])
def test_bad_url_is_refused_without_its_password(url):
    with pytest.raises(WardError) as info:
        RedisTarget.resolve(url)
    assert "pw" not in str(info.value) and "not a Redis URL" in str(info.value)


# -- keys and schema ----------------------------------------------------------------------

def test_patient_keys_share_one_hash_tag():
    keys = PatientKeys("bed-7")
    tags = {k.split("{")[1].split("}")[0] for k in (keys.events, keys.trend, keys.commands,
                                                     keys.claim)}
    assert tags == {"bed-7"}
    assert stream_kind(keys.trend) == ("bed-7", "trend")
    with pytest.raises(WardError, match="patient id"):
        PatientKeys("bed 7}")


def _alert(state="on", alert_id="P:s:1", **over) -> Message:
    data = {"state": state, "class": "seizure", "severity": "critical", "alert_id": alert_id,
            "t": 70.0, "onset": 69.4, "onset_ts": 1000.0, "p": 0.9, "channels": ["EEG"]}
    data.update(over)
    return Message("alert", 1000.6, data, alert_id if state == "on" else "P:s:2")


def test_schema_round_trip_and_bytes():
    msg = _alert()
    raw = {k.encode(): v.encode() for k, v in msg.fields().items()}
    back = parse("events", raw)
    assert back == msg and back.v == VERSION
    assert split_uid("bed.1:abc:12") == ("bed.1", "abc", 12)


@pytest.mark.parametrize("fields, why", [
    ({"foo": "bar"}, "not a seizure-monitor entry"),
    ({"v": "99", "type": "alert", "ts": "1", "data": "{}"}, "newer"),
    ({"v": "1", "type": "nonsense", "ts": "1", "data": "{}"}, "unknown type"),
    ({"v": "1", "type": "status", "ts": "1", "data": "{not json", "uid": "P:s:1"}, "not valid"),
    ({"v": "1", "type": "status", "ts": "1", "data": '{"event": "x", "t": 1}',
      "uid": "P:s:1"}, "detail"),
    ({"v": "1", "type": "status", "ts": "1", "data": '{"event": "x", "detail": "", "t": 1}'},
     "without a uid"),
    ({"v": "1", "type": "status", "ts": "nan", "data": '{"event": "x", "detail": "", "t": 1}',
      "uid": "P:s:1"}, "finite"),
    ({b"v": b"1", b"type": b"\xff\xfe"}, "UTF-8"),
])
def test_schema_refuses_foreign_and_malformed_entries(fields, why):
    with pytest.raises(SchemaError, match=why):
        parse("events", fields)


# -- outbox -------------------------------------------------------------------------------

def test_outbox_reconciles_to_what_the_stream_holds():
    box = Outbox("sess", capacity=100)
    for i in range(5):
        box.add("k:events", "P", "status", {"event": f"e{i}", "detail": "", "t": i}, i)
    first = box.pending(3)
    assert [e.seq for e in first] == [1, 2, 3]
    box.mark_stored(first)
    assert [e.seq for e in box.pending()] == [4, 5]
    # Redis crashed and kept seq 1-2 only: 3-5 are sent again, in order.
    assert box.reconcile("k:events", 2) == 3
    assert [e.seq for e in box.pending()] == [3, 4, 5]
    # Redis restarted empty: the whole session again.
    assert box.reconcile("k:events", 0) == 5
    assert box.pending()[0].message.uid == "P:sess:1"


def test_outbox_is_bounded_and_counts_what_it_dropped_unsent():
    box = Outbox("s", capacity=3)
    for i in range(5):
        box.add("k", "P", "status", {}, i)
    assert len(box) == 3 and box.dropped == 2
    assert [e.seq for e in box.pending()] == [3, 4, 5]


# -- the ward's state ---------------------------------------------------------------------

def _entry(kind: str, msg: Message, entry_id: str = "1000-0", patient: str = "P") -> StreamEntry:
    return StreamEntry(patient, kind, entry_id, msg.fields())


def test_ward_state_alarm_ack_snooze_and_duplicates():
    ward = WardState()
    ward.register("P", json.dumps({"label": "Bed 1", "host": "h"}))
    out = ward.feed(_entry("events", _alert()))
    assert out[0]["type"] == "alert" and out[0]["label"] == "Bed 1"
    assert ward.feed(_entry("events", _alert(), "1000-1")) == [] and ward.duplicates == 1
    st = ward.patients["P"]
    assert st.urgent().alert_id == "P:s:1" and st.sounding(1001)
    # a ward's ack, then the bedside applying it (same ack: shown once)
    cmd = Message("ack", 1002.0, {"class": "seizure", "alert_id": "P:s:1", "by": "ana",
                                  "where": "ward-1"}, "P:ward-x:1")
    ward.feed(_entry("commands", cmd))
    echo = Message("ack", 1002.1, {"class": "seizure", "alert_id": "P:s:1", "by": "ana",
                                   "where": "ward-1", "origin": "ward", "ref": "P:ward-x:1"},
                   "P:s:3")
    assert ward.feed(_entry("events", echo))[0]["type"] == "ack"
    alarm = st.alarms["P:s:1"]
    assert [(a.by, a.where, a.origin) for a in alarm.acks] == [("ana", "ward-1", "ward")]
    assert not st.sounding(1003)
    ward.feed(_entry("events", _alert("off", p=0.97, end_ts=1030.0)))
    assert not alarm.active and alarm.peak == 0.97 and alarm.duration(0) == 30.0
    snooze = Message("snooze", 2000.0, {"minutes": 5, "by": "ana", "where": "ward-1"},
                     "P:ward-x:2")
    ward.feed(_entry("commands", snooze))
    assert st.snooze_until == 2300.0


def test_ward_state_skips_foreign_entries_and_marks_offline():
    ward = WardState(offline_after_s=5)
    assert ward.feed(StreamEntry("P", "events", "1-0", {b"foo": b"bar"})) == []
    assert ward.skipped == 1
    beat = Message("heartbeat", 10.0, {"health": "ok"})
    ward.feed(_entry("trend", beat, "10000-0"))
    assert ward.tick(14_000) == [] and not ward.patients["P"].offline
    assert ward.tick(15_500)[0]["type"] == "offline"
    ward.feed(_entry("trend", beat, "16000-0"))
    assert ward.tick(16_100)[0]["type"] == "online"


def test_ward_state_orders_tiles_by_urgency():
    ward = WardState()
    for p in ("A", "B", "C"):
        ward.register(p, json.dumps({"label": p}))
    ward.feed(_entry("events", _alert(alert_id="C:s:1", **{"class": "tumor"}), patient="C"))
    ward.feed(_entry("events", _alert(alert_id="B:s:1"), patient="B"))
    assert [s.patient for s in ward.ordered()] == ["B", "C", "A"]


def test_ack_read_before_its_alert_is_kept_for_it():
    ward = WardState()
    cmd = Message("ack", 1002.0, {"class": "seizure", "alert_id": "P:s:1", "by": "ana",
                                  "where": "w"}, "P:w:1")
    ward.feed(_entry("commands", cmd))
    ward.feed(_entry("events", _alert()))
    assert ward.patients["P"].alarms["P:s:1"].acknowledged
