"""Scores of a classifier on labelled recordings: window, smoothed and recording level.

Window level: every 120-sample window at hop 18. Smoothed: the trailing mean of the class
probabilities over the last 5 s of windows, as a monitor would show them. Recording level:
the mean over the whole recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import classification_report, confusion_matrix, f1_score, recall_score

from model.data import BONN_SETS, CLASSES, Recording
from model.network import shift_tumor_odds
from model.windows import sliding_windows

HOP = 18


@dataclass
class RecordingScores:
    recording: Recording
    probs: np.ndarray  # (n_windows, n_classes)


def predict_recordings(predict_proba, recordings: list[Recording], window: int = 120,
                       hop: int = HOP) -> list[RecordingScores]:
    """Window probabilities for every recording, in one batched call."""
    wins = [sliding_windows(r.data[0], window, hop) for r in recordings]
    probs = predict_proba(np.concatenate(wins)) if wins else np.empty((0, len(CLASSES)))
    out, start = [], 0
    for rec, w in zip(recordings, wins, strict=True):
        out.append(RecordingScores(rec, probs[start : start + len(w)]))
        start += len(w)
    return out


def trailing_mean(probs: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last ``n`` rows at each row (fewer at the start), by cumulative sums."""
    c = np.cumsum(np.vstack([np.zeros((1, probs.shape[1])), probs]), axis=0)
    idx = np.arange(1, len(probs) + 1)
    lo = np.maximum(idx - n, 0)
    return (c[idx] - c[lo]) / (idx - lo)[:, None]


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    labels = list(range(len(CLASSES)))
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    f1 = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "recall": {c: float(r) for c, r in zip(CLASSES, recall, strict=True)},
        "f1": {c: float(v) for c, v in zip(CLASSES, f1, strict=True)},
        "macro_f1": float(np.mean(f1)),
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "n": int(len(y_true)),
    }


def score(scores: list[RecordingScores], smooth_s: float = 5.0, hop: int = HOP) -> dict:
    """The evaluate command's JSON: window, smoothed_5s, recording and per-set figures."""
    levels: dict[str, tuple[list, list]] = {k: ([], []) for k in ("window", "smoothed", "rec")}
    per_set: dict[str, dict[str, list]] = {}
    for s in scores:
        rec, p = s.recording, s.probs
        if len(p) == 0:
            continue
        n = max(1, round(smooth_s * rec.sample_rate / hop))
        preds = {
            "window": p.argmax(1),
            "smoothed": trailing_mean(p, n).argmax(1),
            "rec": np.array([p.mean(0).argmax()]),
        }
        for level, pred in preds.items():
            levels[level][0].append(np.full(len(pred), rec.label))
            levels[level][1].append(pred)
            d = per_set.setdefault(rec.bonn_set or "?", {"window": [], "smoothed": [], "rec": []})
            d[level].append(pred)
    out = {"classes": list(CLASSES)}
    names = {"window": "window", "smoothed": f"smoothed_{smooth_s:g}s", "rec": "recording"}
    for level, (yt, yp) in levels.items():
        out[names[level]] = metrics(np.concatenate(yt), np.concatenate(yp))
    out["per_set"] = {}
    for bonn_set in [s for s in BONN_SETS if s in per_set]:
        d = per_set[bonn_set]
        out["per_set"][bonn_set] = {"n_recordings": len(d["rec"])}
        for level, preds in d.items():
            pred = np.concatenate(preds)
            frac = np.bincount(pred, minlength=len(CLASSES)) / len(pred)
            out["per_set"][bonn_set][names[level]] = {
                "predicted": {c: float(f) for c, f in zip(CLASSES, frac, strict=True)}
            }
    return out


def shift_tumor_probs(probs: np.ndarray, bias: float) -> np.ndarray:
    """The network's decision rule (``network.shift_tumor_odds``) applied to stored
    probabilities: their logs are logits up to a constant per row, which softmax ignores."""
    logits = torch.from_numpy(np.log(np.maximum(probs, 1e-30)).astype(np.float64))
    return torch.softmax(shift_tumor_odds(logits, bias), dim=1).numpy().astype(probs.dtype)


def bias_table(scores: list[RecordingScores], biases: np.ndarray) -> list[dict]:
    """Window, smoothed and recording figures if the tumor bias were moved by each of
    ``biases`` (out-of-fold probabilities: how the train command's default was chosen)."""
    rows = []
    for b in biases:
        shifted = [RecordingScores(s.recording, shift_tumor_probs(s.probs, b)) for s in scores]
        r = score(shifted)
        rows.append({"shift": float(b), **{
            level: {"macro_f1": r[level]["macro_f1"], "accuracy": r[level]["accuracy"],
                    "recall": r[level]["recall"]}
            for level in ("window", "smoothed_5s", "recording")}})
    return rows


def report(scores: list[RecordingScores], result: dict) -> str:
    """Human-readable text: scikit-learn's report, confusion matrices and the per-set table."""
    y_true = np.concatenate([np.full(len(s.probs), s.recording.label) for s in scores])
    y_pred = np.concatenate([s.probs.argmax(1) for s in scores])
    lines = ["Window level (every 120-sample window, hop 18):",
             classification_report(y_true, y_pred, labels=[0, 1, 2], target_names=CLASSES,
                                   digits=3, zero_division=0)]
    for level in [k for k in result if k not in ("classes", "per_set")]:
        m = result[level]
        rec = " / ".join(f"{m['recall'][c]:.3f}" for c in CLASSES)
        lines.append(f"{level:<12} recall S/T/N {rec}   macro-F1 {m['macro_f1']:.3f}   "
                     f"accuracy {m['accuracy']:.3f}   (n={m['n']})")
        lines.append("  confusion (rows true, cols predicted): " + str(m["confusion"]))
    lines.append("")
    lines.append("Per Bonn set: fraction predicted seizure / tumor / normal")
    for bonn_set, d in result["per_set"].items():
        parts = [f"{bonn_set} ({d['n_recordings']} rec)"]
        for level, v in d.items():
            if level == "n_recordings":
                continue
            p = v["predicted"]
            parts.append(f"{level}: " + " / ".join(f"{p[c]:.3f}" for c in CLASSES))
        lines.append("  " + "   ".join(parts))
    return "\n".join(lines)


def plot_confusions(result: dict, out_dir: str | Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for level in [k for k in result if k not in ("classes", "per_set")]:
        cm = np.array(result[level]["confusion"])
        fig, ax = plt.subplots(figsize=(4.5, 4))
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ConfusionMatrixDisplay(norm, display_labels=CLASSES).plot(
            ax=ax, values_format=".2f", colorbar=False, cmap="Blues")
        ax.set_title(f"{level} (rows: truth, normalised)")
        fig.tight_layout()
        path = out_dir / f"confusion_{level}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
