"""One recording under the microscope: where the model is wrong, and how stable one answer is.

The notebook judged single rows by eye and noticed that inference on another random 120-sample
slice of the same row often changed the answer. Here every window at hop 18 is scored (with the
5 s smoothed curve a monitor shows), and every 120-sample window of each one-second row (hop 1)
measures how much the answer for that row depends on where the slice falls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.checkpoint import Classifier
from model.data import CHUNK, CLASSES, DataError, Recording
from model.evaluate import HOP, trailing_mean
from model.windows import sliding_windows

CLASS_COLOURS = {"seizure": "tab:red", "tumor": "tab:blue", "normal": "tab:green"}
_ROW_PREFIX = re.compile(r"^X\d+\.")


@dataclass
class RowStability:
    """Predictions of every 120-sample window of one 178-sample row (1 sample apart)."""

    row: int  # 1-based, the CSV's chunk number
    fractions: np.ndarray  # share of the row's windows predicted as each class
    flips: int  # changes of the predicted class from one window to the next

    @property
    def majority(self) -> int:
        return int(self.fractions.argmax())

    @property
    def disagreement(self) -> float:
        """Chance that two random slices of this row get different answers."""
        return float(1.0 - np.sum(self.fractions**2))


@dataclass
class Inspection:
    recording: Recording
    window: int
    hop: int
    starts: np.ndarray  # first sample of each window at ``hop``
    probs: np.ndarray  # (n_windows, n_classes)
    smoothed: np.ndarray  # trailing mean over ``smooth_s``
    smooth_s: float
    rows: list[RowStability]

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def wrong(self) -> np.ndarray:
        return self.predicted != self.recording.label

    def summary(self) -> dict:
        rec = self.recording
        mean = self.probs.mean(0)
        return {
            "recording": rec.id,
            "bonn_set": rec.bonn_set,
            "truth": rec.class_name,
            "windows": int(len(self.probs)),
            "window_accuracy": float(np.mean(~self.wrong)),
            f"smoothed_{self.smooth_s:g}s_accuracy":
                float(np.mean(self.smoothed.argmax(1) == rec.label)),
            "recording_prediction": CLASSES[int(mean.argmax())],
            "mean_probabilities": {c: float(p) for c, p in zip(CLASSES, mean, strict=True)},
            "rows": len(self.rows),
            "rows_with_flips": sum(r.flips > 0 for r in self.rows),
            "rows_majority_wrong": sum(r.majority != rec.label for r in self.rows),
            "mean_disagreement": float(np.mean([r.disagreement for r in self.rows])),
        }

    def to_dict(self) -> dict:
        return {
            **self.summary(),
            "hop": self.hop,
            "window_starts": self.starts.tolist(),
            "probabilities": np.round(self.probs, 4).tolist(),
            "stability": [
                {"row": r.row, "flips": r.flips, "disagreement": r.disagreement,
                 "predicted": {c: float(f) for c, f in zip(CLASSES, r.fractions, strict=True)}}
                for r in self.rows
            ],
        }


def find_recording(recordings: list[Recording], key: str, source: str) -> Recording:
    """The recording ``key`` names: its id (``S:V1.791``), or the CSV name without the set
    (``V1.791``) or a CSV row id (``X21.V1.791``) when only one recording matches."""
    for rec in recordings:
        if rec.id == key:
            return rec
    name = _ROW_PREFIX.sub("", key)
    matches = [r for r in recordings if r.id.split(":", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DataError(f"recording {key!r} is ambiguous in {source}: it could be "
                        f"{', '.join(r.id for r in matches)}; give one of these ids.")
    examples = ", ".join(r.id for r in recordings[:3])
    raise DataError(f"recording {key!r} is not in {source}; ids are '<set>:<name>', such as "
                    f"{examples}.")


def inspect_recording(clf: Classifier, rec: Recording, hop: int = HOP,
                      smooth_s: float = 5.0) -> Inspection:
    """Score every window at ``hop`` and every window of each one-second row."""
    signal = rec.data[0]
    wins = sliding_windows(signal, clf.window, hop)
    n_rows = len(signal) // CHUNK
    row_wins = [sliding_windows(signal[i * CHUNK : (i + 1) * CHUNK], clf.window, 1)
                for i in range(n_rows)]
    probs_all = clf.predict_proba(np.concatenate([wins, *row_wins]))
    probs, row_probs = probs_all[: len(wins)], probs_all[len(wins):]
    rows = []
    for i, w in enumerate(row_wins):
        pred = row_probs[i * len(w) : (i + 1) * len(w)].argmax(1)
        rows.append(RowStability(
            row=i + 1,
            fractions=np.bincount(pred, minlength=len(CLASSES)) / len(pred),
            flips=int(np.count_nonzero(np.diff(pred))),
        ))
    n_smooth = max(1, round(smooth_s * rec.sample_rate / hop))
    return Inspection(rec, clf.window, hop, np.arange(len(wins)) * hop, probs,
                      trailing_mean(probs, n_smooth), smooth_s, rows)


def report(ins: Inspection) -> str:
    """The summary, then one line per one-second row: how its answer varies with the slice."""
    s = ins.summary()
    smooth_key = f"smoothed_{ins.smooth_s:g}s_accuracy"
    mean = " / ".join(f"{v:.2f}" for v in s["mean_probabilities"].values())
    per_row = CHUNK - ins.window + 1
    lines = [
        f"{s['recording']} (set {s['bonn_set']}, truth {s['truth']}): {s['windows']} windows at "
        f"hop {ins.hop}, {s['window_accuracy']:.1%} right; {ins.smooth_s:g} s smoothed "
        f"{s[smooth_key]:.1%}; recording-level prediction {s['recording_prediction']} "
        f"(mean probabilities S/T/N {mean})",
        f"How stable is one prediction: all {per_row} windows of each one-second row, "
        "1 sample apart",
        f"  {'row':>3}  {'seizure':>7}  {'tumor':>7}  {'normal':>7}  {'flips':>5}  "
        "p(two slices differ)",
    ]
    for r in ins.rows:
        frac = "  ".join(f"{f:>7.2f}" for f in r.fractions)
        mark = "  <- majority wrong" if r.majority != ins.recording.label else ""
        lines.append(f"  {r.row:>3}  {frac}  {r.flips:>5}  {r.disagreement:>20.2f}{mark}")
    lines.append(
        f"  {s['rows_with_flips']}/{s['rows']} rows change their answer with the slice; "
        f"{s['rows_majority_wrong']} are wrong for most slices; two random slices of a row "
        f"disagree {s['mean_disagreement']:.0%} of the time on average.")
    return "\n".join(lines)


def _wrong_spans(ins: Inspection) -> list[tuple[int, int]]:
    """Sample ranges covered by runs of consecutive wrong windows."""
    spans: list[tuple[int, int]] = []
    for start, bad in zip(ins.starts, ins.wrong, strict=True):
        if not bad:
            continue
        end = int(start) + ins.window
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((int(start), end))
    return spans


def plot_inspections(inspections: list[Inspection], path: str | Path) -> Path:
    """One column per recording: the waveform (wrong windows shaded), the per-window and
    smoothed probabilities with the truth, and the per-row stability."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(3, len(inspections), figsize=(8 * len(inspections), 8),
                             squeeze=False, sharex="col",
                             gridspec_kw={"height_ratios": [1.2, 1.2, 0.8]})
    for col, ins in enumerate(inspections):
        rec, rate = ins.recording, ins.recording.sample_rate
        wave, prob, stab = axes[:, col]
        t = np.arange(rec.n_samples) / rate
        wave.plot(t, rec.data[0], lw=0.5, color="black")
        for i, (a, b) in enumerate(_wrong_spans(ins)):
            wave.axvspan(a / rate, b / rate, color="gold", alpha=0.4,
                         label="windows predicted wrong" if i == 0 else None)
        for i in range(1, rec.n_samples // CHUNK):
            wave.axvline(i * CHUNK / rate, color="grey", lw=0.3)
        wave.set(ylabel="amplitude", title=f"{rec.id}: set {rec.bonn_set}, truth "
                 f"{rec.class_name} (grey lines: CSV row borders)")
        if ins.wrong.any():
            wave.legend(loc="upper right", fontsize=8)

        centre = (ins.starts + ins.window / 2) / rate
        for k, name in enumerate(CLASSES):
            colour = CLASS_COLOURS[name]
            prob.plot(centre, ins.probs[:, k], lw=0.8, alpha=0.6, color=colour,
                      label=f"p({name})")
            prob.plot(centre, ins.smoothed[:, k], lw=2, color=colour,
                      label=f"{ins.smooth_s:g} s smoothed")
        prob.axhspan(1.03, 1.08, color=CLASS_COLOURS[rec.class_name], label="truth")
        prob.plot(centre[ins.wrong], np.full(ins.wrong.sum(), -0.05), "|", color="black",
                  ms=8, label="wrong window")
        prob.set(ylabel="probability", ylim=(-0.1, 1.1),
                 title=f"every window at hop {ins.hop}: {np.mean(~ins.wrong):.0%} right")
        prob.legend(loc="center left", fontsize=7, ncol=2)

        row_t = (np.arange(len(ins.rows)) + 0.5) * CHUNK / rate
        bottom = np.zeros(len(ins.rows))
        for k, name in enumerate(CLASSES):
            share = np.array([r.fractions[k] for r in ins.rows])
            stab.bar(row_t, share, CHUNK / rate * 0.9, bottom=bottom,
                     color=CLASS_COLOURS[name], label=name)
            bottom += share
        for r, x in zip(ins.rows, row_t, strict=True):
            if r.flips:
                stab.text(x, 1.02, str(r.flips), ha="center", fontsize=6)
        stab.set(xlabel="time (s)", ylabel="share of slices", ylim=(0, 1.12),
                 title=f"per one-second row: predicted class of all {CHUNK - ins.window + 1} "
                 "slices (numbers: flips)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
