"""A recording opened for review: its EEG (an mne Raw, read lazily), its annotations, and what
the monitor made of it (the probability trend and the alerts), on one time axis: seconds from
the recording's first sample.

Three kinds of file: this monitor's own BrainVision recordings (``kind == "monitor"``: alerts,
status events and ground truth from the .vmrk, the trend from the predictions TSV), any file
mne reads with its annotations (``"mne"``: EDF/EDF+, BDF, FIF, BrainVision from elsewhere), and
LabRecorder's XDF (``"xdf"``, see :mod:`monitor.review.xdf`). A file without stored
predictions gets them from :func:`monitor.review.classify.classify`.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.data import CLASSES, DataError
from monitor.record import (
    ALERT,
    COMMENT_TITLE,
    LABEL,
    PREDICTION_COLUMNS,
    STATUS,
    TRUTH,
    RecordingPaths,
)

#: files mne reads that a review opens (others are tried with mne.io.read_raw too)
EEG_TYPES = ("eeg", "seeg", "ecog")


@dataclass(frozen=True)
class Annotation:
    onset: float  # recording seconds
    duration: float
    description: str


@dataclass(frozen=True)
class ReviewAlert:
    """An alert on the recording's time axis; ``sample`` (where it was raised) is its key."""

    cls: str
    onset: float
    raised: float
    end: float | None  # None: still on when the recording ends
    peak: float
    channels: tuple[str, ...]
    sample: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.cls, self.sample)


@dataclass
class Trend:
    """What the monitor concluded, window by window."""

    time: np.ndarray  # (n,) recording seconds of each window's last sample
    seizure: np.ndarray  # (n,) smoothed seizure probability of the lead channel
    tumor: np.ndarray  # (n,) highest smoothed tumor probability over classified channels
    state: np.ndarray  # (n,) alert state after the window
    classified: np.ndarray  # (n,) channels classified
    channels: int  # EEG channels
    #: (n, channels) bool, where known (the model pass): which channels were classified
    valid: np.ndarray | None = None


@dataclass
class ReviewRecording:
    path: Path
    kind: str  # "monitor", "mne" or "xdf"
    raw: object  # mne.io.BaseRaw, in volts
    eeg: list[int]  # indices of the EEG channels in raw
    annotations: list[Annotation] = field(default_factory=list)  # the file's own
    truth: list[Annotation] = field(default_factory=list)  # replays: class per stretch
    status: list[Annotation] = field(default_factory=list)  # this monitor's status events
    segments: list[float] = field(default_factory=list)  # starts of new segments (gaps)
    alerts: list[ReviewAlert] = field(default_factory=list)
    trend: Trend | None = None
    meta: dict[str, str] = field(default_factory=dict)  # settings, checkpoint, source
    warnings: list[str] = field(default_factory=list)

    @property
    def sfreq(self) -> float:
        return float(self.raw.info["sfreq"])

    @property
    def n_samples(self) -> int:
        return int(self.raw.n_times)

    @property
    def duration(self) -> float:
        return self.n_samples / self.sfreq

    @property
    def channels(self) -> list[str]:
        return [self.raw.ch_names[i] for i in self.eeg]

    @property
    def has_predictions(self) -> bool:
        return self.trend is not None

    def span(self, start: float, stop: float, picks: list[int] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Times and microvolts of [start, stop) seconds (EEG channels unless ``picks``)."""
        a = max(0, int(start * self.sfreq))
        b = min(self.n_samples, max(a + 1, int(np.ceil(stop * self.sfreq))))
        picks = self.eeg if picks is None else picks
        data = self.raw.get_data(picks=picks, start=a, stop=b) * 1e6
        return np.arange(a, b) / self.sfreq, data


def open_recording(path: str | Path) -> ReviewRecording:
    """Open any supported recording; a DataError names the file and what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a recording file (.vhdr, .edf, .xdf...).")
    if path.suffix.lower() == ".xdf":
        from monitor.review.xdf import read_xdf

        return read_xdf(path)
    if path.suffix.lower() == ".vhdr" and is_monitor_recording(path):
        return read_monitor_recording(path)
    return read_mne_file(path)


def _read_raw(path: Path, reader=None):
    import mne

    try:
        if reader is None:
            return mne.io.read_raw(path, preload=False, verbose="error")
        return reader(path, preload=False, verbose="error")
    except FileNotFoundError as exc:
        missing = exc.filename or str(exc)
        raise DataError(f"{path}: the file it points to, {missing}, is missing; keep the "
                        ".vhdr, .eeg and .vmrk of a recording together.") from None
    except Exception as exc:  # mne raises many types for unreadable files
        raise DataError(f"{path}: mne cannot read this file ({exc}).") from None


def _eeg_picks(raw, path: Path) -> list[int]:
    import mne

    picks = list(mne.pick_types(raw.info, eeg=True, seeg=True, ecog=True, exclude=[]))
    if not picks:
        kinds = sorted(set(raw.get_channel_types()))
        raise DataError(f"{path}: the file has no EEG channels (channel types: "
                        f"{', '.join(kinds) or 'none'}).")
    if raw.n_times == 0:
        raise DataError(f"{path}: the file holds no complete sample.")
    return picks


def read_mne_file(path: Path) -> ReviewRecording:
    """Any file mne reads, with its annotations; no predictions (the model pass adds them)."""
    raw = _read_raw(path)
    picks = _eeg_picks(raw, path)
    notes = [Annotation(_onset(raw, a), float(a["duration"]), str(a["description"]))
             for a in raw.annotations]
    return ReviewRecording(path, "mne", raw, picks, annotations=notes)


def _onset(raw, annotation) -> float:
    """Seconds from the first sample (mne's annotation onsets count from meas_date when it
    is set, which a cropped file's first sample may not be)."""
    onset = float(annotation["onset"])
    if raw.annotations.orig_time is not None:
        onset -= raw.first_time
    return onset


# --- this monitor's own recordings -------------------------------------------------------------


def is_monitor_recording(vhdr: Path) -> bool:
    try:
        text = vhdr.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    _, _, comment = text.partition("[Comment]")
    return COMMENT_TITLE in comment


def header_meta(vhdr: Path) -> dict[str, str]:
    """The key=value lines of the header's [Comment] section (settings, checkpoint, source)."""
    _, _, comment = vhdr.read_text(encoding="utf-8", errors="replace").partition("[Comment]")
    meta = {}
    for line in comment.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            meta[key.strip()] = value.strip()
    return meta


_MARKER = re.compile(r"^Mk(\d+)=([^,]*),([^,]*),(\d+),(\d*),?(\d*),?(\d*)", re.MULTILINE)
_ALERT = re.compile(r"^(\w+) (on|off) t=(\S+) onset=(\S+) p=(\S+) ch=(.*)$")


@dataclass(frozen=True)
class Marker:
    mtype: str
    description: str
    position: int  # 0-based sample
    size: int


def read_vmrk(vmrk: Path) -> list[Marker]:
    """Every marker of a .vmrk, in file order (a half-written last line is left out)."""
    text = vmrk.read_text(encoding="utf-8", errors="replace")
    _, _, body = text.partition("[Marker Infos]")
    out = []
    for m in _MARKER.finditer(body):
        if body[m.end():m.end() + 1] not in ("\n", "\r"):
            continue  # cut short by a crash: no end of line
        out.append(Marker(m.group(2).replace(r"\1", ","), m.group(3).replace(r"\1", ","),
                          int(m.group(4)) - 1, int(m.group(5) or 1)))
    return out


def read_monitor_recording(vhdr: Path) -> ReviewRecording:
    import mne

    paths = RecordingPaths.of(vhdr)
    if not paths.eeg.exists():
        raise DataError(f"{vhdr}: its data file {paths.eeg} is missing; keep the .vhdr, .eeg "
                        "and .vmrk of a recording together.")
    raw = _read_raw(vhdr, mne.io.read_raw_brainvision)
    picks = _eeg_picks(raw, vhdr)
    rec = ReviewRecording(vhdr, "monitor", raw, picks, meta=header_meta(vhdr))
    frame = 4 * len(raw.ch_names)
    extra = paths.eeg.stat().st_size % frame
    if extra:
        rec.warnings.append(f"{paths.eeg}: ends with {extra} bytes of a sample cut short (a "
                            "recording that was interrupted); they are left out.")
    sfreq, n = rec.sfreq, rec.n_samples
    markers = read_vmrk(paths.vmrk) if paths.vmrk.exists() else []
    if not paths.vmrk.exists():
        rec.warnings.append(f"{paths.vmrk}: missing; the recording has no markers.")
    beyond = [m for m in markers if m.position >= n]
    if beyond:
        rec.warnings.append(f"{paths.vmrk}: {len(beyond)} marker(s) point past the last "
                            f"sample ({n}); they are left out.")
    open_alerts: dict[str, ReviewAlert] = {}
    truth_marks: list[Marker] = []
    for i, m in enumerate(markers):
        if m.position >= n:
            continue
        t = m.position / sfreq
        if m.mtype == "New Segment":
            if i > 0:
                rec.segments.append(t)
        elif m.mtype == ALERT:
            _alert_marker(rec, m, open_alerts)
        elif m.mtype == STATUS:
            rec.status.append(Annotation(t, 0.0, m.description))
        elif m.mtype == TRUTH:
            truth_marks.append(m)
        elif m.mtype != LABEL:
            rec.annotations.append(Annotation(t, m.size / sfreq,
                                              f"{m.mtype}/{m.description}"))
    rec.alerts.extend(open_alerts.values())
    rec.alerts.sort(key=lambda a: a.raised)
    for m, nxt in zip(truth_marks, truth_marks[1:] + [None], strict=True):
        stop = n if nxt is None else nxt.position
        if m.description in CLASSES:
            rec.truth.append(Annotation(m.position / sfreq, (stop - m.position) / sfreq,
                                        m.description))
    if paths.predictions.exists():
        trend = read_predictions(paths.predictions, sfreq, len(picks))
        rec.trend = trend if len(trend.time) else None
    return rec


def _alert_marker(rec: ReviewRecording, m: Marker, open_alerts: dict[str, ReviewAlert]) -> None:
    match = _ALERT.match(m.description)
    if match is None:
        rec.warnings.append(f"{rec.path}: alert marker {m.description!r} not understood; left "
                            "out.")
        return
    cls, state, t, onset, peak, channels = match.groups()
    at = m.position / rec.sfreq
    if state == "on":
        open_alerts[cls] = ReviewAlert(cls, at - (float(t) - float(onset)), at, None,
                                       float(peak), tuple(c for c in channels.split("|") if c),
                                       m.position)
        return
    a = open_alerts.pop(cls, None)
    if a is None:  # the on marker was lost; keep what the off marker says
        a = ReviewAlert(cls, at - (float(t) - float(onset)), at, None, float(peak),
                        tuple(c for c in channels.split("|") if c), m.position)
    rec.alerts.append(ReviewAlert(a.cls, a.onset, a.raised, at, max(a.peak, float(peak)),
                                  a.channels, a.sample))


def read_predictions(path: Path, sfreq: float, n_channels: int) -> Trend:
    """The predictions sidecar; a row cut short by a crash is left out."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header) != PREDICTION_COLUMNS:
            raise DataError(f"{path}: not a predictions file of this monitor (columns "
                            f"{header}; expected {', '.join(PREDICTION_COLUMNS)}).")
        for row in reader:
            if len(row) == len(PREDICTION_COLUMNS):
                rows.append(row)
    col = {c: i for i, c in enumerate(PREDICTION_COLUMNS)}

    def num(name: str) -> np.ndarray:
        return np.array([np.nan if r[col[name]] == "n/a" else float(r[col[name]])
                         for r in rows], np.float64)

    return Trend(time=num("sample") / sfreq, seizure=num("p_seizure"), tumor=num("max_tumor"),
                 state=np.array([r[col["state"]] for r in rows], dtype="<U7"),
                 classified=num("classified").astype(int), channels=n_channels)


def alert_thresholds(rec: ReviewRecording) -> dict[str, float]:
    """The on-thresholds the recording's alerts were decided with (for the plots): from its
    stored settings, else the defaults."""
    from monitor.settings import MonitorSettings

    try:
        alerts = json.loads(rec.meta.get("settings", ""))["alerts"]
        return {"seizure": float(alerts["seizure"]["on"]), "tumor": float(alerts["tumor"]["on"])}
    except (ValueError, KeyError, TypeError):
        a = MonitorSettings().alerts
        return {"seizure": a.seizure.on, "tumor": a.tumor.on}
