"""The messages on the ward's streams, version 1 (docs/ward.md is the reference for readers).

Every stream entry has four string fields (five for durable ones):

    v     schema version ("1"); a reader skips entries of a newer major version
    type  what the entry is (below)
    ts    Unix seconds (ms precision) at the origin when it happened
    uid   durable entries only: "<patient>:<session>:<seq>", unique, the same on every retry
    data  a JSON object, its keys depending on the type

Durable types (delivered exactly once as a ward sees them; de-duplicated by ``uid``):
``alert``, ``ack``, ``status``, ``session`` on the events stream; ``ack``, ``snooze`` on the
commands stream. Trend and heartbeat entries are superseded by the next one and may be lost.
Anything else on a patient's stream (a foreign or malformed entry) is skipped with a warning.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from numbers import Real

VERSION = 1
#: the alert classes and their severities (as monitor.alerts.ALERT_CLASSES)
SEVERITY = {"seizure": "critical", "tumor": "warning"}


class SchemaError(ValueError):
    """An entry this reader cannot use; the message says which field and why."""


_NUM = "number"
_STR = "string"
_OPT_STR = "string or null"
_LIST = "list"
_DICT = "object"

#: stream kind -> type -> required data keys -> what they hold
SPEC: dict[str, dict[str, dict[str, str]]] = {
    "events": {
        # on: raised; off: cleared (alert_id is the uid of the "on" entry of the same alert)
        "alert": {"state": _STR, "class": _STR, "alert_id": _STR, "t": _NUM, "onset": _NUM,
                  "onset_ts": _NUM, "p": _NUM, "channels": _LIST},
        # origin "bedside" (the dashboard's button) or "ward" (ref: the command's uid)
        "ack": {"class": _STR, "alert_id": _OPT_STR, "by": _STR, "where": _STR, "origin": _STR},
        # the monitor's status events: started, stopped, stream_lost, bad_samples, error, ...
        "status": {"event": _STR, "detail": _STR, "t": _NUM},
        # a monitor session began publishing this patient
        "session": {"session": _STR, "label": _STR, "host": _STR},
    },
    "trend": {
        # once a second: p = highest smoothed seizure probability of the second
        "trend": {"p": _NUM, "smoothed": _DICT, "state": _STR, "channel": _STR,
                  "health": _STR},
        # once a second while there is nothing to classify (stream lost, not started)
        "heartbeat": {"health": _STR},
    },
    "commands": {
        "ack": {"class": _STR, "alert_id": _OPT_STR, "by": _STR, "where": _STR},
        # silence the patient's sound at every ward for minutes (0 ends a snooze)
        "snooze": {"minutes": _NUM, "by": _STR, "where": _STR},
    },
}
DURABLE_KINDS = ("events", "commands")


def _is(value, kind: str) -> bool:
    if kind == _NUM:
        return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if kind == _STR:
        return isinstance(value, str)
    if kind == _OPT_STR:
        return value is None or isinstance(value, str)
    if kind == _LIST:
        return isinstance(value, list)
    return isinstance(value, dict)


@dataclass(frozen=True)
class Message:
    """One entry of a patient's stream."""

    type: str
    ts: float
    data: dict = field(default_factory=dict)
    uid: str | None = None
    v: int = VERSION

    def fields(self) -> dict[str, str]:
        """The entry as XADD takes it."""
        out = {"v": str(self.v), "type": self.type, "ts": f"{self.ts:.3f}",
               "data": json.dumps(self.data, separators=(",", ":"))}
        if self.uid is not None:
            out["uid"] = self.uid
        return out

    def json(self) -> dict:
        """A flat JSON object for printing: the data's keys next to type, ts, uid."""
        out = {"type": self.type, "ts": self.ts, **self.data}
        if self.uid is not None:
            out["uid"] = self.uid
        return out


def _text(value) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise SchemaError("a field is not UTF-8 text") from None
    return str(value)


def parse(kind: str, raw: dict) -> Message:
    """A stream entry's fields (bytes or str, as redis-py returns them) -> Message, checked
    against :data:`SPEC`; raises SchemaError naming what is wrong."""
    f = {_text(k): _text(v) for k, v in raw.items()}
    if "v" not in f or "type" not in f:
        raise SchemaError(f"not a seizure-monitor entry (fields {sorted(f)[:6]})")
    try:
        version = int(f["v"])
    except ValueError:
        raise SchemaError(f"schema version {f['v']!r} is not a number") from None
    if version > VERSION:
        raise SchemaError(f"schema version {version} is newer than this reader's ({VERSION}); "
                          "upgrade seizure-monitor")
    spec = SPEC[kind].get(f["type"])
    if spec is None:
        raise SchemaError(f"unknown type {f['type']!r} on a {kind} stream")
    try:
        ts = float(f.get("ts", ""))
        data = json.loads(f.get("data", ""))
    except ValueError:
        raise SchemaError(f"{f['type']}: ts or data is not valid (ts {f.get('ts')!r})") from None
    if not math.isfinite(ts) or not isinstance(data, dict):
        raise SchemaError(f"{f['type']}: ts must be a finite number and data a JSON object")
    for key, what in spec.items():
        if key not in data or not _is(data[key], what):
            raise SchemaError(f"{f['type']}: data.{key} must be a {what}, got "
                              f"{data.get(key)!r:.40}")
    uid = f.get("uid")
    if kind in DURABLE_KINDS:
        if uid is None:
            raise SchemaError(f"{f['type']}: a durable entry without a uid")
        split_uid(uid)
    if f["type"] == "alert" and (data["state"] not in ("on", "off")
                                 or data["class"] not in SEVERITY):
        raise SchemaError(f"alert: state {data['state']!r} / class {data['class']!r} unknown")
    return Message(f["type"], ts, data, uid, version)


def make_uid(patient: str, session: str, seq: int) -> str:
    return f"{patient}:{session}:{seq}"


def split_uid(uid: str) -> tuple[str, str, int]:
    """``"P:session:12"`` -> ("P", "session", 12); raises SchemaError."""
    parts = uid.rsplit(":", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        raise SchemaError(f"uid {uid!r} is not <patient>:<session>:<seq>")
    return parts[0], parts[1], int(parts[2])
