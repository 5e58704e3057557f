"""A small XDF writer for the tests: the layout LabRecorder writes (XDF 1.0: a magic, then
chunks of file header, stream headers, samples, clock offsets, boundaries and stream footers),
so pyxdf, the reference reader, can read files the tests make. pyxdf has no writer of its own.

Spec: https://github.com/sccn/xdf/wiki/Specifications
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

FORMATS = {"float32": "<f4", "double64": "<f8", "int16": "<i2", "int32": "<i4"}
#: LabRecorder's boundary chunk id
BOUNDARY = uuid.UUID("43a5460c-ba69-4e62-9bbd-03f08a1c64e9").bytes


@dataclass
class XdfStream:
    name: str
    type: str
    channel_format: str  # "float32", "double64", "int16", "int32" or "string"
    nominal_srate: float
    timestamps: np.ndarray
    samples: list  # (n, channels) numbers, or one string per sample
    source_id: str = ""
    channels: list[dict[str, str]] = field(default_factory=list)  # label, type, unit

    @property
    def channel_count(self) -> int:
        if self.channel_format == "string":
            return 1
        return int(np.asarray(self.samples).shape[1])


def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _header_xml(s: XdfStream) -> bytes:
    chans = "".join("<channel>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in c.items())
                    + "</channel>" for c in s.channels)
    desc = f"<desc><channels>{chans}</channels></desc>" if s.channels else "<desc/>"
    return (f'<?xml version="1.0"?><info><name>{escape(s.name)}</name><type>{escape(s.type)}'
            f"</type><channel_count>{s.channel_count}</channel_count><nominal_srate>"
            f"{s.nominal_srate!r}</nominal_srate><channel_format>{s.channel_format}"
            f"</channel_format><source_id>{escape(s.source_id)}</source_id>"
            f"<version>1.1</version><created_at>0</created_at><uid>{uuid.uuid4()}</uid>"
            f"<session_id>default</session_id><hostname>test</hostname>{desc}</info>"
            ).encode()


def _samples(sid: int, s: XdfStream, start: int, stop: int) -> bytes:
    out = bytearray(struct.pack("<I", sid) + _varlen(stop - start))
    for i in range(start, stop):
        out += struct.pack("<Bd", 8, float(s.timestamps[i]))
        if s.channel_format == "string":
            text = str(s.samples[i]).encode()
            out += _varlen(len(text)) + text
        else:
            out += np.asarray(s.samples[i], FORMATS[s.channel_format]).tobytes()
    return bytes(out)


def write_xdf(path: Path, streams: list[XdfStream], chunk: int = 500) -> Path:
    """Write the streams as LabRecorder does: headers, interleaved sample chunks with a
    boundary now and then, a zero clock offset per stream, footers."""
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, s in enumerate(streams, 1):
        out += _chunk(2, struct.pack("<I", sid) + _header_xml(s))
    longest = max(len(s.timestamps) for s in streams)
    for k, start in enumerate(range(0, longest, chunk)):
        for sid, s in enumerate(streams, 1):
            n = len(s.timestamps)
            if start < n:
                out += _chunk(3, _samples(sid, s, start, min(n, start + chunk)))
        if k % 4 == 3:
            out += _chunk(5, BOUNDARY)
    for sid, s in enumerate(streams, 1):
        t = float(s.timestamps[-1]) if len(s.timestamps) else 0.0
        out += _chunk(4, struct.pack("<Idd", sid, t, 0.0))
    for sid, s in enumerate(streams, 1):
        first = float(s.timestamps[0]) if len(s.timestamps) else 0.0
        last = float(s.timestamps[-1]) if len(s.timestamps) else 0.0
        footer = (f'<?xml version="1.0"?><info><first_timestamp>{first!r}</first_timestamp>'
                  f"<last_timestamp>{last!r}</last_timestamp><sample_count>"
                  f"{len(s.timestamps)}</sample_count></info>").encode()
        out += _chunk(6, struct.pack("<I", sid) + footer)
    path.write_bytes(bytes(out))
    return path
