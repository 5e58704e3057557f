"""The notebook's experiments on recording-grouped splits (the "model workbench").

Every variant (architecture x input scaling) is trained by one loop, on the same windows for the
same number of epochs, in grouped K-fold cross-validation by recording over several seeds, and
is scored on every window of the held-out recordings. The notebook's own protocol (one random
slice per 178-sample CSV row, rows split at random) runs beside it, once with rows split at
random and once with rows split by recording, so the effect of the leak is a measured number.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from torch import nn
from torch.nn import functional as F

from model.data import BONN_SETS, CHUNK, CLASSES, SET_TO_CLASS, Recording
from model.evaluate import metrics, predict_recordings, score
from model.network import SeizureNet, count_parameters
from model.train import TrainConfig, config_dict, fit_scaler, optimizer, predictor, run_epoch
from model.windows import grouped_folds, grouped_split, random_windows

ARCHS = ("rnn", "gru", "lstm", "ours")
SCALERS = ("none", "minmax", "standard", "moving-average")
#: SeizureNet scales its input inside the model, so it runs once whatever the scalers are.
BUILT_IN = "built-in"
MOVING_AVERAGE = 5
#: The notebook's own variant, run under the notebook's protocol.
NOTEBOOK_ARCH, NOTEBOOK_SCALER = "lstm", "standard"
NOTEBOOK_ROW_SPLIT = "notebook: row split (leaky)"
NOTEBOOK_RECORDING_SPLIT = "notebook: recording split"

Predict = Callable[[np.ndarray], np.ndarray]


def _compare_recipe() -> TrainConfig:
    """The training recipe every variant runs: the shipped one's, shortened so that many
    variants x folds x seeds fit one sitting; weight decay stays at the 1e-2 the comparison
    tables were measured with (the shipped recipe's 1e-3 was chosen later, for ours alone)."""
    return TrainConfig(epochs=10, windows_per_recording=48, weight_decay=1e-2)


@dataclass(frozen=True)
class CompareConfig:
    archs: tuple[str, ...] = ("rnn", "gru", "lstm", "ours")
    scalers: tuple[str, ...] = ("standard",)
    folds: int = 5
    seeds: int = 2
    #: notebook protocol: fraction of rows (or recordings) held out
    test_fraction: float = 0.2
    train: TrainConfig = field(default_factory=_compare_recipe)

    @property
    def window(self) -> int:
        return self.train.net.window

    def variants(self) -> list[tuple[str, str]]:
        """(arch, scaler) pairs in run order; ``ours`` once, with its built-in scaling."""
        out = []
        for arch in self.archs:
            out += [(arch, BUILT_IN)] if arch == "ours" else [(arch, s) for s in self.scalers]
        return out


class InputScaling(nn.Module):
    """Raw windows -> scaled windows, with training statistics held as buffers.

    As in SeizureNet, scaling is part of the module, so every variant takes raw windows and the
    evaluation code cannot feed one of them differently from the others.
    """

    def __init__(self, smooth: int = 1):
        super().__init__()
        self.smooth_n = smooth
        self.register_buffer("offset", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))

    def smooth(self, x: torch.Tensor) -> torch.Tensor:
        """Moving average of ``smooth_n`` samples, edges padded by repetition (same length)."""
        if self.smooth_n == 1:
            return x
        half = self.smooth_n // 2
        padded = F.pad(x[:, None, :], (half, self.smooth_n - 1 - half), mode="replicate")
        return F.avg_pool1d(padded, self.smooth_n, stride=1)[:, 0, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.smooth(x) - self.offset) / self.scale


def fit_scaling(name: str, signals: list[np.ndarray] | np.ndarray) -> InputScaling:
    """The scaler ``name`` fitted on the samples of ``signals`` (training data only)."""
    if name not in SCALERS:
        raise ValueError(f"unknown scaler {name!r}; choose from {', '.join(SCALERS)}.")
    scaling = InputScaling(MOVING_AVERAGE if name == "moving-average" else 1)
    if name == "none":
        return scaling
    with torch.no_grad():
        samples = np.concatenate(
            [scaling.smooth(torch.as_tensor(np.asarray(s, np.float32))[None])[0].numpy()
             for s in signals]
        ).reshape(-1, 1)
    if name == "minmax":
        mm = MinMaxScaler().fit(samples)
        offset, scale = mm.data_min_[0], mm.data_range_[0]
    else:
        st = StandardScaler().fit(samples)
        offset, scale = st.mean_[0], st.scale_[0]
    scaling.offset.fill_(float(offset))
    scaling.scale.fill_(float(scale))
    return scaling


class RecurrentClassifier(nn.Module):
    """The notebook's network: a 2-layer RNN / GRU / LSTM over the window as a one-feature
    sequence; the last hidden state of the top layer goes to a linear layer."""

    def __init__(self, kind: str, hidden: int = 64, layers: int = 2, n_classes: int = 3):
        super().__init__()
        cells = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
        if kind not in cells:
            raise ValueError(f"unknown recurrent cell {kind!r}; choose from {', '.join(cells)}.")
        self.rnn = cells[kind](1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.unsqueeze(-1))
        return self.head(out[:, -1])


def build_variant(arch: str, scaler: str, train_recs: list[Recording]) -> nn.Module:
    """A fresh model on raw windows, its scaling fitted on ``train_recs``."""
    if arch == "ours":
        net = SeizureNet()
        fit_scaler(net, train_recs)
        return net
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHS)}.")
    return nn.Sequential(fit_scaling(scaler, [r.data[0] for r in train_recs]),
                         RecurrentClassifier(arch))


@dataclass
class Run:
    """One trained variant on one split: held-out scores after the last epoch and the curve."""

    variant: str
    seed: int
    fold: int | None  # None for the notebook protocol's single split
    metrics: dict
    history: list[dict]
    seconds: float  # training only, evaluation excluded
    parameters: int
    split: dict = field(default_factory=dict)


@dataclass
class Fitted:
    net: nn.Module
    metrics: dict  # held-out scores after the last epoch
    history: list[dict]
    seconds: float


def fit(
    build: Callable[[], nn.Module],
    draw: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]],
    evaluate: Callable[[Predict], dict],
    cfg: CompareConfig,
    seed: int,
) -> Fitted:
    """Build a model and train it for exactly ``cfg.train.epochs`` epochs on what ``draw``
    gives, with the shipped recipe's optimiser and schedule.

    The held-out set is scored after every epoch for the learning curve only: there is no early
    stopping, so held-out data selects nothing. The model is built after seeding, so its
    initialisation is fixed by ``seed``; the window generator is seeded by ``seed`` alone, so
    every variant of one split sees the same windows in the same order.
    """
    recipe = cfg.train
    torch.set_num_threads(recipe.threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build().to(recipe.device)
    history: list[dict] = []
    seconds = 0.0
    result: dict = {}
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        x, y = draw(rng)
        if epoch == 1:  # every epoch draws as many windows as the first
            opt, sched = optimizer(net, recipe, -(-len(x) // recipe.batch_size))
        loss, acc = run_epoch(net, opt, sched, x, y, recipe.batch_size, rng)
        seconds += time.perf_counter() - start
        net.eval()
        result = evaluate(predictor(net))
        history.append({"epoch": epoch, "train_loss": loss, "train_acc": acc,
                        "val_macro_f1": result["window"]["macro_f1"]})
    return Fitted(net.cpu(), result, history, seconds)


def _score_recordings(recordings: list[Recording], window: int, predict: Predict) -> dict:
    return score(predict_recordings(predict, recordings, window))


def _fixed(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's training set: the same slices every epoch."""
    return x, y


def _score_slices(x: np.ndarray, y: np.ndarray, sets: np.ndarray, predict: Predict) -> dict:
    """Window metrics of single slices, with per-set predictions shaped as in ``score``."""
    pred = predict(x).argmax(1)
    out = {"window": metrics(y, pred), "per_set": {}}
    for bonn_set in [s for s in BONN_SETS if s in set(sets)]:
        mine = sets == bonn_set
        frac = np.bincount(pred[mine], minlength=len(CLASSES)) / mine.sum()
        out["per_set"][bonn_set] = {
            "n_rows": int(mine.sum()),
            "window": {"predicted": {c: float(f) for c, f in zip(CLASSES, frac, strict=True)}},
        }
    return out


def csv_rows(recordings: list[Recording]) -> tuple[np.ndarray, np.ndarray]:
    """The 178-sample rows the notebook saw, cut back out of the reassembled recordings, and
    the index of the recording each row came from."""
    rows, owner = [], []
    for i, rec in enumerate(recordings):
        n = rec.n_samples // CHUNK
        rows.append(rec.data[0, : n * CHUNK].reshape(n, CHUNK))
        owner.append(np.full(n, i))
    return np.concatenate(rows), np.concatenate(owner)


def notebook_run(recordings: list[Recording], cfg: CompareConfig, seed: int,
                 by_recording: bool) -> Run:
    """The notebook's protocol: one random 120-sample slice per CSV row, 20 % of rows held out
    (at random, or whole recordings with ``by_recording``), scored on the held-out slices."""
    rows, owner = csv_rows(recordings)
    labels = np.array([recordings[i].label for i in owner], dtype=np.int64)
    sets = np.array([recordings[i].bonn_set for i in owner])
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, CHUNK - cfg.window + 1, size=len(rows))
    slices = rows[np.arange(len(rows))[:, None], starts[:, None] + np.arange(cfg.window)]
    idx = np.arange(len(rows))
    if by_recording:
        train_recs, _ = grouped_split(recordings, cfg.test_fraction, seed)
        train_ids = {r.id for r in train_recs}
        in_train = np.array([recordings[i].id in train_ids for i in owner])
        tr, te = idx[in_train], idx[~in_train]
    else:
        tr, te = train_test_split(idx, test_size=cfg.test_fraction, stratify=labels,
                                  random_state=seed)
    fitted = fit(partial(_notebook_net, slices[tr]), partial(_fixed, slices[tr], labels[tr]),
                 partial(_score_slices, slices[te], labels[te], sets[te]), cfg, seed)
    shared = np.isin(owner[te], owner[tr])
    split = {"train_rows": int(len(tr)), "test_rows": int(len(te)),
             "test_rows_from_training_recordings": int(shared.sum()),
             "test_recordings": int(len(np.unique(owner[te])))}
    name = NOTEBOOK_RECORDING_SPLIT if by_recording else NOTEBOOK_ROW_SPLIT
    return Run(name, seed, None, fitted.metrics, fitted.history, fitted.seconds,
               count_parameters(fitted.net), split)


def _notebook_net(train_slices: np.ndarray) -> nn.Module:
    return nn.Sequential(fit_scaling(NOTEBOOK_SCALER, train_slices),
                         RecurrentClassifier(NOTEBOOK_ARCH))


def _mean_sd(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {"mean": float(values.mean()), "sd": float(values.std())}


def _set_correct(result: dict, bonn_set: str) -> float:
    return result["per_set"][bonn_set]["window"]["predicted"][CLASSES[SET_TO_CLASS[bonn_set]]]


def summarise(runs: list[Run]) -> dict:
    """Mean and sd over folds x seeds of the held-out figures, per class and per Bonn set."""
    window = [r.metrics["window"] for r in runs]
    out = {
        "n_runs": len(runs),
        "parameters": runs[0].parameters,
        "macro_f1": _mean_sd([m["macro_f1"] for m in window]),
        "accuracy": _mean_sd([m["accuracy"] for m in window]),
        "recall": {c: _mean_sd([m["recall"][c] for m in window]) for c in CLASSES},
        "per_set_correct": {
            s: _mean_sd([_set_correct(r.metrics, s) for r in runs])
            for s in BONN_SETS if all(s in r.metrics["per_set"] for r in runs)
        },
        "seconds": _mean_sd([r.seconds for r in runs]),
    }
    if "smoothed_5s" in runs[0].metrics:
        out["smoothed_5s_macro_f1"] = _mean_sd([r.metrics["smoothed_5s"]["macro_f1"]
                                                for r in runs])
        out["recording_accuracy"] = _mean_sd([r.metrics["recording"]["accuracy"] for r in runs])
    out["curve"] = {
        key: {"mean": np.mean(c, 0).tolist(), "sd": np.std(c, 0).tolist()}
        for key in ("val_macro_f1", "train_loss")
        for c in [np.array([[h[key] for h in r.history] for r in runs])]
    }
    return out


@dataclass
class Comparison:
    """Everything one ``compare`` call measured; the table, JSON and plots are views of it."""

    config: CompareConfig
    recordings: int
    folds: list[dict]  # seed, fold, train and validation recording ids
    runs: list[Run]
    notebook: list[Run]

    def variant_names(self) -> list[str]:
        return list(dict.fromkeys(r.variant for r in self.runs))

    def summaries(self) -> dict[str, dict]:
        """Per variant, grouped CV first, then the two notebook-protocol rows."""
        out = {v: summarise([r for r in self.runs if r.variant == v])
               for v in self.variant_names()}
        for name in (NOTEBOOK_ROW_SPLIT, NOTEBOOK_RECORDING_SPLIT):
            out[name] = summarise([r for r in self.notebook if r.variant == name])
        return out

    def leak(self) -> dict:
        """How much the row split flatters the notebook's protocol, and how many held-out rows
        have sibling rows of their recording in training."""
        row = [r for r in self.notebook if r.variant == NOTEBOOK_ROW_SPLIT]
        rec = [r for r in self.notebook if r.variant == NOTEBOOK_RECORDING_SPLIT]
        f1_row = float(np.mean([r.metrics["window"]["macro_f1"] for r in row]))
        f1_rec = float(np.mean([r.metrics["window"]["macro_f1"] for r in rec]))
        shared = sum(r.split["test_rows_from_training_recordings"] for r in row)
        return {
            "row_split_macro_f1": f1_row,
            "recording_split_macro_f1": f1_rec,
            "macro_f1_inflation": f1_row - f1_rec,
            "row_split_test_rows_from_training_recordings": shared / sum(
                r.split["test_rows"] for r in row),
        }

    def to_dict(self) -> dict:
        summaries = self.summaries()
        return {
            "config": {**asdict(self.config), "train": config_dict(self.config.train)},
            "recordings": self.recordings,
            "folds": self.folds,
            "variants": {v: {**summaries[v],
                             "runs": [asdict(r) for r in self.runs if r.variant == v]}
                         for v in self.variant_names()},
            "notebook": {v: {**summaries[v],
                             "runs": [asdict(r) for r in self.notebook if r.variant == v]}
                         for v in (NOTEBOOK_ROW_SPLIT, NOTEBOOK_RECORDING_SPLIT)},
            "leak": self.leak(),
        }


def compare(recordings: list[Recording], cfg: CompareConfig,
            log: Callable[[str], None] = print) -> Comparison:
    """Grouped K-fold CV by recording (stratified by Bonn set) of every variant, for
    ``cfg.seeds`` seeds (each seed its own fold assignment), then the notebook protocol."""
    variants = cfg.variants()
    total = cfg.seeds * (cfg.folds * len(variants) + 2)
    folds: list[dict] = []
    runs: list[Run] = []
    notebook: list[Run] = []
    done = 0
    for seed in range(cfg.seeds):
        for k, (tr, va) in enumerate(grouped_folds(recordings, cfg.folds, seed)):
            train_ids, val_ids = [r.id for r in tr], [r.id for r in va]
            assert not set(train_ids) & set(val_ids), "a recording is in train and validation"
            folds.append({"seed": seed, "fold": k, "train": train_ids, "validation": val_ids})
            for arch, scaler in variants:
                name = f"{arch}/{scaler}"
                start = time.perf_counter()
                fitted = fit(
                    partial(build_variant, arch, scaler, tr),
                    partial(random_windows, tr, cfg.train.windows_per_recording, cfg.window),
                    partial(_score_recordings, va, cfg.window), cfg, seed * 1000 + k)
                runs.append(Run(name, seed, k, fitted.metrics, fitted.history, fitted.seconds,
                                count_parameters(fitted.net),
                                {"train_recordings": len(tr), "validation_recordings": len(va)}))
                done += 1
                log(f"[{done}/{total}] seed {seed} fold {k + 1}/{cfg.folds} {name:<22} "
                    f"macro-F1 {fitted.metrics['window']['macro_f1']:.3f}  "
                    f"train {fitted.seconds:.0f} s, "
                    f"with evaluation {time.perf_counter() - start:.0f} s")
        for by_recording in (False, True):
            run = notebook_run(recordings, cfg, seed, by_recording)
            notebook.append(run)
            done += 1
            log(f"[{done}/{total}] seed {seed} {run.variant:<31} "
                f"macro-F1 {run.metrics['window']['macro_f1']:.3f}  {run.seconds:.0f} s")
    return Comparison(cfg, len(recordings), folds, runs, notebook)


def table(comparison: Comparison) -> str:
    """The terminal table: one line per variant, then the notebook protocol and its leak."""
    summaries = comparison.summaries()
    sets = [s for s in BONN_SETS if all(s in v["per_set_correct"] for v in summaries.values())]
    cfg = comparison.config
    head = (f"{'variant':<31} {'macro-F1':>13}  {'recall S / T / N':>16}  "
            f"{'correct ' + ' / '.join(sets):>{8 + 6 * len(sets)}}  {'5 s F1':>6}  {'train s':>7}")
    lines = [f"{cfg.folds}-fold CV grouped by recording x {cfg.seeds} seed(s), "
             f"{cfg.train.epochs} epochs of {cfg.train.windows_per_recording} windows per "
             f"recording; held-out windows "
             "at hop 18; mean ± sd over folds x seeds", head, "-" * len(head)]
    for name, v in summaries.items():
        if name == NOTEBOOK_ROW_SPLIT:
            lines.append(f"notebook protocol ({NOTEBOOK_ARCH}/{NOTEBOOK_SCALER}, one random "
                         "slice per 178-sample row, 20 % held out; scored on held-out slices):")
        f1 = v["macro_f1"]
        recall = " / ".join(f"{v['recall'][c]['mean']:.2f}" for c in CLASSES)
        correct = " / ".join(f"{v['per_set_correct'][s]['mean']:.2f}" for s in sets)
        smooth = v.get("smoothed_5s_macro_f1", {}).get("mean")
        lines.append(f"{name:<31} {f1['mean']:.3f} ± {f1['sd']:.3f}  {recall:>16}  "
                     f"{correct:>{8 + 6 * len(sets)}}  "
                     f"{'-' if smooth is None else f'{smooth:.3f}':>6}  "
                     f"{v['seconds']['mean']:>7.1f}")
    leak = comparison.leak()
    lines.append(
        f"leak: with rows split at random, "
        f"{leak['row_split_test_rows_from_training_recordings']:.0%} of held-out rows come from "
        f"recordings that also have rows in training; macro-F1 {leak['row_split_macro_f1']:.3f} "
        f"against {leak['recording_split_macro_f1']:.3f} with rows split by recording "
        f"({leak['macro_f1_inflation']:+.3f}).")
    return "\n".join(lines)


def plot_comparison(comparison: Comparison, out_dir: str | Path) -> list[Path]:
    """Learning curves of every variant, and bar charts (macro-F1; fraction correct per Bonn
    set) with error bars of one sd over folds x seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = comparison.summaries()
    names = list(summaries)
    colours = dict(zip(names, plt.cm.tab20(np.linspace(0, 1, max(len(names), 2))), strict=False))
    paths = []

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, v in summaries.items():
        style = "--" if name.startswith("notebook") else "-"
        for ax, key in ((a, "val_macro_f1"), (b, "train_loss")):
            mean, sd = np.array(v["curve"][key]["mean"]), np.array(v["curve"][key]["sd"])
            epochs = np.arange(1, len(mean) + 1)
            ax.plot(epochs, mean, style, marker=".", color=colours[name], label=name)
            ax.fill_between(epochs, mean - sd, mean + sd, color=colours[name], alpha=0.15)
    a.set(xlabel="epoch", ylabel="macro-F1", title="held-out window macro-F1 (mean ± sd)")
    b.set(xlabel="epoch", ylabel="cross-entropy", title="training loss")
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    b.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    paths.append(out_dir / "learning_curves.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(names) + 2), 4.5))
    x = np.arange(len(names))
    ax.bar(x, [summaries[n]["macro_f1"]["mean"] for n in names],
           yerr=[summaries[n]["macro_f1"]["sd"] for n in names], capsize=4,
           color=[colours[n] for n in names],
           hatch=["//" if n == NOTEBOOK_ROW_SPLIT else "" for n in names])
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="window macro-F1", ylim=(0, 1),
           title="held-out window macro-F1, mean ± sd (hatched: leaky)")
    fig.tight_layout()
    paths.append(out_dir / "macro_f1.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    sets = [s for s in BONN_SETS if all(s in v["per_set_correct"] for v in summaries.values())]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(sets) + 0.3 * len(names)), 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        pc = summaries[name]["per_set_correct"]
        ax.bar(np.arange(len(sets)) + i * width - 0.4 + width / 2,
               [pc[s]["mean"] for s in sets], width, yerr=[pc[s]["sd"] for s in sets],
               capsize=2, color=colours[name], label=name)
    ax.set_xticks(np.arange(len(sets)), [f"set {s}" for s in sets])
    ax.set(ylabel="fraction of windows classified right", ylim=(0, 1.05),
           title="per Bonn set, mean ± sd over folds x seeds")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    paths.append(out_dir / "per_set.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths
