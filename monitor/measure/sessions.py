"""Seeded replay sessions, run through the real pipeline, and re-decided without the model.

Each session is a scenario of whole recordings replayed in lockstep (``ReplaySource`` at speed
0: as fast as the worker classifies, no window skipped) through the real ring buffer, worker
and decision stage, into a sink that keeps everything in memory.

Sessions:
- seizure sessions: ``before`` non-seizure recordings (tumor or normal, drawn as they come in
  the data, about 1 tumor to 3 normal), then one seizure recording;
- normal sessions: all-normal recordings, about 5 minutes each, ``normal_minutes`` in all.
Recordings are drawn from seeded shuffles of each pool and a pool is reshuffled only when
it has been used up, so every recording is used before any is used again. With few
recordings (a held-out part) some are replayed more than once; the report says how many.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from model.checkpoint import Classifier
from model.context import ContextNet
from model.data import BONN_RATE, CLASSES, NOMINAL_RATE, DataError, Recording
from monitor.alerts import Alert, AlertEvent
from monitor.decision import DecisionStage
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.sources import ReplaySource
from replay.scenario import Scenario, build_scenario

NORMAL_SESSION_S = 300.0


@dataclass(frozen=True)
class Session:
    name: str
    kind: str  # "seizure" or "normal"
    scenario: Scenario


@dataclass
class SessionRun:
    """What the pipeline emitted for one session, window by window."""

    session: Session
    t: np.ndarray  # (n,) stream seconds of each window's last sample
    probs: np.ndarray  # (n, channels, classes)
    valid: np.ndarray  # (n, channels)
    smoothed: np.ndarray  # (n, channels, classes)
    state: np.ndarray  # (n,) alert state after each window
    truth: np.ndarray  # (n,) class index of each window's last sample, -1 unknown
    alerts: list[Alert]  # every alert, ``end`` filled in (the session's end if still on)
    channels: tuple[str, ...] = ("EEG",)
    status: list[StatusEvent] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.session.scenario.duration


# --- sessions ------------------------------------------------------------------------------------


def at_recorded_rate(recordings: list[Recording]) -> list[Recording]:
    """Kaggle CSV rows are Bonn samples at 173.61 Hz; its "178 Hz" is nominal (one 178-sample
    row is about a second). Replay them at the rate they were recorded at, as an amplifier
    would send them, so the pipeline does not resample a signal that needs none."""
    return [replace(r, sample_rate=BONN_RATE)
            if r.bonn_set is not None and r.sample_rate == NOMINAL_RATE else r
            for r in recordings]


class _Pool:
    """Recordings in a seeded random order; reshuffled only once all have been drawn."""

    def __init__(self, recordings: list[Recording], rng: np.random.Generator):
        self.recordings, self.rng = recordings, rng
        self._order: list[Recording] = []
        self.draws = 0

    def take(self) -> Recording:
        if not self._order:
            self._order = [self.recordings[i] for i in self.rng.permutation(len(self.recordings))]
        self.draws += 1
        return self._order.pop()

    @property
    def reused(self) -> int:
        return max(0, self.draws - len(self.recordings))


def plan_sessions(recordings: list[Recording], seizure_sessions: int, normal_minutes: float,
                  seed: int = 0, before: int = 4) -> tuple[list[Session], dict]:
    """The seizure and normal sessions, and how many recordings each pool had and reused."""
    by_class = {c: [r for r in recordings if r.class_name == c] for c in CLASSES}
    if seizure_sessions > 0 and not by_class["seizure"]:
        raise DataError("the data has no seizure recording to build seizure sessions from.")
    non_seizure = by_class["tumor"] + by_class["normal"]
    if seizure_sessions > 0 and before > 0 and not non_seizure:
        raise DataError("the data has no non-seizure recording to put before the seizures.")
    if normal_minutes > 0 and not by_class["normal"]:
        raise DataError("the data has no normal recording to build all-normal sessions from.")
    rng = np.random.default_rng(seed)
    pools = {"seizure": _Pool(by_class["seizure"], rng),
             "non-seizure": _Pool(non_seizure, rng), "normal": _Pool(by_class["normal"], rng)}
    sessions = []
    for k in range(seizure_sessions):
        recs = [pools["non-seizure"].take() for _ in range(before)] + [pools["seizure"].take()]
        sessions.append(Session(f"seizure-{k + 1:02d}", "seizure",
                                build_scenario(recs, ids=[r.id for r in recs])))
    total, k = 0.0, 0
    while total < normal_minutes * 60 - 1e-9:
        recs, length = [], 0.0
        while length < min(NORMAL_SESSION_S, normal_minutes * 60 - total) - 1e-9:
            recs.append(pools["normal"].take())
            length += recs[-1].n_samples / recs[-1].sample_rate
        k += 1
        sessions.append(Session(f"normal-{k:02d}", "normal",
                                build_scenario(recs, ids=[r.id for r in recs])))
        total += length
    plan = {name: {"recordings": len(p.recordings), "draws": p.draws, "reused": p.reused}
            for name, p in pools.items()}
    return sessions, plan


# --- running ------------------------------------------------------------------------------------


class AlertLog:
    """Alerts as raised, each completed with its end when it clears."""

    def __init__(self):
        self.alerts: list[Alert] = []

    def add(self, ev: AlertEvent) -> None:
        if ev.state == "on":
            self.alerts.append(ev.alert)
            return
        for i, a in enumerate(self.alerts):
            if a.cls == ev.alert.cls and a.raised == ev.alert.raised and a.end is None:
                self.alerts[i] = ev.alert

    def closed(self, duration: float) -> list[Alert]:
        """Every alert, one still on ending with the session."""
        return [a if a.end is not None else replace(a, end=duration) for a in self.alerts]


class CollectingSink(Sink):
    """Everything the pipeline emits, in memory."""

    def __init__(self):
        self.t: list[float] = []
        self.probs: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []
        self.smoothed: list[np.ndarray] = []
        self.state: list[str] = []
        self.truth: list[int] = []
        self.channels: tuple[str, ...] = ()
        self.log = AlertLog()
        self.status_events: list[StatusEvent] = []

    def prediction(self, p: Prediction) -> None:
        self.t.append(p.t)
        self.probs.append(p.probs)
        self.valid.append(p.valid)
        self.smoothed.append(p.smoothed)
        self.state.append(p.state)
        self.truth.append(-1 if p.truth is None else CLASSES.index(p.truth))
        self.channels = p.channels

    def alert(self, ev: AlertEvent) -> None:
        self.log.add(ev)

    def status(self, ev: StatusEvent) -> None:
        self.status_events.append(ev)

    def run(self, session: Session) -> SessionRun:
        """What was collected, as the run of ``session``."""
        n_ch, n_cls = len(self.channels), len(CLASSES)
        return SessionRun(session, np.asarray(self.t),
                          np.asarray(self.probs).reshape(-1, n_ch, n_cls),
                          np.asarray(self.valid).reshape(-1, n_ch),
                          np.asarray(self.smoothed).reshape(-1, n_ch, n_cls),
                          np.asarray(self.state), np.asarray(self.truth),
                          self.log.closed(session.scenario.duration), self.channels,
                          self.status_events)


def run_session(session: Session, clf: Classifier, settings: MonitorSettings) -> SessionRun:
    """Replay one session through the real pipeline in lockstep."""
    sink = CollectingSink()
    pipe = Pipeline(ReplaySource(session.scenario, speed=0, name=session.name), settings,
                    [sink], classifier=clf, mode="lockstep")
    pipe.start()
    pipe.wait()
    if pipe.error:
        raise RuntimeError(f"session {session.name}: the pipeline failed: {pipe.error}")
    return sink.run(session)


def decide(run: SessionRun, settings: MonitorSettings,
           context: ContextNet | None = None) -> SessionRun:
    """The same session under other smoothing or alert settings, without running the model
    again: its raw probabilities through a new decision stage (with ``context``, the context
    stage for ``settings.decision`` "context"), as the pipeline steps it."""
    stage = DecisionStage(settings, run.channels, context)
    log = AlertLog()
    smoothed = np.empty_like(run.smoothed)
    state = np.empty(len(run.t), dtype="<U7")
    for i, (t, probs, valid) in enumerate(zip(run.t, run.probs, run.valid, strict=True)):
        d = stage.step(float(t), probs, valid)  # a replay has no gaps: one segment
        smoothed[i], state[i] = d.smoothed, d.state
        for ev in d.events:
            log.add(ev)
    return replace(run, smoothed=smoothed, state=state, alerts=log.closed(run.duration))
