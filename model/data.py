"""Recordings from the Kaggle CSV, the original Bonn folders, or any file mne reads.

Every reader returns whole recordings, never rows: the CSV's one-second rows are put back
together in chunk order so windows can cross the old row borders and splits can be made by
recording (a row split leaks chunks of one recording into both sides).
"""

from __future__ import annotations

import csv
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASSES: tuple[str, ...] = ("seizure", "tumor", "normal")
#: Kaggle ``y`` -> Bonn set (Andrzejak et al. 2001).
Y_TO_SET = {1: "S", 2: "F", 3: "N", 4: "O", 5: "Z"}
#: Bonn set -> class index, as in the original notebook: seizure, tumor, normal (N, O, Z).
SET_TO_CLASS = {"S": 0, "F": 1, "N": 2, "O": 2, "Z": 2}
BONN_SETS = ("Z", "O", "N", "F", "S")
#: The true sampling rate of the Bonn recordings (4097 samples in 23.6 s).
BONN_RATE = 173.61
#: The Kaggle description's nominal rate: 178 samples per one-second chunk.
NOMINAL_RATE = 178.0
CHUNK = 178
_ROW_ID = re.compile(r"^X(\d+)\.(.+)$")
#: Samples are stored as float32: a value beyond this (e.g. 1e39) would become infinite.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class DataError(ValueError):
    """Bad input data; the message names the file (and line) and says how to fix it."""


@dataclass(frozen=True)
class Recording:
    """One continuous recording: ``data`` is (n_channels, n_samples) float32 in dataset units."""

    id: str
    data: np.ndarray
    sample_rate: float
    label: int | None = None
    bonn_set: str | None = None
    channels: tuple[str, ...] = ("EEG",)
    source: str = ""

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def class_name(self) -> str | None:
        return None if self.label is None else CLASSES[self.label]


def read_kaggle_csv(path: str | Path) -> list[Recording]:
    """Read the Kaggle "Epileptic Seizure Recognition" CSV and reassemble its recordings.

    Any row count is accepted. Rows whose id is not of the form ``X<chunk>.<name>`` are kept
    as independent one-second recordings (one warning for all of them).
    """
    path = Path(path)
    rows = _read_csv_rows(path)
    groups: dict[tuple[int, str], dict[int, np.ndarray]] = defaultdict(dict)
    loose: list[tuple[str, int, np.ndarray]] = []
    for line, row_id, y, samples in rows:
        m = _ROW_ID.match(row_id)
        if m is None:
            loose.append((f"{Y_TO_SET[y]}:row{line}", y, samples))
            continue
        chunk, name = int(m.group(1)), m.group(2)
        chunks = groups[(y, name)]
        if chunk in chunks:
            raise DataError(
                f"{path}, line {line}: chunk {chunk} of recording {name!r} (y={y}) appears "
                "twice; remove the duplicate row."
            )
        chunks[chunk] = samples
    if loose:
        warnings.warn(
            f"{path}: {len(loose)} row(s) have ids not of the form 'X<chunk>.<name>' "
            "(e.g. line " + loose[0][0].split("row")[1] + "); each is kept as a one-second "
            "recording of its own.",
            stacklevel=2,
        )
    recordings = []
    gaps = 0
    for (y, name), chunks in sorted(groups.items()):
        runs = _contiguous_runs(sorted(chunks))
        gaps += len(runs) > 1
        for run in runs:
            rec_id = f"{Y_TO_SET[y]}:{name}"
            if len(runs) > 1:
                rec_id += f"#{run[0]}"
            signal = np.concatenate([chunks[c] for c in run])
            recordings.append(_labelled(rec_id, signal, y, NOMINAL_RATE, str(path)))
    if gaps:
        warnings.warn(
            f"{path}: {gaps} recording(s) have missing chunks; each unbroken run of chunks "
            "is kept as a recording of its own so no window spans a gap.",
            stacklevel=2,
        )
    recordings += [_labelled(i, s, y, NOMINAL_RATE, str(path)) for i, y, s in loose]
    if not recordings:
        raise DataError(f"{path}: the file has a header but no data rows.")
    return recordings


def _labelled(rec_id: str, signal: np.ndarray, y: int, rate: float, source: str) -> Recording:
    bonn_set = Y_TO_SET[y]
    return Recording(
        id=rec_id,
        data=signal.astype(np.float32)[None, :],
        sample_rate=rate,
        label=SET_TO_CLASS[bonn_set],
        bonn_set=bonn_set,
        source=source,
    )


def _contiguous_runs(chunks: list[int]) -> list[list[int]]:
    runs: list[list[int]] = [[chunks[0]]]
    for c in chunks[1:]:
        if c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return runs


def _read_csv_rows(path: Path) -> list[tuple[int, str, int, np.ndarray]]:
    if not path.exists():
        raise DataError(f"{path}: no such file; give the path of the Kaggle CSV.")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give the path of the Kaggle CSV file.")
    expected = [f"X{i}" for i in range(1, CHUNK + 1)] + ["y"]
    out = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: the file is empty; expected the Kaggle CSV header.")
            if len(header) != CHUNK + 2 or [h.strip() for h in header[1:]] != expected:
                raise DataError(
                    f"{path}, line 1: header is not the Kaggle layout "
                    f"'Unnamed,X1,...,X178,y' (got {len(header)} columns starting "
                    f"{','.join(header[:3])!r})."
                )
            for line, row in enumerate(reader, start=2):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                out.append(_parse_row(path, line, row))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text CSV file ({exc.reason}).") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc}).") from None
    return out


def _parse_row(path: Path, line: int, row: list[str]) -> tuple[int, str, int, np.ndarray]:
    if len(row) != CHUNK + 2:
        raise DataError(
            f"{path}, line {line}: {len(row)} columns, expected {CHUNK + 2} "
            "(row id, X1..X178, y); the row is truncated or has extra cells."
        )
    try:
        samples = np.array(row[1:-1], dtype=np.float64)
    except ValueError:
        col = next(i for i, v in enumerate(row[1:-1], 1) if not _is_number(v))
        raise DataError(
            f"{path}, line {line}, column X{col}: {row[col]!r} is not a number."
        ) from None
    bad = ~(np.abs(samples) <= _FLOAT32_MAX)  # also true for NaN
    if bad.any():
        col = int(np.flatnonzero(bad)[0]) + 1
        raise DataError(f"{path}, line {line}, column X{col}: {row[col]!r} is not finite.")
    label = row[-1].strip()
    if label not in {"1", "2", "3", "4", "5"}:
        raise DataError(f"{path}, line {line}: label y={label!r} is not one of 1, 2, 3, 4, 5.")
    return line, row[0].strip(), int(label), samples


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_bonn_dir(root: str | Path) -> list[Recording]:
    """Read the original Bonn distribution: folders Z/ O/ N/ F/ S/ of one-column text files."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory; give the folder holding Z/ O/ N/ F/ S/.")
    recordings = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        bonn_set = folder.name.upper()
        if bonn_set not in SET_TO_CLASS:
            continue
        for file in sorted(folder.glob("*.[tT][xX][tT]")):
            signal = _read_column(file)
            recordings.append(
                Recording(
                    id=file.stem.upper(),
                    data=signal[None, :],
                    sample_rate=BONN_RATE,
                    label=SET_TO_CLASS[bonn_set],
                    bonn_set=bonn_set,
                    source=str(file),
                )
            )
    if not recordings:
        raise DataError(
            f"{root}: no recordings found; expected sub-folders Z, O, N, F, S of .txt files."
        )
    return recordings


def _read_column(file: Path) -> np.ndarray:
    values = []
    with file.open(encoding="utf-8", errors="replace") as f:
        for line, text in enumerate(f, start=1):
            text = text.strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise DataError(f"{file}, line {line}: {text!r} is not a number.") from None
            if not abs(value) <= _FLOAT32_MAX:
                raise DataError(f"{file}, line {line}: {text!r} is not finite.")
            values.append(value)
    if len(values) < 2:
        raise DataError(f"{file}: fewer than two samples; is this a Bonn recording?")
    return np.asarray(values, dtype=np.float32)


def read_eeg_file(path: str | Path) -> Recording:
    """Read any file mne can read (EDF, BDF, FIF, BrainVision, ...) as an unlabelled recording.

    mne returns volts; the recording is scaled to microvolts, the dataset's units.
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    try:
        raw = mne.io.read_raw(path, preload=True, verbose="error")
    except Exception as exc:  # mne raises many types for unreadable files
        raise DataError(f"{path}: mne cannot read this file ({exc}).") from None
    picks = mne.pick_types(raw.info, eeg=True, seeg=True, ecog=True, exclude=[])
    if len(picks) == 0:
        raise DataError(f"{path}: the file has no EEG channels.")
    data = raw.get_data(picks=picks) * 1e6
    return Recording(
        id=path.stem,
        data=data.astype(np.float32),
        sample_rate=float(raw.info["sfreq"]),
        channels=tuple(raw.ch_names[i] for i in picks),
        source=str(path),
    )


def read_recordings(
    csv_path: str | Path | None = None, bonn: str | Path | None = None
) -> list[Recording]:
    """Labelled recordings from whichever of the two dataset layouts is given."""
    if (csv_path is None) == (bonn is None):
        raise DataError("give exactly one of --csv or --bonn.")
    return read_kaggle_csv(csv_path) if csv_path is not None else read_bonn_dir(bonn)
