"""Reviewers' labels of alerts: *confirmed*, *false alarm* or *unsure*, with a note.

Saved beside the recording and read again next time: appended to the .vmrk of this monitor's
own recordings (a ``Label`` marker at the sample where the alert was raised, so BrainVision
Analyzer, EEGLAB and mne show it too), and to a BIDS-style ``<stem>_review_events.tsv`` beside
any other file (never into the file itself, nor into a dataset's own ``_events.tsv``).
Labels are only ever appended; the last one for an alert wins.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from monitor.record import LABEL, RecordingPaths, append_markers
from monitor.review.recording import ReviewAlert, ReviewRecording, read_vmrk

LABELS = ("confirmed", "false alarm", "unsure")
#: columns of <stem>_review_events.tsv (BIDS events: onset and duration first)
TSV_COLUMNS = ("onset", "duration", "trial_type", "sample", "label", "note", "labelled_at")


@dataclass(frozen=True)
class Label:
    label: str  # one of LABELS
    note: str = ""
    at: str = ""  # when it was given (UTC, ISO 8601)


def labels_path(rec: ReviewRecording) -> Path:
    if rec.kind == "monitor":
        return RecordingPaths.of(rec.path).vmrk
    return rec.path.with_name(rec.path.stem + "_review_events.tsv")


def _clean(note: str) -> str:
    return " ".join(note.split())


def save_label(rec: ReviewRecording, alert: ReviewAlert, label: str, note: str = "") -> Label:
    """Append one label (fsynced) and return it."""
    if label not in LABELS:
        raise ValueError(f"a label is one of {', '.join(LABELS)}, got {label!r}")
    note = _clean(note)
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = labels_path(rec)
    if rec.kind == "monitor":
        slug = label.replace(" ", "_")
        append_markers(path, [(LABEL, f"{slug} {alert.cls} at={at} note={note}",
                               alert.sample, 1)])
        return Label(label, note, at)
    new = not path.exists()
    row = [f"{alert.raised:.6f}", f"{(alert.end or alert.raised) - alert.raised:.6f}",
           f"{alert.cls}_alert", str(alert.sample), label, note or "n/a", at]
    with open(path, "a", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        if new:
            w.writerow(TSV_COLUMNS)
        w.writerow(row)
        f.flush()
        os.fsync(f.fileno())
    return Label(label, note, at)


def load_labels(rec: ReviewRecording) -> dict[tuple[str, int], Label]:
    """Every saved label, by alert key (class, sample); the last one of an alert wins."""
    path = labels_path(rec)
    out: dict[tuple[str, int], Label] = {}
    if not path.exists():
        return out
    if rec.kind == "monitor":
        for m in read_vmrk(path):
            if m.mtype != LABEL:
                continue
            head, _, note = m.description.partition(" note=")
            parts = head.split()
            if len(parts) >= 2 and parts[0].replace("_", " ") in LABELS:
                at = parts[2].removeprefix("at=") if len(parts) > 2 else ""
                out[(parts[1], m.position)] = Label(parts[0].replace("_", " "), note, at)
        return out
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                key = (row["trial_type"].removesuffix("_alert"), int(row["sample"]))
            except (KeyError, TypeError, ValueError):
                continue  # a row cut short, or not one of ours
            if row.get("label") in LABELS:
                note = "" if row.get("note") in (None, "n/a") else row["note"]
                out[key] = Label(row["label"], note, row.get("labelled_at") or "")
    return out
