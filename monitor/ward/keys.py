"""The key layout in Redis: one registry of patients, and per patient three streams and a claim.

Every key of a patient carries the hash tag ``{<patient>}``, so on Redis Cluster all of them
hash to one slot: a patient's streams can be read together and its claim checked next to them.

    seizure-monitor:patients              hash   patient id -> JSON (label, session, host, ...)
    seizure-monitor:{P}:events            stream bedside -> wards: alerts, acks, status (durable)
    seizure-monitor:{P}:trend             stream bedside -> wards: 1 Hz trend and heartbeat
    seizure-monitor:{P}:commands          stream wards -> bedside and wards: ack, snooze
    seizure-monitor:{P}:claim             string the monitor that holds the patient id (expires)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.ward.connection import WardError

PREFIX = "seizure-monitor"
REGISTRY = f"{PREFIX}:patients"

#: Stream caps, trimmed approximately (XADD MAXLEN ~, whole listpack nodes at a time), so a
#: stream may hold up to one node (100 entries) more. Events: alerts, acknowledgements and
#: status events; a busy day is a few hundred, so 10,000 keep weeks of history and bound a
#: stream whose signal flaps between bad and good all day. Trend: 15 minutes at 1 Hz (the
#: sparkline shows 10 minutes, so a station started late still draws it whole). Commands:
#: acknowledgements and snoozes from the wards.
EVENTS_MAXLEN = 10_000
TREND_MAXLEN = 900
COMMANDS_MAXLEN = 1_000

#: letters, digits, dot, dash, underscore: safe inside a hash tag and a key, and in an LSL name
PATIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_patient(patient: str) -> str:
    if not PATIENT_ID.fullmatch(patient or ""):
        raise WardError(f"--patient {patient!r}: a patient id is 1-64 letters, digits, '.', '-' "
                        "or '_', starting with a letter or digit.")
    return patient


@dataclass(frozen=True)
class PatientKeys:
    """The keys of one patient (all in the hash slot of ``{patient}``)."""

    patient: str

    def __post_init__(self):
        check_patient(self.patient)

    def _key(self, name: str) -> str:
        return f"{PREFIX}:{{{self.patient}}}:{name}"

    @property
    def events(self) -> str:
        return self._key("events")

    @property
    def trend(self) -> str:
        return self._key("trend")

    @property
    def commands(self) -> str:
        return self._key("commands")

    @property
    def claim(self) -> str:
        return self._key("claim")


#: stream kind -> its cap
CAPS = {"events": EVENTS_MAXLEN, "trend": TREND_MAXLEN, "commands": COMMANDS_MAXLEN}


def stream_kind(key: str) -> tuple[str, str]:
    """``seizure-monitor:{P}:events`` -> ("P", "events")."""
    m = re.fullmatch(re.escape(PREFIX) + r":\{(.+)\}:(events|trend|commands)", key)
    if m is None:
        raise ValueError(f"{key!r} is not a patient stream")
    return m.group(1), m.group(2)
