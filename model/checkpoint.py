"""A self-describing checkpoint, and the classifier API built from it.

The file holds weights, model config, scaler statistics, class names, sampling rate, window
length, a fingerprint of the training data, a hash of the weights and validation metrics, and
optionally (key ``context``) the context stage: its config, weights, their hash and metrics.
The key is optional so every earlier checkpoint still loads (without a context stage), and a
program that predates it reads a new checkpoint as the window network alone.
It is loaded with ``torch.load(weights_only=True)``: no code from the file is executed.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.context import ContextNet, context_from_state
from model.data import CLASSES, Recording
from model.network import NetConfig, SeizureNet

FORMAT = "seizure-monitor-checkpoint"
VERSION = 1
SHIPPED_NAME = "seizure_lstm.pt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or not meant for this program."""


def weights_hash(state_dict: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(state_dict):
        h.update(name.encode())
        h.update(state_dict[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def data_fingerprint(recordings: list[Recording]) -> str:
    """A hash of the recordings' ids, labels and samples, order-independent."""
    h = hashlib.sha256()
    for rec in sorted(recordings, key=lambda r: r.id):
        h.update(f"{rec.id}|{rec.label}|{rec.sample_rate}".encode())
        h.update(np.ascontiguousarray(rec.data, dtype=np.float32).tobytes())
    return h.hexdigest()


def save_checkpoint(
    path: str | Path,
    net: SeizureNet,
    *,
    sample_rate: float,
    fingerprint: str,
    metrics: dict,
    training: dict,
    context: dict | None = None,
) -> None:
    """``context``: the context stage as ``model.context.context_state`` returns it."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    mean, std, ls_mean, ls_std = (float(v) for v in net.scale)
    # `--out runs/x.pt` after an hour of training must not fail on a missing folder.
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside it, then renamed over it: an interrupted save (Ctrl-C, a full disk)
    # leaves the previous checkpoint whole instead of a truncated one.
    ckpt = {
        "format": FORMAT,
        "version": VERSION,
        "classes": list(CLASSES),
        "window": net.config.window,
        "sample_rate": float(sample_rate),
        "config": net.config.to_dict(),
        "scaler": {"mean": mean, "std": std, "logstd_mean": ls_mean, "logstd_std": ls_std},
        "state_dict": state,
        "weights_sha256": weights_hash(state),
        "data_fingerprint": fingerprint,
        "metrics": metrics,
        "training": training,
    }
    if context is not None:
        ckpt["context"] = {**context, "weights_sha256": weights_hash(context["state_dict"])}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(ckpt, tmp)
        with open(tmp, "rb") as f:  # on disk before the rename makes it the checkpoint
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def pick_device(name: str) -> str:
    """"auto" -> "cuda" where torch sees a GPU, else "cpu"; "cuda" without one is refused."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device.")
    return name


def shipped_checkpoint() -> Path:
    return Path(str(importlib.resources.files("assets") / SHIPPED_NAME))


@dataclass
class Classifier:
    """The trained model with the metadata a caller needs; ``predict_proba`` is the API."""

    net: SeizureNet
    classes: tuple[str, ...]
    window: int
    sample_rate: float
    meta: dict
    device: torch.device = torch.device("cpu")
    batch_size: int = 1024
    #: the context stage stored with the network, None in checkpoints without one; it runs on
    #: the CPU (one small step per hop)
    context: ContextNet | None = None

    def to(self, device: str | torch.device) -> Classifier:
        self.device = torch.device(device)
        self.net.to(self.device)
        return self

    @torch.inference_mode()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, window) raw samples in dataset units -> (n, n_classes) probabilities."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.window:
            raise ValueError(f"expected windows of shape (n, {self.window}), got {x.shape}")
        out = np.empty((len(x), len(self.classes)), dtype=np.float32)
        for start in range(0, len(x), self.batch_size):
            batch = torch.from_numpy(x[start : start + self.batch_size]).to(self.device)
            out[start : start + len(batch)] = torch.softmax(self.net(batch), 1).cpu().numpy()
        return out


def load_classifier(path: str | Path | None = None, device: str = "cpu") -> Classifier:
    """Load a checkpoint (None = the shipped one) without executing code from the file."""
    path = shipped_checkpoint() if path is None else Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: checkpoint not found; train one with 'seizure-monitor train' or omit "
            "--checkpoint to use the shipped model."
        )
    try:
        with warnings.catch_warnings():  # torch's notes on foreign pickles would be a 2nd line
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message suggests weights_only=False, i.e. running the file's code.
        if "GLOBAL" in str(exc):
            raise CheckpointError(
                f"{path}: refused: the file holds Python objects other than tensors and plain "
                "data, and loading them could run code from it; use a checkpoint written by "
                "'seizure-monitor train'."
            ) from None
        raise CheckpointError(
            f"{path}: not a readable checkpoint (corrupt or truncated?): the safe loader "
            "cannot parse it; use a checkpoint written by 'seizure-monitor train'."
        ) from None
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise CheckpointError(
            f"{path}: not a readable checkpoint (corrupt or truncated?): {_first_line(exc)}"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a seizure-monitor checkpoint.")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {ckpt.get('version')} is not supported "
            f"(this program reads version {VERSION})."
        )
    missing = sorted({"classes", "window", "sample_rate", "config", "state_dict"} - set(ckpt))
    if missing:
        raise CheckpointError(f"{path}: the checkpoint lacks {', '.join(missing)} (truncated or "
                              "hand-made?); train one with 'seizure-monitor train'.")
    config, state = ckpt["config"], ckpt["state_dict"]
    if not isinstance(config, dict) or not isinstance(state, dict) or \
            not all(isinstance(v, torch.Tensor) for v in state.values()) or \
            not isinstance(ckpt["sample_rate"], (int, float)) or not ckpt["sample_rate"] > 0:
        raise CheckpointError(f"{path}: the model config or weights are not laid out as "
                              "'seizure-monitor train' writes them (corrupt?).")
    if not isinstance(ckpt["classes"], (list, tuple)) or tuple(ckpt["classes"]) != CLASSES:
        raise CheckpointError(
            f"{path}: trained for classes {ckpt['classes']}, this program needs {list(CLASSES)}."
        )
    if ckpt["window"] != 120 or config.get("window") != ckpt["window"]:
        raise CheckpointError(
            f"{path}: trained for {ckpt['window']!r}-sample windows (model config: "
            f"{config.get('window')!r}); the monitor uses 120."
        )
    if config.get("n_classes", NetConfig.n_classes) != len(CLASSES):
        raise CheckpointError(
            f"{path}: the network has {config.get('n_classes')} outputs for "
            f"{len(CLASSES)} classes; it was not trained for this program's classes."
        )
    if weights_hash(state) != ckpt.get("weights_sha256"):
        raise CheckpointError(f"{path}: the weights do not match their stored hash (corrupt?).")
    try:
        net = SeizureNet(NetConfig.from_dict(config))
        net.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: weights do not fit the stored model config: {_first_line(exc)}"
        ) from None
    net.eval()
    context = _load_context(path, ckpt.get("context"))
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "context")}
    if context is not None:
        meta["context"] = {k: v for k, v in ckpt["context"].items() if k != "state_dict"}
    clf = Classifier(net, CLASSES, int(ckpt["window"]), float(ckpt["sample_rate"]), meta,
                     context=context)
    return clf.to(device)


def _load_context(path: Path, stored) -> ContextNet | None:
    """The checkpoint's context stage, checked like the network: hash, then fit."""
    if stored is None:
        return None
    state = stored.get("state_dict") if isinstance(stored, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise CheckpointError(f"{path}: the context stage is not laid out as 'seizure-monitor "
                              "train' writes it (corrupt?).")
    if weights_hash(state) != stored.get("weights_sha256"):
        raise CheckpointError(f"{path}: the context stage's weights do not match their stored "
                              "hash (corrupt?).")
    try:
        context = context_from_state(stored)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {_first_line(exc)}") from None
    if context.config.n_classes != len(CLASSES):
        raise CheckpointError(f"{path}: the context stage has {context.config.n_classes} "
                              f"outputs for {len(CLASSES)} classes.")
    return context


def _first_line(exc: Exception) -> str:
    """An exception's first line, or its type where it has no message (an empty file's
    EOFError) or only a bare key (a KeyError)."""
    lines = str(exc).splitlines()
    text = lines[0][:200] if lines else ""
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}" if isinstance(exc, KeyError) else text
