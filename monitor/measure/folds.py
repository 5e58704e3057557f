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

from model.checkpoint import load_classifier
from model.data import DataError, Recording
from monitor.measure.scoring import summarize
from monitor.measure.sessions import Session, SessionRun, at_recorded_rate, run_session
from monitor.settings import MonitorSettings
from replay.scenario import build_scenario


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


def replay_folds(recordings: list[Recording], folder: Path, settings: MonitorSettings,
                 before: int = 4, seed: int = 0,
                 log: Callable[[str], None] = print) -> tuple[dict, dict[int, list[SessionRun]]]:
    """Replay every fold's recordings with its model; the scores per training seed (and over
    all of them), and the runs per seed."""
    by_id = {r.id: r for r in at_recorded_rate(recordings)}
    runs: dict[int, list[SessionRun]] = {}
    folds = []
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
        train_seed = int((training.get("config") or {}).get("seed", 0))
        sessions = plan_fold_sessions([by_id[i] for i in ids], before, seed, path.stem)
        fold_runs = [run_session(s, clf, settings) for s in sessions]
        runs.setdefault(train_seed, []).extend(fold_runs)
        alerts = sum(len(r.alerts) for r in fold_runs)
        log(f"  {path.name}: {len(ids)} recordings in {len(sessions)} sessions, {alerts} alerts")
        folds.append({"checkpoint": path.name, "seed": train_seed, "recordings": len(ids),
                      "sessions": [{"name": r.session.name,
                                    "recordings": [g.recording_id
                                                   for g in r.session.scenario.segments],
                                    "alerts": [{"class": a.cls, "onset": round(a.onset, 3),
                                                "raised": round(a.raised, 3),
                                                "end": round(a.end, 3)} for a in r.alerts]}
                                   for r in fold_runs]})
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
