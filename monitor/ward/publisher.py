"""The bedside's publisher: a Sink that hands alerts, acknowledgements, status events and a
1 Hz trend to Redis without ever making the worker wait.

Sink calls (worker thread) only append to the outbox or update the second's trend summary,
under a lock held for microseconds; a StreamWriter thread does all the talking to Redis. A
CommandListener thread reads the patient's commands stream (XREAD BLOCK) and passes a ward's
acknowledgement to ``on_ack`` (the pipeline's ``acknowledge``), so it is logged and reaches
every sink; the publisher then sees that status event and publishes it as an ``ack`` with
``origin: ward`` and the command's uid as ``ref``.

No EEG reaches Redis: only what the decision stage made of it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import redis

from model.data import CLASSES
from monitor.alerts import AlertEvent
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.ward.claim import ClaimHeld, PatientClaim
from monitor.ward.connection import RedisTarget
from monitor.ward.keys import REGISTRY, TREND_MAXLEN, PatientKeys, check_patient
from monitor.ward.outbox import Outbox
from monitor.ward.schema import SEVERITY, Message, SchemaError, parse, split_uid
from monitor.ward.writer import Notify, StreamWriter, WriterStopped, log_notify

log = logging.getLogger(__name__)

#: how the pipeline words an acknowledgement: "<cls> alert[ (onset t=.. s)] acknowledged[ by
#: NAME][ at PLACE]"
ACK_DETAIL = re.compile(r"(?P<cls>\w+) alert(?: \(onset t=[^)]*\))? acknowledged"
                        r"(?: by (?P<by>.*?))?(?: at (?P<where>.*))?")


def new_session() -> str:
    """A monitor session's id: unique enough that two sessions never share one."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class RemoteAck:
    """A ward's acknowledgement as the bedside applies it."""

    cls: str
    by: str
    where: str
    ref: str  # the command's uid
    alert_id: str | None


class TrendSummary:
    """What one second of predictions comes to: the highest smoothed seizure probability of the
    second (so a short peak is not lost between ticks), the newest smoothed row, state, the
    worst channel and how many channels could be classified."""

    def __init__(self):
        self.p: float | None = None
        self.last: Prediction | None = None

    def add(self, pred: Prediction) -> None:
        lead = pred.lead
        p = float(pred.smoothed[lead, 0]) if pred.valid[lead] else float("nan")
        if np.isfinite(p):
            self.p = p if self.p is None else max(self.p, p)
        self.last = pred

    def take(self, health: str) -> dict | None:
        """The second's summary (None when nothing was classified), and start the next."""
        pred, p = self.last, self.p
        self.last = self.p = None
        if pred is None:
            return None
        lead = pred.lead
        n_ok, n = int(np.count_nonzero(pred.valid)), len(pred.valid)
        if health == "ok" and n_ok < n:
            health = f"{n - n_ok} of {n} channels not classified"
        row = pred.smoothed[lead]
        return {"t": round(pred.t, 3), "p": round(p if p is not None else 0.0, 4),
                "smoothed": {c: (None if np.isnan(v) else round(float(v), 4))
                             for c, v in zip(CLASSES, row, strict=True)},
                "state": pred.state, "channel": pred.channels[lead], "channels_ok": n_ok,
                "channels": n, "health": health}


class RedisPublisher(Sink):
    """Publishes one patient; ``start()`` after ``claim_now()`` (or without it: the writer
    claims on its first connect), ``close()`` from the pipeline, ``join()`` to let the last
    events out."""

    def __init__(self, target: RedisTarget, patient: str, label: str = "", *,
                 take_over: bool = False, notify: Notify | None = None,
                 on_ack: Callable[[RemoteAck], None] | None = None,
                 clock: Callable[[], float] = time.time, session: str | None = None):
        self.target = target
        self.patient = check_patient(patient)
        self.keys = PatientKeys(patient)
        self.label = label or patient
        self.session = session or new_session()
        self.clock = clock
        self.on_ack = on_ack
        self._notify = notify
        self._pipeline = None  # the pipeline attached last (the dashboard starts several)
        self.host = socket.gethostname()
        self.claim = PatientClaim(self.keys, self.session, self.label, self.host, os.getpid())
        self.take_over = take_over
        self.outbox = Outbox(self.session)
        self._lock = threading.Lock()
        self._trend = TrendSummary()
        self._health = "starting"
        self._active: dict[str, tuple[str, float]] = {}  # class -> (alert_id, onset_ts)
        self._last_alert: dict[str, str] = {}  # class -> alert_id of its newest alert
        self._acked: set[str] = set()  # alert ids acknowledged (locally or from a ward)
        self._remote: deque[RemoteAck] = deque(maxlen=64)
        self.writer = _BedsideWriter(self, self.notify)
        self.listener = CommandListener(self)
        self._add("session", {"session": self.session, "label": self.label,
                              "host": self.host, "pid": os.getpid()})

    # -- control -------------------------------------------------------------------------
    def attach(self, pipeline) -> None:
        """Publish ``pipeline``'s results (before it starts). The publisher's own status
        events (Redis offline, back, refused) go to it as status events, and a ward's
        acknowledgement becomes its ``acknowledge(cls, by=, where=)``. The pipeline closing
        does not close the publisher: the dashboard attaches the next pipeline to the same
        session and claim."""
        self._pipeline = pipeline
        pipeline.add_sink(_AttachedSink(self, pipeline))

    def notify(self, event: str, detail: str) -> None:
        """A status event of the publisher's own (writer thread)."""
        if self._notify is not None:
            self._notify(event, detail)
        elif self._pipeline is not None:
            self._pipeline.report(event, detail)
        else:
            log_notify(event, detail)

    def claim_now(self) -> str | None:
        """Claim the patient id before monitoring starts, so a second monitor is refused with
        a clear message. Raises ClaimHeld; returns a line saying why Redis could not be asked
        (unreachable, refused password), or None when the claim is held."""
        client = self.target.client()
        try:
            self.claim.acquire(client, self.take_over)
            return None
        except ClaimHeld:
            raise
        except redis.RedisError as exc:
            return self.target.describe(exc)
        finally:
            client.close()

    def start(self) -> RedisPublisher:
        self.writer.start()
        self.listener.start()
        return self

    def join(self, timeout: float = 5.0) -> bool:
        """Wait for the writer to deliver what is pending (after close)."""
        done = self.writer.join(timeout)
        self.listener.join(1.0)
        return done

    # -- Sink (worker thread): nothing here waits on Redis -------------------------------
    def prediction(self, p: Prediction) -> None:
        with self._lock:
            self._trend.add(p)

    def alert(self, ev: AlertEvent) -> None:
        a = ev.alert
        now = self.clock()
        with self._lock:
            if ev.state == "on":
                alert_id = self.outbox.next_uid(self.keys.events, self.patient)
                onset_ts = now - max(0.0, a.raised - a.onset)
                self._active[a.cls] = (alert_id, onset_ts)
                self._last_alert[a.cls] = alert_id
                t = a.raised
            else:
                alert_id, onset_ts = self._active.pop(
                    a.cls, (self.outbox.next_uid(self.keys.events, self.patient), now))
                t = a.end if a.end is not None else a.raised
            data = {"state": ev.state, "class": a.cls, "severity": SEVERITY[a.cls],
                    "alert_id": alert_id, "t": round(t, 3), "onset": round(a.onset, 3),
                    "onset_ts": round(onset_ts, 3), "p": round(a.peak, 4),
                    "channels": list(a.channels)}
            if ev.state == "off":
                data["end_ts"] = round(now, 3)
            # in the same hold as next_uid, so the "on" entry gets the uid named alert_id
            self.outbox.add(self.keys.events, self.patient, "alert", data, now)
        self.writer.wake()

    def status(self, ev: StatusEvent) -> None:
        now = self.clock()
        with self._lock:
            if ev.event == "stream_lost":
                self._health = "stream lost"
            elif ev.event in ("stream_recovered", "started"):
                self._health = "ok"
            elif ev.event in ("stopped", "error"):
                self._health = "stopped" if ev.event == "stopped" else "error"
        if ev.event == "acknowledged":
            self._acknowledged(ev, now)
        self._add("status", {"event": ev.event, "detail": self.target.scrub(ev.detail),
                             "t": round(ev.t, 3)}, now)

    def close(self) -> None:
        self.writer.close()
        self.listener.stop()

    def pipeline_closed(self, pipeline) -> None:
        """An attached pipeline finished: its alerts ended with it (the ward ends them at its
        "stopped"), and nothing more can be acknowledged in it."""
        with self._lock:
            self._active.clear()
        if self._pipeline is pipeline:
            self._pipeline = None

    # -- acknowledgements ----------------------------------------------------------------
    def _acknowledged(self, ev: StatusEvent, now: float) -> None:
        m = ACK_DETAIL.fullmatch(ev.detail)
        if m is None or m["cls"] not in SEVERITY:
            return
        cls, by, where = m["cls"], m["by"] or "", m["where"] or ""
        with self._lock:
            remote = next((r for r in self._remote
                           if (r.cls, r.by, r.where) == (cls, by, where)), None)
            if remote is not None:
                self._remote.remove(remote)
            alert_id = (remote.alert_id if remote is not None and remote.alert_id
                        else self._last_alert.get(cls))
            if alert_id is not None:
                self._acked.add(alert_id)
        data = {"class": cls, "alert_id": alert_id, "by": by,
                "where": where or f"bedside {self.host}",
                "origin": "ward" if remote is not None else "bedside"}
        if remote is not None:
            data["ref"] = remote.ref
        self._add("ack", data, now)

    def apply_remote_ack(self, msg: Message) -> bool:
        """A ward's ack command (listener thread): hand it to ``on_ack`` once, if it is for an
        alert of this session that is not acknowledged yet."""
        d = msg.data
        alert_id = d["alert_id"]
        with self._lock:
            if alert_id is None:
                alert_id = self._last_alert.get(d["class"])
            if alert_id is None or alert_id in self._acked:
                return False
            try:
                if split_uid(alert_id)[1] != self.session:
                    return False  # an alert of an earlier session
            except SchemaError:
                return False
            self._acked.add(alert_id)
            ack = RemoteAck(d["class"], d["by"], d["where"], msg.uid, alert_id)
            self._remote.append(ack)
        if self.on_ack is not None:
            self.on_ack(ack)
        elif self._pipeline is not None:
            self._pipeline.acknowledge(ack.cls, by=ack.by, where=ack.where)
        return True

    # -- helpers -------------------------------------------------------------------------
    def _add(self, type_: str, data: dict, ts: float | None = None) -> None:
        with self._lock:
            self.outbox.add(self.keys.events, self.patient, type_, data,
                            self.clock() if ts is None else ts)
        self.writer.wake()

    def take_trend(self) -> Message:
        """The second's trend entry, or a heartbeat when nothing was classified."""
        with self._lock:
            health = self._health
            summary = self._trend.take(health)
        if summary is None:
            return Message("heartbeat", self.clock(), {"health": health,
                                                       "session": self.session})
        summary["session"] = self.session
        return Message("trend", self.clock(), summary)

    def registry_entry(self) -> str:
        """The patient's line in the registry: what a ward shows before any event."""
        return self.claim.token


class _AttachedSink(Sink):
    """The publisher as one pipeline's sink: everything but close() passes through."""

    def __init__(self, pub: RedisPublisher, pipeline):
        self.pub, self.pipeline = pub, pipeline

    def prediction(self, p: Prediction) -> None:
        self.pub.prediction(p)

    def alert(self, ev: AlertEvent) -> None:
        self.pub.alert(ev)

    def status(self, ev: StatusEvent) -> None:
        self.pub.status(ev)

    def close(self) -> None:
        self.pub.pipeline_closed(self.pipeline)


class _BedsideWriter(StreamWriter):
    """The outbox writer plus the bedside's once-a-second work: trend or heartbeat, claim."""

    def __init__(self, pub: RedisPublisher, notify: Notify):
        super().__init__(pub.target, pub.outbox, f"publish-{pub.patient}", notify)
        self.pub = pub

    def on_connect(self, client: redis.Redis) -> None:
        try:
            if self.pub.claim.held:
                self.pub.claim.refresh(client)
            else:
                self.pub.claim.acquire(client, self.pub.take_over)
        except ClaimHeld as exc:
            raise WriterStopped(f"{exc} This monitor goes on without publishing.") from None
        client.hset(REGISTRY, self.pub.patient, self.pub.registry_entry())

    def tick(self, client: redis.Redis) -> None:
        msg = self.pub.take_trend()
        try:
            self.pub.claim.refresh(client)
        except ClaimHeld as exc:
            raise WriterStopped(f"{exc} This monitor stops publishing.") from None
        client.xadd(self.pub.keys.trend, msg.fields(), maxlen=TREND_MAXLEN, approximate=True)

    def on_close(self, client: redis.Redis | None) -> None:
        if client is not None:
            self.pub.claim.release(client)


class CommandListener:
    """Reads the patient's commands stream (XREAD BLOCK) and applies a ward's acks; reconnects
    on its own schedule, and keeps its place, so nothing is read twice or skipped."""

    BLOCK_MS = 1000

    def __init__(self, pub: RedisPublisher):
        self.pub = pub
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"commands-{pub.patient}",
                                        daemon=True)
        self.last_id: bytes | None = None

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        key = self.pub.keys.commands
        client = None
        while not self._stop.is_set():
            try:
                if client is None:
                    # wait on the socket a little longer than the block
                    client = self.pub.target.client(timeout=self.BLOCK_MS / 1000 + 2.0)
                    if self.last_id is None:
                        # Commands for this session's alerts come after it started.
                        last = client.xrevrange(key, "+", "-", count=1)
                        self.last_id = last[0][0] if last else b"0-0"
                reply = client.xread({key: self.last_id}, count=100, block=self.BLOCK_MS)
            except redis.RedisError:
                if client is not None:
                    client.close()
                client = None
                self._stop.wait(1.0)
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    self.last_id = entry_id
                    self._apply(fields)
        if client is not None:
            client.close()

    def _apply(self, fields: dict) -> None:
        try:
            msg = parse("commands", fields)
        except SchemaError as exc:
            log.warning("%s: skipped an entry: %s", self.pub.keys.commands, exc)
            return
        if msg.type == "ack":
            self.pub.apply_remote_ack(msg)
