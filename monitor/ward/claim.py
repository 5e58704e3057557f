"""One monitor per patient id: a claim key held with redis-py's Lock (SET NX with an expiry,
refreshed by the publisher's heartbeat, released by a script that checks the holder).

The token is a small JSON object (session, host, pid, label, since), so a refused monitor can
say who holds the id. A monitor killed with -9 stops refreshing, and its claim lapses after
``CLAIM_TTL_S``; ``--take-over`` replaces a live holder, which notices at its next refresh and
stops publishing.
"""

from __future__ import annotations

import contextlib
import json
import time

import redis
from redis.exceptions import LockError

from monitor.ward.connection import WardError
from monitor.ward.keys import PatientKeys

#: seconds a claim outlives its last refresh (refreshed every second)
CLAIM_TTL_S = 6.0


class ClaimHeld(WardError):
    """Another live monitor publishes this patient id."""


class PatientClaim:
    """The claim of one session on one patient id."""

    def __init__(self, keys: PatientKeys, session: str, label: str, host: str, pid: int,
                 ttl_s: float = CLAIM_TTL_S):
        self.keys = keys
        self.ttl_s = ttl_s
        self.token = json.dumps({"session": session, "host": host, "pid": pid, "label": label,
                                 "since": round(time.time(), 3)}, separators=(",", ":"))
        self.held = False

    def _lock(self, client: redis.Redis) -> redis.lock.Lock:
        lock = client.lock(self.keys.claim, timeout=self.ttl_s, blocking=False,
                           thread_local=False)
        if self.held:
            lock.local.token = self.token.encode()
        return lock

    def acquire(self, client: redis.Redis, take_over: bool = False) -> None:
        """Take the id, or raise ClaimHeld naming the holder; ``take_over`` replaces it."""
        if take_over:
            client.delete(self.keys.claim)
        if not self._lock(client).acquire(token=self.token):
            if client.get(self.keys.claim) == self.token.encode():
                self.held = True  # ours already (set before a reply was lost)
                return
            raise ClaimHeld(self.refusal(client))
        self.held = True

    def refresh(self, client: redis.Redis) -> None:
        """Extend the claim; if it lapsed (a Redis that lost it), take it again. Raises
        ClaimHeld when another monitor has it now."""
        try:
            self._lock(client).reacquire()
        except LockError:
            self.held = False
            self.acquire(client)

    def release(self, client: redis.Redis) -> None:
        if self.held:
            with contextlib.suppress(LockError):
                self._lock(client).release()
            self.held = False

    def refusal(self, client: redis.Redis) -> str:
        raw = client.get(self.keys.claim)
        who = "another monitor"
        try:
            holder = json.loads(raw) if raw else {}
            who = (f"the monitor on {holder['host']} (pid {holder['pid']}, since "
                   f"{time.strftime('%H:%M:%S', time.localtime(holder['since']))})")
        except (ValueError, KeyError, TypeError):
            pass
        return (f"--patient {self.keys.patient}: {who} publishes this patient id. Stop it, wait "
                f"{self.ttl_s:g} s if it was killed, or pass --take-over to replace it.")
