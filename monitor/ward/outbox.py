"""The outbox: what one session must deliver to Redis, in order, exactly once as a reader sees it.

A synchronous object (tests drive it without threads or Redis). The worker thread adds
durable messages (alerts, acknowledgements, status events); the publisher thread takes what is
pending, writes it, and marks what Redis acknowledged. Every message keeps a uid
``<patient>:<session>:<seq>`` (seq counted per stream), so a retry is recognisable.

After a reconnect the publisher asks the stream for the highest seq of this session it holds
(:meth:`Outbox.reconcile`): everything up to it is stored, everything after it is sent again.
Redis applies and persists writes in order, so what survives a crash is a prefix of what was
written; the highest seq found says exactly which messages are there. Entries stay in the
outbox after they are stored, up to ``capacity``, so that a Redis restarted without
persistence (empty) is refilled with this session's history.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from monitor.ward.keys import EVENTS_MAXLEN
from monitor.ward.schema import Message, make_uid


@dataclass
class OutboxEntry:
    key: str
    seq: int
    message: Message
    stored: bool = False


class Outbox:
    """Durable messages of one session, oldest first, bounded by ``capacity``."""

    def __init__(self, session: str, capacity: int = EVENTS_MAXLEN):
        self.session = session
        self.capacity = capacity
        self._entries: deque[OutboxEntry] = deque()
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()
        #: messages pushed out by newer ones before Redis had them (an outage longer than
        #: the outbox holds)
        self.dropped = 0

    def add(self, key: str, patient: str, type_: str, data: dict, ts: float) -> Message:
        """A new durable message for stream ``key``; returns it with its uid."""
        with self._lock:
            seq = self._seq.get(key, 0) + 1
            self._seq[key] = seq
            msg = Message(type_, ts, data, make_uid(patient, self.session, seq))
            if len(self._entries) >= self.capacity and not self._entries.popleft().stored:
                self.dropped += 1
            self._entries.append(OutboxEntry(key, seq, msg))
            return msg

    def next_uid(self, key: str, patient: str) -> str:
        """The uid the next message for ``key`` will get (an alert's id is its "on" entry's
        uid); the caller holds its own lock across this and the ``add``."""
        with self._lock:
            return make_uid(patient, self.session, self._seq.get(key, 0) + 1)

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """The oldest messages Redis does not hold yet, in order."""
        with self._lock:
            out = []
            for entry in self._entries:
                if not entry.stored:
                    out.append(entry)
                    if len(out) >= limit:
                        break
            return out

    def mark_stored(self, entries: list[OutboxEntry]) -> None:
        with self._lock:
            for entry in entries:
                entry.stored = True

    def keys(self) -> set[str]:
        """The streams this session has written (or will write) to."""
        with self._lock:
            return {e.key for e in self._entries}

    def reconcile(self, key: str, stored_seq: int) -> int:
        """Stream ``key`` holds this session's messages up to ``stored_seq`` (0: none): mark
        those stored and the later ones pending. Returns how many are pending for ``key``."""
        with self._lock:
            n = 0
            for entry in self._entries:
                if entry.key == key:
                    entry.stored = entry.seq <= stored_seq
                    n += not entry.stored
            return n

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def unsent(self) -> int:
        with self._lock:
            return sum(not e.stored for e in self._entries)
