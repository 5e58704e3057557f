"""The context stage: a small GRU over the window network's outputs at the monitor's hop.

A seizure is sustained, evolving rhythmic activity over seconds to minutes; an interictal
burst is short. The window network sees 0.7 s; this stage sees the sequence of its outputs
(log-probabilities, one row per hop) and carries what it has seen in its state, so it can
tell a burst from a seizure and set F from set N over tens of seconds.

Why outputs, not embeddings: the stage is trained on out-of-fold outputs of K fold models
(stacking) and applied to the shipped model's; each model's embedding lives in a space of its
own, while their class probabilities mean the same thing. Outputs also keep the stage
independent of the window network's architecture: it needs only ``predict_proba``.

Why a GRU with its state carried: one step per hop costs one small matrix product whatever
the history, nothing is recomputed, and the memory is as long as training teaches it (a
causal TCN would fix it at its receptive field and keep per-layer buffers). ``step`` and
``forward`` run the same cell, so the live stage equals the stage run over the whole
sequence (tests check it).

The checkpoint holds the stage as plain data (:func:`context_state`): a config dict and a
state dict of tensors, so ``torch.load(weights_only=True)`` still reads it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class ContextConfig:
    #: inputs per hop: the window network's log-probabilities of the classes
    n_inputs: int = 3
    n_classes: int = 3
    hidden: int = 32
    #: log-probabilities are clamped here: below it a window network's "no" is all the same
    #: (1e-30 says no more than 1e-2), and unbounded inputs saturate the GRU's gates; -4 and
    #: -16 scored alike on the nested folds (docs/experiments.md, "The decision stage")
    log_floor: float = -4.0
    #: the hop (seconds) of the sequence it was trained on: the stage counts steps, not
    #: seconds, so the monitor must feed it at this hop
    hop_s: float = 0.1
    #: what each input is, for the checkpoint's reader
    inputs: tuple[str, ...] = ("logp_seizure", "logp_tumor", "logp_normal")

    def __post_init__(self):
        if self.n_inputs != len(self.inputs):
            raise ValueError(f"n_inputs {self.n_inputs} does not match the {len(self.inputs)} "
                             "named inputs")
        if self.hidden < 1 or self.n_classes < 2:
            raise ValueError("hidden must be >= 1 and n_classes >= 2")
        if not self.hop_s > 0:
            raise ValueError(f"hop_s must be > 0, got {self.hop_s}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["inputs"] = list(self.inputs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ContextConfig:
        d = dict(d)
        d["inputs"] = tuple(d["inputs"])
        return cls(**d)


class ContextNet(nn.Module):
    """GRU over (batch, time, n_inputs) -> logits (batch, time, n_classes)."""

    def __init__(self, config: ContextConfig | None = None):
        super().__init__()
        self.config = config = config or ContextConfig()
        self.gru = nn.GRU(config.n_inputs, config.hidden, batch_first=True)
        self.head = nn.Linear(config.hidden, config.n_classes)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities clamped at the floor (other inputs pass through)."""
        n = 3 if self.config.inputs[:3] == ("logp_seizure", "logp_tumor", "logp_normal") else 0
        return torch.cat([x[..., :n].clamp_min(self.config.log_floor), x[..., n:]], -1)

    def forward(self, seq: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for every step of ``seq`` (batch, time, n_inputs), from ``state`` or zero."""
        out, _ = self.gru(self.prepare(seq), state)
        return self.head(out)

    def step(self, x: torch.Tensor, state: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """One hop: ``x`` (batch, n_inputs) -> (logits (batch, n_classes), new state)."""
        out, state = self.gru(self.prepare(x)[:, None, :], state)
        return self.head(out[:, 0]), state


class ContextRunner:
    """The stage as the monitor runs it: probabilities of one window in, probabilities out,
    the state carried between calls; ``reset()`` after a gap in the stream."""

    def __init__(self, net: ContextNet, channels: int = 1):
        self.net = net.eval()
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        self._state: torch.Tensor | None = None

    @torch.inference_mode()
    def update(self, probs: np.ndarray) -> np.ndarray:
        """(n_channels, n_classes) probabilities -> the stage's (n_channels, n_classes)."""
        x = torch.from_numpy(np.log(np.maximum(np.asarray(probs, np.float32), 1e-30)))
        logits, self._state = self.net.step(x, self._state)
        return torch.softmax(logits, 1).numpy()


def context_state(net: ContextNet, metrics: dict | None = None,
                  training: dict | None = None) -> dict:
    """The stage as plain data for a checkpoint (tensors, dicts, lists, numbers)."""
    return {"config": net.config.to_dict(),
            "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "metrics": metrics or {}, "training": training or {}}


def context_from_state(d: dict) -> ContextNet:
    """Rebuild the stage from :func:`context_state`'s dict; raises ValueError when it does not
    fit (a corrupt or foreign checkpoint)."""
    if not isinstance(d, dict) or not isinstance(d.get("config"), dict) or \
            not isinstance(d.get("state_dict"), dict):
        raise ValueError("the context stage needs a config dict and a state dict")
    try:
        net = ContextNet(ContextConfig.from_dict(d["config"]))
        net.load_state_dict(d["state_dict"])
    except (RuntimeError, TypeError, KeyError) as exc:
        raise ValueError(f"the context stage's weights do not fit its config: {exc}") from None
    return net.eval()


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextTrainConfig:
    #: steps per training sequence (600 = 60 s at a 0.1 s hop): long enough to cross several
    #: recording borders, so the stage learns to change its mind at each
    seq_len: int = 600
    sequences_per_epoch: int = 256
    batch_size: int = 32
    epochs: int = 30
    lr: float = 3e-3
    weight_decay: float = 1e-4
    #: loss weight of the first ``onset_s`` seconds of each seizure (in steps: onset_s / hop):
    #: they decide the alert latency, and are few among the sustained seizure steps
    onset_weight: float = 1.0
    onset_s: float = 3.0
    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    net: ContextConfig = field(default_factory=ContextConfig)


@dataclass
class Sequence:
    """One stream of window outputs: inputs (time, n_inputs), labels (time,), and the ids of
    the recordings it is made of (for the grouped-split checks)."""

    x: np.ndarray
    y: np.ndarray
    ids: tuple[str, ...]
    #: (time,) bool: the first steps of a seizure (for ``onset_weight``)
    onset: np.ndarray | None = None


def sample_batch(seqs: list[Sequence], n: int, length: int, rng: np.random.Generator,
                 onset_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` crops of ``length`` steps at random places of random sequences (longer ones drawn
    more often), with per-step loss weights."""
    sizes = np.array([len(s.y) for s in seqs], float)
    if (sizes < length).any():
        raise ValueError(f"every sequence must have at least {length} steps; the shortest "
                         f"has {int(sizes.min())}")
    pick = rng.choice(len(seqs), size=n, p=sizes / sizes.sum())
    xs, ys, ws = [], [], []
    for i in pick:
        s = seqs[i]
        a = int(rng.integers(0, len(s.y) - length + 1))
        xs.append(s.x[a:a + length])
        ys.append(s.y[a:a + length])
        w = np.ones(length, np.float32)
        if s.onset is not None and onset_weight != 1.0:
            w[s.onset[a:a + length]] = onset_weight
        ws.append(w)
    return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.int64), np.stack(ws)


def train_context(seqs: list[Sequence], cfg: ContextTrainConfig, log=None) -> tuple[ContextNet,
                                                                                      dict]:
    """Fit the stage on (out-of-fold) sequences; returns it in eval mode and a training log."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    net = ContextNet(cfg.net).to(cfg.device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(cfg.sequences_per_epoch / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps,
                                                pct_start=0.1)
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    history, start = [], time.perf_counter()
    net.train()
    for epoch in range(1, cfg.epochs + 1):
        x, y, w = sample_batch(seqs, cfg.sequences_per_epoch, cfg.seq_len, rng,
                               cfg.onset_weight)
        x, y, w = (torch.from_numpy(a).to(cfg.device) for a in (x, y, w))
        total = 0.0
        for i in range(0, len(x), cfg.batch_size):
            xb, yb, wb = x[i:i + cfg.batch_size], y[i:i + cfg.batch_size], w[i:i + cfg.batch_size]
            logits = net(xb)
            loss = (loss_fn(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))
                    * wb.reshape(-1)).sum() / wb.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(xb)
        history.append({"epoch": epoch, "loss": total / len(x)})
        if log:
            log(f"context epoch {epoch}: loss {history[-1]['loss']:.4f}")
    net.cpu().eval()
    return net, {"history": history, "seconds": round(time.perf_counter() - start, 1),
                 "sequences": len(seqs), "steps": int(sum(len(s.y) for s in seqs))}


@torch.inference_mode()
def predict_sequence(net: ContextNet, x: np.ndarray) -> np.ndarray:
    """Probabilities (time, n_classes) of the stage run over one whole sequence from zero."""
    logits = net(torch.from_numpy(np.asarray(x, np.float32))[None])[0]
    return torch.softmax(logits, -1).numpy()
