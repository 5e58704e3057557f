"""The fold-wise alert replay (``evaluate --stream --folds DIR``): every recording replayed
through the monitor with the fold model that never saw it.

``train --folds K --save-folds DIR`` leaves one checkpoint per fold (and seed) holding the ids
of its validation recordings. Each fold's recordings are arranged, in a seeded order, into
seizure sessions of ``before`` non-seizure recordings followed by one seizure recording, so
every recording is replayed exactly once (those left over, where the counts do not divide,
make one last session); every session runs through the real pipeline in lockstep with that
fold's model, and is scored strictly. The folds of one seed cover the data once: their runs
are scored together.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from model.checkpoint import Classifier, load_classifier
from model.context import ContextConfig, ContextNet, ContextTrainConfig, train_context
from model.data import DataError, Recording
from model.stacking import fold_from_classifier, nested_split, oof_sequences
from monitor.measure.scoring import summarize
from monitor.measure.sessions import Session, SessionRun, at_recorded_rate, run_session
from monitor.settings import MonitorSettings
from replay.scenario import build_scenario

#: seeded orders of each fold's recordings its out-of-fold sequences are made of (as the stage
#: was measured with, docs/experiments.md, "The decision stage")
CONTEXT_ARRANGEMENTS = 6


def fold_checkpoints(folder: Path) -> list[Path]:
    """The fold models in ``folder`` (``*.pt``), in name order."""
    paths = sorted(Path(folder).glob("*.pt"))
    if not paths:
        raise DataError(f"{folder}: no fold checkpoints (*.pt); make them with 'seizure-monitor "
                        "train --folds K --save-folds DIR'.")
    return paths


def plan_fold_sessions(recordings: list[Recording], before: int, seed: int,
                       prefix: str) -> list[Session]:
    """Every recording once: seizure sessions of ``before`` non-seizure recordings then one
    seizure recording, in a seeded order; the rest in one last session."""
    rng = np.random.default_rng(seed)
    seizure = [r for r in recordings if r.class_name == "seizure"]
    other = [r for r in recordings if r.class_name != "seizure"]
    seizure = [seizure[i] for i in rng.permutation(len(seizure))]
    other = [other[i] for i in rng.permutation(len(other))]
    sessions = []
    for k, sz in enumerate(seizure):
        recs = other[k * before:(k + 1) * before] + [sz]
        sessions.append(Session(f"{prefix}-seizure-{k + 1:02d}", "seizure",
                                build_scenario(recs, ids=[r.id for r in recs])))
    rest = other[len(seizure) * before:]
    if rest:
        sessions.append(Session(f"{prefix}-rest", "normal",
                                build_scenario(rest, ids=[r.id for r in rest])))
    return sessions


def nested_context_stages(folds: dict[str, Classifier], recordings: list[Recording],
                          cfg: ContextTrainConfig, log: Callable[[str], None] = print
                          ) -> dict[str, ContextNet]:
    """For each fold of one cross-validation, a context stage trained only on the other
    folds' out-of-fold outputs (nested: never on a recording the fold holds out)."""
    stack = [fold_from_classifier(name, clf) for name, clf in folds.items()]
    sequences = oof_sequences(stack, recordings, CONTEXT_ARRANGEMENTS, 0, cfg.net.hop_s)
    stages = {}
    for name in folds:
        train, _ = nested_split(sequences, name)  # checked by recording id
        stages[name], info = train_context(train, cfg)
        log(f"  context stage for {name}: {info['sequences']} sequences of the other folds, "
            f"{info['seconds']:.0f} s")
    return stages


def replay_folds(recordings: list[Recording], folder: Path, settings: MonitorSettings,
                 before: int = 4, seed: int = 0,
                 log: Callable[[str], None] = print) -> tuple[dict, dict[int, list[SessionRun]]]:
    """Replay every fold's recordings with its model; the scores per training seed (and over
    all of them), and the runs per seed. With ``settings.decision`` "context", each fold's
    context stage is trained nested, on the other folds of its seed."""
    by_id = {r.id: r for r in at_recorded_rate(recordings)}
    models: dict[int, dict[str, Classifier]] = {}
    for path in fold_checkpoints(folder):
        clf = load_classifier(path)
        training = clf.meta.get("training") or {}
        ids = list(training.get("validation_ids") or [])
        if not ids:
            raise DataError(f"{path}: the checkpoint stores no validation recordings; make "
                            "fold models with 'seizure-monitor train --folds K --save-folds'.")
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise DataError(f"{path}: {len(missing)} of its {len(ids)} validation recordings "
                            f"(e.g. {missing[0]}) are not in the data; give the data it was "
                            "trained on.")
        seed_of = int((training.get("config") or {}).get("seed", 0))
        models.setdefault(seed_of, {})[path.name] = clf
    if settings.decision == "context":
        cfg = ContextTrainConfig(net=ContextConfig(hop_s=settings.hop_s))
        for seed_models in models.values():
            stages = nested_context_stages(seed_models, recordings, cfg, log)
            for name, clf in seed_models.items():
                clf.context = stages[name]
    runs: dict[int, list[SessionRun]] = {}
    folds = []
    for train_seed, seed_models in sorted(models.items()):
        for name, clf in seed_models.items():
            runs.setdefault(train_seed, []).extend(
                _replay_fold(name, train_seed, clf, by_id, settings, before, seed, folds, log))
    ids_per_seed = {s: [g.recording_id for r in rs for g in r.session.scenario.segments]
                    for s, rs in runs.items()}
    result = {
        "folds": folds,
        "per_seed": {str(s): {**summarize(rs), "recordings": len(ids_per_seed[s]),
                              "recordings_unique": len(set(ids_per_seed[s]))}
                     for s, rs in sorted(runs.items())},
        "all": summarize([r for rs in runs.values() for r in rs]),
    }
    return result, runs


def _replay_fold(name: str, train_seed: int, clf: Classifier, by_id: dict[str, Recording],
                 settings: MonitorSettings, before: int, seed: int, folds: list[dict],
                 log: Callable[[str], None]) -> list[SessionRun]:
    """One fold's recordings in sessions, replayed with its model; noted in ``folds``."""
    ids = list(clf.meta["training"]["validation_ids"])
    sessions = plan_fold_sessions([by_id[i] for i in ids], before, seed, Path(name).stem)
    runs = [run_session(s, clf, settings) for s in sessions]
    log(f"  {name}: {len(ids)} recordings in {len(sessions)} sessions, "
        f"{sum(len(r.alerts) for r in runs)} alerts")
    folds.append({"checkpoint": name, "seed": train_seed,
                  "recordings": len(ids),
                  "sessions": [{"name": r.session.name,
                                "recordings": [g.recording_id
                                               for g in r.session.scenario.segments],
                                "alerts": [{"class": a.cls, "onset": round(a.onset, 3),
                                            "raised": round(a.raised, 3),
                                            "end": round(a.end, 3)} for a in r.alerts]}
                               for r in runs]})
    return runs


def false_alarm_recordings(runs: list[SessionRun], cls: str) -> list[str]:
    """The recording during which each false alarm of ``cls`` was raised (strict scoring)."""
    from monitor.measure.scoring import class_events, match_alerts

    out = []
    for run in runs:
        sc = run.session.scenario
        _, false = match_alerts(class_events(sc, cls), [a for a in run.alerts if a.cls == cls])
        for a in false:
            k = int(a.raised * sc.sample_rate)
            seg = next((g for g in sc.segments if g.start <= k < g.stop), sc.segments[-1])
            out.append(seg.recording_id)
    return out
