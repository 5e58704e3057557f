"""LabRecorder's XDF, read with pyxdf: the EEG stream, and next to it whatever else was
recorded: this monitor's own result streams (``<name>-probabilities`` and ``<name>-alerts``
from ``run --lsl-out``), the ground-truth markers of ``seizure-monitor replay``
(``truth=<class>;recording=<id>``), and any other marker stream (as annotations).

Every stream's timestamps are on the EEG's clock once pyxdf has synchronised them; the
recording's time axis starts at the EEG stream's first sample, and its samples are taken as
evenly spaced at the nominal rate (LabRecorder's streams from one amplifier are).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.data import CLASSES, DataError
from monitor.review.recording import (
    EEG_TYPES,
    Annotation,
    ReviewAlert,
    ReviewRecording,
    Trend,
)
from monitor.sources import unit_scale


def _first(info: dict, key: str, default: str = "") -> str:
    value = info.get(key)
    if isinstance(value, list):
        value = value[0] if value else default
    return default if value is None else str(value)


def _channels(info: dict, n: int) -> tuple[list[str], list[str], list[str]]:
    """Labels, types and units from the stream's <desc><channels> ('' where absent)."""
    labels, types, units = [f"ch{i + 1}" for i in range(n)], [""] * n, [""] * n
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        return labels, types, units
    for i, ch in enumerate(chans[:n]):
        labels[i] = _first(ch, "label", labels[i]) or labels[i]
        types[i] = _first(ch, "type")
        units[i] = _first(ch, "unit")
    return labels, types, units


def _is_eeg(stream: dict) -> bool:
    info = stream["info"]
    numeric = _first(info, "channel_format") not in ("string", "")
    return (_first(info, "type").lower() in EEG_TYPES and numeric
            and float(_first(info, "nominal_srate", "0")) > 0
            and len(stream.get("time_stamps", [])) > 0)


def read_xdf(path: Path) -> ReviewRecording:
    import mne
    import pyxdf

    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"XDF:":
        # Checked here: pyxdf leaves the file open when it refuses one.
        raise DataError(f"{path}: not a readable XDF file (it does not start with 'XDF:').")
    try:
        streams, _ = pyxdf.load_xdf(str(path))
    except Exception as exc:  # pyxdf raises many types for damaged files
        raise DataError(f"{path}: not a readable XDF file ({type(exc).__name__}: {exc}).") \
            from None
    eeg = [s for s in streams if _is_eeg(s)]
    if not eeg:
        found = ", ".join(f"{_first(s['info'], 'name')!r} ({_first(s['info'], 'type')})"
                          for s in streams) or "none"
        raise DataError(f"{path}: no EEG stream with samples (type EEG, sEEG or ECoG and a "
                        f"nominal rate); streams found: {found}.")
    warnings = []
    stream = max(eeg, key=lambda s: len(s["time_stamps"]))
    if len(eeg) > 1:
        warnings.append(f"{path}: {len(eeg)} EEG streams; reviewing "
                        f"{_first(stream['info'], 'name')!r}, the longest.")
    info = stream["info"]
    data = np.asarray(stream["time_series"], np.float64).T
    labels, types, units = _channels(info, data.shape[0])
    scale = []
    for label, unit in zip(labels, units, strict=True):
        factor = unit_scale(unit) if unit else None
        if factor is None:
            warnings.append(f"{path}: channel {label}: unit {unit or 'missing'!r} unknown; "
                            "taken as microvolts.")
            factor = 1.0
        scale.append(factor * 1e-6)  # to volts, mne's unit
    kinds = [t.lower() if t.lower() in EEG_TYPES else "misc" for t in types] \
        if any(types) else ["eeg"] * len(labels)
    sfreq = float(_first(info, "nominal_srate"))
    raw = mne.io.RawArray(data * np.asarray(scale)[:, None],
                          mne.create_info(labels, sfreq, kinds), verbose="error")
    picks = [i for i, k in enumerate(kinds) if k in EEG_TYPES]
    if not picks:
        raise DataError(f"{path}: the EEG stream {_first(info, 'name')!r} has no EEG channels "
                        f"(channel types: {', '.join(sorted(set(types)))}).")
    t0 = float(stream["time_stamps"][0])
    rec = ReviewRecording(path, "xdf", raw, picks, warnings=warnings,
                          meta={"source": f"xdf stream {_first(info, 'name')!r} "
                                          f"source_id={_first(info, 'source_id')!r} "
                                          f"host={_first(info, 'hostname')!r}"})
    truth = []
    for s in streams:
        if s is stream or len(s.get("time_stamps", [])) == 0:
            continue
        sinfo = s["info"]
        name, stype = _first(sinfo, "name"), _first(sinfo, "type")
        times = np.asarray(s["time_stamps"], np.float64) - t0
        if stype == "Probabilities" and np.asarray(s["time_series"]).shape[1] == len(CLASSES):
            rec.trend = _trend(times, np.asarray(s["time_series"], np.float64), len(picks))
            rec.meta["predictions"] = f"xdf stream {name!r}"
        elif _first(sinfo, "channel_format") == "string":
            for t, (text, *_) in zip(times, s["time_series"], strict=True):
                _marker(rec, float(t), str(text), truth)
    rec.alerts.sort(key=lambda a: a.raised)
    for (t, cls), nxt in zip(truth, truth[1:] + [(rec.duration, None)], strict=True):
        if cls in CLASSES:
            rec.truth.append(Annotation(t, nxt[0] - t, cls))
    if rec.trend is not None:
        rec.trend.state = _states(rec.trend.time, rec.alerts)
    return rec


def _marker(rec: ReviewRecording, t: float, text: str, truth: list) -> None:
    """One string marker: an alert of this monitor, a replay's truth, or an annotation."""
    if text.startswith("truth="):
        cls = text.split(";")[0].removeprefix("truth=")
        truth.append((t, cls))
        return
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not (isinstance(obj, dict) and obj.get("type") == "alert"):
        rec.annotations.append(Annotation(t, 0.0, text))
        return
    cls, shift = obj["class"], float(obj["t"]) - float(obj["onset"])
    sample = int(round(t * rec.sfreq))
    if obj["state"] == "on":
        rec.alerts.append(ReviewAlert(cls, t - shift, t, None, float(obj["p"]),
                                      tuple(obj.get("channels", ())), sample))
        return
    for i, a in enumerate(rec.alerts):
        if a.cls == cls and a.end is None:
            rec.alerts[i] = ReviewAlert(a.cls, a.onset, a.raised, t, max(a.peak, float(obj["p"])),
                                        a.channels, a.sample)
            return


def _trend(times: np.ndarray, probs: np.ndarray, n_channels: int) -> Trend:
    """The result stream holds the lead channel's smoothed probabilities only, so the tumor
    trend is the lead channel's, and which channels were classified is not known."""
    return Trend(time=times, seizure=probs[:, 0], tumor=probs[:, 1],
                 state=np.full(len(times), "normal", dtype="<U7"),
                 classified=np.full(len(times), n_channels), channels=n_channels)


def _states(times: np.ndarray, alerts: list[ReviewAlert]) -> np.ndarray:
    state = np.full(len(times), "normal", dtype="<U7")
    for cls in ("tumor", "seizure"):  # seizure over tumor, as the monitor's state
        for a in alerts:
            if a.cls == cls:
                end = np.inf if a.end is None else a.end
                state[(times >= a.raised) & (times < end)] = cls
    return state
