"""StreamWriter: the thread that drains an Outbox into Redis and survives Redis going away.

It connects (with short timeouts), reconciles the outbox against what each stream already
holds, writes what is pending in order, and calls ``tick`` once a second (the bedside's trend,
heartbeat and claim). Any Redis error drops the connection: the next connect reconciles again
before writing, so a write whose reply was lost is not repeated and a write Redis lost in a
crash is. Going offline and coming back are reported once each through ``notify``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

from monitor.ward.connection import RedisTarget, is_auth_error
from monitor.ward.keys import CAPS, stream_kind
from monitor.ward.outbox import Outbox, OutboxEntry
from monitor.ward.schema import SchemaError, split_uid

log = logging.getLogger(__name__)

#: seconds between reconnect attempts: from the first to the longest
BACKOFF_S = (0.25, 2.0)
#: a refused password is retried this slowly (it will not fix itself)
AUTH_RETRY_S = 10.0
#: entries read back a page at a time when reconciling
PAGE = 200
#: messages written a round trip at a time
BATCH = 100

Notify = Callable[[str, str], None]


def log_notify(event: str, detail: str) -> None:
    log.warning("%s: %s", event, detail)


class WriterStopped(Exception):
    """The writer must not write any more (its patient id was taken over)."""


class StreamWriter:
    """Drains ``outbox`` into Redis on its own thread; subclasses add ``on_connect``,
    ``tick`` and ``on_close``."""

    def __init__(self, target: RedisTarget, outbox: Outbox, name: str,
                 notify: Notify = log_notify, tick_s: float = 1.0):
        self.target = target
        self.outbox = outbox
        self.notify = notify
        self.tick_s = tick_s
        self.connected = threading.Event()
        self.stats = {"written": 0, "reconciled": 0, "resent": 0, "outages": 0}
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._close_deadline = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._client: redis.Redis | None = None
        self._offline_since: float | None = None
        self._reported_offline = False
        self._first_id: dict[str, bytes] = {}
        self._auth_failed = False

    # -- control -----------------------------------------------------------------------
    def start(self) -> None:
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, flush_s: float = 3.0) -> None:
        """Stop after writing what is pending (for at most ``flush_s``); returns at once."""
        if not self._closing.is_set():
            self._close_deadline = time.monotonic() + flush_s
            self._closing.set()
            self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- hooks -------------------------------------------------------------------------
    def on_connect(self, client: redis.Redis) -> None:
        """Just connected (before reconciling); may raise WriterStopped."""

    def tick(self, client: redis.Redis) -> None:
        """Once every ``tick_s`` while connected; may raise WriterStopped."""

    def on_close(self, client: redis.Redis | None) -> None:
        """The last thing before the thread ends (client None when offline)."""

    # -- the loop ----------------------------------------------------------------------
    def _run(self) -> None:
        backoff = BACKOFF_S[0]
        next_tick = 0.0
        try:
            while True:
                if self._closing.is_set() and (
                        time.monotonic() >= self._close_deadline
                        or (self._client is not None and not self.outbox.unsent)):
                    break
                if self._client is None:
                    if not self._connect():
                        if self._closing.is_set():
                            break  # offline at the end: the outbox is lost with the process
                        wait = AUTH_RETRY_S if self._auth_failed else backoff
                        backoff = min(2 * backoff, BACKOFF_S[1])
                        self._wait(wait)
                        continue
                    backoff = BACKOFF_S[0]
                try:
                    self._drain()
                    if time.monotonic() >= next_tick:
                        next_tick = time.monotonic() + self.tick_s
                        self.tick(self._client)
                except redis.RedisError as exc:
                    self._lost(exc)
                    continue
                if not self.outbox.unsent:
                    self._wait(max(0.0, next_tick - time.monotonic()))
        except WriterStopped as exc:
            self.notify("publish_refused", str(exc))
        except Exception as exc:  # a bug must not pass silently, nor reach the worker
            log.exception("%s failed", self._thread.name)
            self.notify("publish_error", self.target.scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            with contextlib.suppress(redis.RedisError):
                self.on_close(self._client)
            self._drop_client()

    def _wait(self, seconds: float) -> None:
        if self._closing.is_set():
            seconds = min(seconds, max(0.0, self._close_deadline - time.monotonic()))
        if self._wake.wait(seconds):
            self._wake.clear()

    def _connect(self) -> bool:
        self._client = client = self.target.client(once=True)
        try:
            client.ping()
            self.on_connect(client)
            self._reconcile(client)
        except redis.RedisError as exc:
            self._auth_failed = is_auth_error(exc)
            self._lost(exc)
            return False
        self._auth_failed = False
        self.connected.set()
        if self._offline_since is not None:
            if self._reported_offline:
                gone = time.monotonic() - self._offline_since
                self.notify("publish_online", f"{self.target.shown}: connected again after "
                                              f"{gone:.1f} s; {self.outbox.unsent} events to "
                                              "deliver")
            self._offline_since = None
            self._reported_offline = False
        return True

    def _lost(self, exc: BaseException) -> None:
        self._drop_client()
        self.connected.clear()
        if self._offline_since is None:
            self._offline_since = time.monotonic()
            self.stats["outages"] += 1
        if not self._reported_offline:
            self._reported_offline = True
            self.notify("publish_offline", f"{self.target.describe(exc)}; monitoring goes on, "
                                           "and the events are delivered when Redis is back")

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(redis.RedisError):
                self._client.close()
            self._client = None

    def _reconcile(self, client: redis.Redis) -> None:
        """For every stream this session writes to: the highest seq of ours it holds."""
        for key in sorted(self.outbox.keys()):
            stored = self._stored_seq(client, key)
            self.stats["resent"] += self.outbox.reconcile(key, stored)
        self.stats["reconciled"] += 1

    def _stored_seq(self, client: redis.Redis, key: str) -> int:
        """Read the stream backwards until an entry of this session (its seq), or past the
        first id of ours it ever held, or to the start (0: none of ours)."""
        session = self.outbox.session
        first = self._first_id.get(key)
        top = "+"
        while True:
            page = client.xrevrange(key, top, "-", count=PAGE)
            for entry_id, fields in page:
                uid = fields.get(b"uid")
                if uid is not None:
                    try:
                        _, sess, seq = split_uid(uid.decode(errors="replace"))
                    except SchemaError:
                        continue
                    if sess == session:
                        return seq
                if first is not None and _id_lt(entry_id, first):
                    return 0
            if len(page) < PAGE:
                return 0
            top = "(" + page[-1][0].decode()

    def _drain(self) -> None:
        while self._client is not None:
            batch = self.outbox.pending(BATCH)
            if not batch:
                return
            pipe = self._client.pipeline(transaction=False)
            for entry in batch:
                _, kind = stream_kind(entry.key)
                pipe.xadd(entry.key, entry.message.fields(), maxlen=CAPS[kind],
                          approximate=True)
            ids = pipe.execute()
            self._stored(batch, ids)

    def _stored(self, batch: list[OutboxEntry], ids: list[bytes]) -> None:
        self.outbox.mark_stored(batch)
        self.stats["written"] += len(batch)
        for entry, entry_id in zip(batch, ids, strict=True):
            self._first_id.setdefault(entry.key, entry_id)


def _id_lt(a: bytes, b: bytes) -> bool:
    """Stream id a < b (ids are "<ms>-<seq>")."""
    ams, _, aseq = a.partition(b"-")
    bms, _, bseq = b.partition(b"-")
    return (int(ams), int(aseq or 0)) < (int(bms), int(bseq or 0))
