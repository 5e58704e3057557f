"""The ward's side: what every patient's monitor said, and the ward's own acks and snoozes.

``WardState`` is a synchronous model fed stream entries (tests drive it without threads, Redis
or Qt): it de-duplicates durable messages by uid, keeps each patient's alarms (onset, class,
duration, peak, who acknowledged them where and when), the last 10 minutes of seizure
probability, health, snooze, and whether the monitor is offline (its heartbeat late).
``StationReader`` is the thread that feeds it: one XREAD BLOCK over every patient's streams,
from the last id seen of each, so a station that restarts reads everything once.
``WardCommands`` writes acks and snoozes through an outbox, like the bedside's publisher.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from monitor.ward.connection import RedisTarget
from monitor.ward.keys import REGISTRY, PatientKeys, check_patient
from monitor.ward.outbox import Outbox
from monitor.ward.publisher import new_session
from monitor.ward.schema import Message, SchemaError, parse
from monitor.ward.writer import Notify, StreamWriter, log_notify

log = logging.getLogger(__name__)

#: a monitor whose heartbeat is this late (s) is shown offline (it beats every second)
OFFLINE_AFTER_S = 5.0
#: seconds of seizure probability a tile's sparkline shows
SPARKLINE_S = 600.0
#: uids remembered per patient for de-duplication (more than an events stream holds)
SEEN_MAX = 20_000
#: tile order: the most urgent first
RANKS = ("seizure", "seizure_acked", "tumor", "tumor_acked", "offline", "other")


@dataclass(frozen=True)
class StreamEntry:
    """One entry as read: whose, which stream, its Redis id, its raw fields."""

    patient: str
    kind: str  # events, trend or commands
    id: str
    fields: dict


@dataclass
class AckInfo:
    by: str
    where: str
    origin: str  # bedside or ward
    ts: float
    uid: str


@dataclass
class Alarm:
    """One alert of one patient, as the ward's history shows it."""

    alert_id: str
    cls: str
    severity: str
    onset_ts: float
    raised_ts: float
    peak: float
    channels: list[str]
    end_ts: float | None = None
    ended_by: str = ""  # why an alarm ended without an "off" (its monitor stopped)
    acks: list[AckInfo] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.end_ts is None

    @property
    def acknowledged(self) -> bool:
        return bool(self.acks)

    def duration(self, now: float) -> float:
        return (self.end_ts if self.end_ts is not None else now) - self.onset_ts

    def json(self) -> dict:
        return {"alert_id": self.alert_id, "class": self.cls, "onset_ts": self.onset_ts,
                "end_ts": self.end_ts, "peak": self.peak, "channels": self.channels,
                "ended_by": self.ended_by,
                "acks": [{"by": a.by, "where": a.where, "origin": a.origin, "ts": a.ts}
                         for a in self.acks]}


@dataclass
class PatientState:
    patient: str
    label: str = ""
    host: str = ""
    session: str = ""
    alarms: dict[str, Alarm] = field(default_factory=dict)  # alert_id -> Alarm, oldest first
    trend: deque = field(default_factory=lambda: deque(maxlen=int(SPARKLINE_S) + 60))
    state: str = "normal"
    p: float | None = None
    channel: str = ""
    health: str = "no data yet"
    last_beat_ms: float | None = None
    stopped: bool = False
    stopped_ts: float = 0.0
    offline: bool = False
    snooze_until: float = 0.0
    snooze_by: str = ""
    last_status: str = ""
    seen: OrderedDict = field(default_factory=OrderedDict)
    orphan_acks: dict[str, list[AckInfo]] = field(default_factory=dict)

    def active_alarms(self) -> list[Alarm]:
        return [a for a in self.alarms.values() if a.active]

    def urgent(self) -> Alarm | None:
        """The alarm a tile shows, newest first of its kind: an active seizure alarm, then a
        seizure alarm that ended unacknowledged (it stays until acknowledged, as at the
        bedside), then an active tumor warning."""
        alarms = list(self.alarms.values())[::-1]
        for wanted in (lambda a: a.cls == "seizure" and a.active,
                       lambda a: a.cls == "seizure" and not a.acknowledged,
                       lambda a: a.cls == "tumor" and a.active):
            alarm = next((a for a in alarms if wanted(a)), None)
            if alarm is not None:
                return alarm
        return None

    def rank(self) -> int:
        alarm = self.urgent()
        if alarm is not None:
            name = alarm.cls + ("_acked" if alarm.acknowledged else "")
            return RANKS.index(name)
        return RANKS.index("offline" if self.offline and not self.stopped else "other")

    def sounding(self, now: float) -> bool:
        """An unacknowledged seizure alarm (active or ended) whose sound is not snoozed."""
        alarm = self.urgent()
        return (alarm is not None and alarm.cls == "seizure" and not alarm.acknowledged
                and now >= self.snooze_until)


def _ms(entry_id: str) -> float:
    return float(entry_id.split("-", 1)[0])


class WardState:
    """Every patient's state, built from their streams' entries in order."""

    def __init__(self, offline_after_s: float = OFFLINE_AFTER_S):
        self.offline_after_ms = offline_after_s * 1000
        self.patients: dict[str, PatientState] = {}
        self.skipped = 0
        self.duplicates = 0
        #: bumped on every change a view would show (the window redraws when it moves)
        self.version = 0

    def patient(self, patient: str) -> PatientState:
        st = self.patients.get(patient)
        if st is None:
            st = self.patients[patient] = PatientState(patient, label=patient)
        return st

    def register(self, patient: str, meta: str | bytes) -> None:
        """The registry's line for a patient (label, host, session)."""
        st = self.patient(patient)
        try:
            d = json.loads(meta)
            st.label = str(d.get("label") or patient)
            st.host = str(d.get("host", ""))
        except (ValueError, AttributeError):
            log.warning("patient %s: the registry entry is not JSON; shown by its id", patient)
        self.version += 1

    # -- feeding -------------------------------------------------------------------------
    def feed(self, entry: StreamEntry) -> list[dict]:
        """Apply one entry; returns what a headless ward prints for it (durable messages
        seen for the first time), and nothing for a duplicate, a trend or a bad entry."""
        try:
            msg = parse(entry.kind, entry.fields)
        except SchemaError as exc:
            self.skipped += 1
            log.warning("patient %s, %s stream, entry %s skipped: %s", entry.patient,
                        entry.kind, entry.id, exc)
            return []
        st = self.patient(entry.patient)
        if msg.uid is not None:
            if msg.uid in st.seen:
                self.duplicates += 1
                return []
            st.seen[msg.uid] = None
            if len(st.seen) > SEEN_MAX:
                st.seen.popitem(last=False)
        self.version += 1
        if entry.kind == "trend":
            self._trend(st, entry, msg)
            return []
        getattr(self, f"_{entry.kind}_{msg.type}")(st, msg)
        return [{"patient": st.patient, "label": st.label, "stream": entry.kind,
                 "id": entry.id, **msg.json()}]

    def _trend(self, st: PatientState, entry: StreamEntry, msg: Message) -> None:
        ms = _ms(entry.id)
        st.last_beat_ms = max(st.last_beat_ms or 0.0, ms)
        if msg.ts <= st.stopped_ts:
            return  # read after the "stopped" of its session (another stream)
        st.health = msg.data["health"]
        # a dashboard between sources beats on with health "stopped"
        st.stopped = st.health in ("stopped", "error")
        if msg.type == "trend":
            st.p = float(msg.data["p"])
            for alarm in st.active_alarms():  # the "on" carries the peak when raised only
                if alarm.cls == "seizure":
                    alarm.peak = max(alarm.peak, st.p)
            st.state = msg.data["state"]
            st.channel = msg.data["channel"]
            st.trend.append((msg.ts, st.p))

    def _events_session(self, st: PatientState, msg: Message) -> None:
        st.host = msg.data["host"]
        st.label = msg.data["label"] or st.label
        self._new_session(st, msg.data["session"], msg.ts)

    def _new_session(self, st: PatientState, session: str, ts: float) -> None:
        if st.session and session != st.session:
            self._end_open(st, ts, "monitor restarted")
        st.session = session

    def _end_open(self, st: PatientState, ts: float, why: str) -> None:
        for alarm in st.active_alarms():
            alarm.end_ts, alarm.ended_by = max(ts, alarm.onset_ts), why

    def _events_alert(self, st: PatientState, msg: Message) -> None:
        d = msg.data
        alarm = st.alarms.get(d["alert_id"])
        if d["state"] == "on":
            if alarm is None:
                alarm = st.alarms[d["alert_id"]] = Alarm(
                    d["alert_id"], d["class"], d.get("severity", ""), d["onset_ts"], msg.ts,
                    d["p"], list(d["channels"]))
                alarm.acks.extend(st.orphan_acks.pop(d["alert_id"], []))
            return
        if alarm is None:  # its "on" was trimmed away: keep what the "off" says
            alarm = st.alarms[d["alert_id"]] = Alarm(
                d["alert_id"], d["class"], d.get("severity", ""), d["onset_ts"], msg.ts,
                d["p"], list(d["channels"]))
        alarm.end_ts = float(d.get("end_ts", msg.ts))
        alarm.peak = max(alarm.peak, d["p"])

    def _events_status(self, st: PatientState, msg: Message) -> None:
        event = msg.data["event"]
        st.last_status = f"{event}: {msg.data['detail']}".splitlines()[0]
        if event == "stopped":
            st.stopped, st.stopped_ts = True, msg.ts
            st.health = "monitor stopped"
            self._end_open(st, msg.ts, "monitor stopped")
        elif event == "stream_lost":
            st.health = "stream lost"
        elif event in ("stream_recovered", "started"):
            st.stopped = False
            st.health = "ok"

    def _events_ack(self, st: PatientState, msg: Message) -> None:
        d = msg.data
        ref = d.get("ref")
        if ref is not None and any(a.uid == ref for alarm in st.alarms.values()
                                   for a in alarm.acks):
            return  # the bedside applying a ward's ack already shown
        self._ack(st, d, AckInfo(d["by"], d["where"], d["origin"], msg.ts, ref or msg.uid))

    def _commands_ack(self, st: PatientState, msg: Message) -> None:
        d = msg.data
        self._ack(st, d, AckInfo(d["by"], d["where"], "ward", msg.ts, msg.uid))

    def _ack(self, st: PatientState, d: dict, ack: AckInfo) -> None:
        alert_id = d["alert_id"]
        if alert_id is None:
            of = [a for a in st.alarms.values() if a.cls == d["class"]]
            alert_id = of[-1].alert_id if of else None
        if alert_id is None:
            return
        alarm = st.alarms.get(alert_id)
        if alarm is None:  # read before its alert (another stream): applied when it comes
            st.orphan_acks.setdefault(alert_id, []).append(ack)
        elif not any(a.uid == ack.uid for a in alarm.acks):
            alarm.acks.append(ack)

    def _commands_snooze(self, st: PatientState, msg: Message) -> None:
        minutes = max(0.0, float(msg.data["minutes"]))
        st.snooze_until = msg.ts + 60 * minutes if minutes else 0.0
        st.snooze_by = f"{msg.data['by']} at {msg.data['where']}" if minutes else ""

    # -- time ----------------------------------------------------------------------------
    def tick(self, now_ms: float) -> list[dict]:
        """Mark monitors offline (heartbeat late) or back; returns those changes as events."""
        out = []
        for st in self.patients.values():
            offline = (st.last_beat_ms is not None and not st.stopped
                       and now_ms - st.last_beat_ms > self.offline_after_ms)
            if offline != st.offline:
                st.offline = offline
                self.version += 1
                out.append({"patient": st.patient, "label": st.label,
                            "type": "offline" if offline else "online",
                            "ts": round(now_ms / 1000, 3),
                            "last_heartbeat_ts": (None if st.last_beat_ms is None
                                                  else round(st.last_beat_ms / 1000, 3))})
        return out

    def ordered(self) -> list[PatientState]:
        """Patients as tiles show them: active alarms first, then offline, then by label."""
        return sorted(self.patients.values(), key=lambda s: (s.rank(), s.label, s.patient))


class StationReader:
    """Reads every patient's streams into ``on_batch`` (its thread), after every read, also
    an empty one (at least every ``block_ms``, so the consumer can tick); ``on_link(ok,
    detail)`` says when Redis goes away or comes back. New patients are found in the
    registry."""

    def __init__(self, target: RedisTarget, on_batch: Callable[[list[StreamEntry], dict], None],
                 on_link: Callable[[bool, str], None] | None = None, block_ms: int = 500,
                 registry_every_s: float = 1.0, trend_s: float = SPARKLINE_S,
                 count: int = 1000, trend_every_s: float = 0.25):
        self.target = target
        self.on_batch = on_batch
        self.on_link = on_link or (lambda ok, detail: None)
        self.block_ms = block_ms
        self.registry_every_s = registry_every_s
        self.trend_s = trend_s
        self.count = count
        self.trend_every_s = trend_every_s
        self.ids: dict[str, str] = {}  # stream key -> last id read
        self._durable_keys: list[str] = []  # events and commands streams
        self._trend_keys: list[str] = []
        self.streams: dict[str, tuple[str, str]] = {}  # key -> (patient, kind)
        self.offset_ms = 0.0  # Redis server time minus this machine's
        self._registry: dict[str, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ward-reader", daemon=True)

    def now_ms(self) -> float:
        """Now on the Redis server's clock (stream ids are its milliseconds)."""
        return time.time() * 1000 + self.offset_ms

    def start(self) -> StationReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        client = None
        online = None
        next_registry = next_trend = 0.0
        while not self._stop.is_set():
            try:
                if client is None:
                    client = self.target.client(timeout=self.block_ms / 1000 + 2.0)
                    secs, micros = client.time()
                    self.offset_ms = secs * 1000 + micros / 1000 - time.time() * 1000
                    next_registry = 0.0
                if time.monotonic() >= next_registry:
                    next_registry = time.monotonic() + self.registry_every_s
                    self._read_registry(client)
                if online is not True:
                    online = True
                    self.on_link(True, f"{self.target.shown}: connected")
                entries = []
                if not self.ids:
                    self._stop.wait(self.block_ms / 1000)
                else:
                    # Alarms first: a blocking read of the events and commands streams only;
                    # the trends (most of the traffic) are fetched together a few times a
                    # second, so the read is not woken by every heartbeat of every patient.
                    if time.monotonic() >= next_trend:
                        next_trend = time.monotonic() + self.trend_every_s
                        entries += self._read(client, self._trend_keys, None)
                    wait = int(1000 * (next_trend - time.monotonic()))
                    entries += self._read(client, self._durable_keys,
                                          max(1, min(self.block_ms, wait)))
                self.on_batch(entries, {})
            except redis.RedisError as exc:
                if client is not None:
                    client.close()
                client = None
                if online is not False:
                    online = False
                    self.on_link(False, self.target.describe(exc))
                self._stop.wait(1.0)
        if client is not None:
            client.close()

    def _read_registry(self, client: redis.Redis) -> None:
        registry = client.hgetall(REGISTRY)
        changed = {}
        for raw, meta in registry.items():
            patient = raw.decode(errors="replace")
            try:
                keys = PatientKeys(check_patient(patient))
            except ValueError:
                log.warning("registry: %r is not a patient id; skipped", patient)
                continue
            if self._registry.get(patient) != meta:
                self._registry[patient] = meta
                changed[patient] = meta
            if keys.events not in self.ids:
                start = max(0, int(self.now_ms() - self.trend_s * 1000))
                for kind, first in (("events", "0-0"), ("commands", "0-0"),
                                    ("trend", f"{start}-0")):
                    key = getattr(keys, kind)
                    self.ids[key] = first
                    self.streams[key] = (patient, kind)
                    (self._trend_keys if kind == "trend" else self._durable_keys).append(key)
        if changed:
            self.on_batch([], changed)

    def _read(self, client: redis.Redis, keys: list[str], block: int | None
              ) -> list[StreamEntry]:
        reply = client.xread({k: self.ids[k] for k in keys}, count=self.count, block=block)
        out = []
        for key, entries in reply or []:
            key = key.decode()
            patient, kind = self.streams[key]
            for entry_id, fields in entries:
                entry_id = entry_id.decode()
                self.ids[key] = entry_id
                out.append(StreamEntry(patient, kind, entry_id, fields))
        return out


class Station:
    """A WardState fed by a StationReader, for the headless ward, the bench and the tests:
    every durable message seen for the first time, and every monitor going offline or coming
    back, goes to ``on_event`` (reader thread) with the time the ward received it."""

    def __init__(self, target: RedisTarget, on_event: Callable[[dict], None] | None = None,
                 on_link: Callable[[bool, str], None] | None = None,
                 offline_after_s: float = OFFLINE_AFTER_S, block_ms: int = 500):
        self.state = WardState(offline_after_s)
        self.lock = threading.Lock()
        self.on_event = on_event or (lambda event: None)
        self.reader = StationReader(target, self._batch, on_link, block_ms=block_ms)

    def start(self) -> Station:
        self.reader.start()
        return self

    def stop(self) -> None:
        self.reader.stop()
        self.reader.join(5.0)

    def _batch(self, entries: list[StreamEntry], registry: dict) -> None:
        received = round(time.time(), 3)
        with self.lock:
            for patient, meta in registry.items():
                self.state.register(patient, meta)
            out = [event for entry in entries for event in self.state.feed(entry)]
            out += self.state.tick(self.reader.now_ms())
        for event in out:
            self.on_event({**event, "received": received})


class WardCommands:
    """The ward's acknowledgements and snoozes, written through an outbox (so one made while
    Redis is away is delivered when it is back, once)."""

    def __init__(self, target: RedisTarget, by: str, where: str, notify: Notify = log_notify,
                 clock: Callable[[], float] = time.time):
        self.by, self.where = by, where
        self.clock = clock
        self.outbox = Outbox(f"ward-{new_session()}")
        self.writer = StreamWriter(target, self.outbox, "ward-commands", notify)

    def start(self) -> WardCommands:
        self.writer.start()
        return self

    def close(self, flush_s: float = 3.0) -> None:
        self.writer.close(flush_s)

    def acknowledge(self, patient: str, cls: str, alert_id: str | None) -> StreamEntry:
        return self._add(patient, "ack", {"class": cls, "alert_id": alert_id, "by": self.by,
                                          "where": self.where})

    def snooze(self, patient: str, minutes: float) -> StreamEntry:
        return self._add(patient, "snooze", {"minutes": minutes, "by": self.by,
                                             "where": self.where})

    def _add(self, patient: str, type_: str, data: dict) -> StreamEntry:
        """Queue the command; returns it as an entry the station can apply at once (its uid
        makes the copy read back from Redis a duplicate)."""
        msg = self.outbox.add(PatientKeys(patient).commands, patient, type_, data, self.clock())
        self.writer.wake()
        return StreamEntry(patient, "commands", "0-0", msg.fields())
