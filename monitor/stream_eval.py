"""The monitor evaluated as deployed: seeded sessions replayed through the real pipeline.

Each session is a scenario of whole recordings replayed in lockstep (``ReplaySource`` at speed
0: as fast as the worker classifies, no window skipped) through the real ring buffer, worker,
smoother and alert policy, into a sink that keeps everything in memory.

Sessions:
- seizure sessions: ``before`` non-seizure recordings (tumor or normal, drawn as they come in
  the data, about 1 tumor to 3 normal), then one seizure recording;
- normal sessions: all-normal recordings, about 5 minutes each, ``normal_minutes`` in all.
Recordings are drawn from seeded shuffles of each pool and a pool is reshuffled only when
it has been used up, so every recording is used before any is used again. With few
recordings (a held-out part) some are replayed more than once; the report says how many.

Truth and scoring: an event of a class is a run of consecutive recordings of that class; its
onset is the stream time of its first sample. An alert detects an event when it is raised
within 30 s before its onset to 60 s after its end (the SzCORE tolerances); its latency is
raised minus onset. An alert raised outside every event's tolerance of its class is false.
An alert raised earlier and still on at an event's onset detects it at latency 0 (and was
counted false when raised). Tumor warnings are scored the same way against tumor recordings,
which appear only in the seizure sessions. The SzCORE event scoring itself (``timescoring``:
the same tolerances, events closer than 90 s merged, split beyond 5 min) uses each alert from
its onset (the first window above threshold) to its end.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from model.checkpoint import Classifier
from model.data import BONN_RATE, CLASSES, NOMINAL_RATE, DataError, Recording
from monitor.alerts import Alert, AlertEvent, AlertPolicy
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sinks import Prediction, Sink, StatusEvent
from monitor.smoothing import Smoother
from monitor.sources import ReplaySource
from replay.scenario import Scenario, build_scenario

TOLERANCE_BEFORE_S = 30.0
TOLERANCE_AFTER_S = 60.0
MERGE_S = 90.0
MAX_EVENT_S = 300.0
NORMAL_SESSION_S = 300.0
#: SzCORE TSV columns (as written by epilepsy2bids)
TSV_COLUMNS = ("onset", "duration", "eventType", "confidence", "channels", "dateTime",
               "recordingDuration")
#: the seizure grid of ``--sweep``: smoothing time (s), on-threshold, minimum duration (s)
SWEEP_SMOOTHING = (0.25, 0.5, 1.0, 2.0)
SWEEP_ON = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SWEEP_MIN_ON = (0.25, 0.5, 1.0, 2.0)


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
        self.alerts: list[Alert] = []
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
        if ev.state == "on":
            self.alerts.append(ev.alert)
            return
        for i, a in enumerate(self.alerts):
            if a.cls == ev.alert.cls and a.raised == ev.alert.raised and a.end is None:
                self.alerts[i] = ev.alert

    def status(self, ev: StatusEvent) -> None:
        self.status_events.append(ev)


def run_session(session: Session, clf: Classifier, settings: MonitorSettings) -> SessionRun:
    """Replay one session through the real pipeline in lockstep."""
    sink = CollectingSink()
    pipe = Pipeline(ReplaySource(session.scenario, speed=0, name=session.name), settings,
                    [sink], classifier=clf)
    pipe.start()
    pipe.wait()
    if pipe.error:
        raise RuntimeError(f"session {session.name}: the pipeline failed: {pipe.error}")
    duration = session.scenario.duration
    alerts = [a if a.end is not None else replace(a, end=duration) for a in sink.alerts]
    n_ch, n_cls = len(sink.channels), len(CLASSES)
    return SessionRun(session, np.asarray(sink.t),
                      np.asarray(sink.probs).reshape(-1, n_ch, n_cls),
                      np.asarray(sink.valid).reshape(-1, n_ch),
                      np.asarray(sink.smoothed).reshape(-1, n_ch, n_cls),
                      np.asarray(sink.state), np.asarray(sink.truth), alerts, sink.channels,
                      sink.status_events)


def decide(run: SessionRun, settings: MonitorSettings,
           smoothed: np.ndarray | None = None) -> SessionRun:
    """The same session under other smoothing or alert settings, without running the model
    again: the pipeline's raw probabilities through a new Smoother and AlertPolicy, exactly as
    ``Pipeline._handle`` feeds them (checked against the pipeline in the tests). ``smoothed``
    (from :func:`smooth` with the same smoothing) skips the smoothing step."""
    if smoothed is None:
        smoothed = smooth(run, settings)
    policy = AlertPolicy(settings.alerts, run.channels)
    state = np.empty(len(run.t), dtype="<U7")
    alerts: list[Alert] = []
    for i, (t, sm, valid) in enumerate(zip(run.t, smoothed, run.valid, strict=True)):
        for ev in policy.update(float(t), np.where(valid[:, None], sm, 0.0)):
            if ev.state == "on":
                alerts.append(ev.alert)
            else:
                alerts = [ev.alert if a.cls == ev.alert.cls and a.raised == ev.alert.raised
                          and a.end is None else a for a in alerts]
        active = policy.active
        state[i] = "seizure" if "seizure" in active else "tumor" if "tumor" in active else \
            "normal"
    duration = run.duration
    alerts = [a if a.end is not None else replace(a, end=duration) for a in alerts]
    return replace(run, smoothed=smoothed, state=state, alerts=alerts)


def smooth(run: SessionRun, settings: MonitorSettings) -> np.ndarray:
    """The pipeline's smoothing of a session's raw probabilities: a channel whose window was
    not classified adds the uniform distribution ("no information")."""
    smoother = Smoother(settings.smoothing_s, settings.smoothing_mode)
    uniform = 1.0 / run.probs.shape[-1]
    smoothed = np.empty_like(run.smoothed)
    for i, (t, probs, valid) in enumerate(zip(run.t, run.probs, run.valid, strict=True)):
        smoothed[i] = smoother.update(float(t), np.where(valid[:, None], probs, uniform))
    return smoothed


# --- scoring ------------------------------------------------------------------------------------


def class_events(scenario: Scenario, cls: str) -> list[tuple[float, float]]:
    """(onset, end) in stream seconds of every run of consecutive recordings of ``cls``."""
    events: list[tuple[float, float]] = []
    rate = scenario.sample_rate
    for seg in scenario.segments:
        if seg.class_name != cls:
            continue
        if events and abs(events[-1][1] - seg.start / rate) < 1e-9:
            events[-1] = (events[-1][0], seg.stop / rate)
        else:
            events.append((seg.start / rate, seg.stop / rate))
    return events


def match_alerts(events: list[tuple[float, float]], alerts: list[Alert]
                 ) -> tuple[list[float | None], list[Alert]]:
    """Latency of each event (None: missed) and the false alerts, for one class."""
    def window(ev):
        return ev[0] - TOLERANCE_BEFORE_S, ev[1] + TOLERANCE_AFTER_S

    latencies: list[float | None] = []
    for ev in events:
        lo, hi = window(ev)
        raised = [a.raised for a in alerts if lo <= a.raised <= hi]
        if raised:
            latencies.append(min(raised) - ev[0])
        elif any(a.raised < lo and (a.end is None or a.end > ev[0]) for a in alerts):
            latencies.append(0.0)
        else:
            latencies.append(None)
    false = [a for a in alerts if not any(lo <= a.raised <= hi for lo, hi in map(window, events))]
    return latencies, false


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x),
                                                                                   digits)


def class_metrics(runs: list[SessionRun], cls: str) -> dict:
    """Sensitivity, latency and false alerts per hour of one alerting class."""
    latencies: list[float | None] = []
    false = 0
    other_s = 0.0
    for run in runs:
        sc = run.session.scenario
        events = class_events(sc, cls)
        lat, wrong = match_alerts(events, [a for a in run.alerts if a.cls == cls])
        latencies += lat
        false += len(wrong)
        other_s += float(np.count_nonzero(sc.truth != CLASSES.index(cls))) / sc.sample_rate
    found = [x for x in latencies if x is not None]
    hours = other_s / 3600
    per_hour = false / hours if hours > 0 else None
    return {
        "sensitivity": _round(len(found) / len(latencies)) if latencies else None,
        "detected": len(found),
        "events": len(latencies),
        "latency_s": {"median": _round(float(np.median(found))) if found else None,
                      "max": _round(max(found)) if found else None,
                      "mean": _round(float(np.mean(found))) if found else None},
        "false_alerts": false,
        "false_alerts_per_hour": _round(per_hour),
        "false_alerts_per_24h": _round(None if per_hour is None else per_hour * 24),
        f"non_{cls}_hours": _round(hours, 4),
    }


def recalls(runs: list[SessionRun]) -> tuple[dict, dict]:
    """Per true class, the fraction of windows whose alert state, and whose smoothed argmax
    (mean over classified channels), is that class."""
    truth = np.concatenate([r.truth for r in runs])
    state = np.concatenate([r.state for r in runs])
    # A window with no classified channel has no smoothed argmax: it is left out of that
    # recall (the alert state still counts it).
    valid = np.concatenate([r.valid for r in runs])
    summed = np.concatenate([(r.valid[..., None] * r.smoothed).sum(axis=1) for r in runs])
    classified = valid.any(axis=1)
    top = np.asarray(CLASSES)[np.argmax(summed, axis=1)] if len(summed) else np.zeros(0, str)
    state_recall, smoothed_recall = {}, {}
    for k, c in enumerate(CLASSES):
        mask = truth == k
        state_recall[c] = _round(float(np.mean(state[mask] == c))) if mask.any() else None
        mask &= classified
        smoothed_recall[c] = _round(float(np.mean(top[mask] == c))) if mask.any() else None
    return state_recall, smoothed_recall


def szcore(runs: list[SessionRun]) -> dict:
    """Event-based scoring as in SzCORE (timescoring), summed over sessions."""
    from timescoring.annotations import Annotation
    from timescoring.scoring import EventScoring

    params = EventScoring.Parameters(toleranceStart=TOLERANCE_BEFORE_S,
                                     toleranceEnd=TOLERANCE_AFTER_S, minOverlap=0,
                                     maxEventDuration=MAX_EVENT_S,
                                     minDurationBetweenEvents=MERGE_S)
    fs = 10
    tp = fp = ref = 0
    seconds = 0.0
    for run in runs:
        n = max(1, int(round(run.duration * fs)))
        reference = Annotation(class_events(run.session.scenario, "seizure"), fs, n)
        hyp = Annotation([(a.onset, min(a.end, run.duration)) for a in run.alerts
                          if a.cls == "seizure"], fs, n)
        s = EventScoring(reference, hyp, params)
        tp, fp, ref = tp + int(s.tp), fp + int(s.fp), ref + int(s.refTrue)
        seconds += run.duration
    days = seconds / 86400
    return {
        "sensitivity": _round(tp / ref) if ref else None,
        "precision": _round(tp / (tp + fp)) if tp + fp else None,
        "f1": _round(2 * tp / (2 * tp + fp + ref - tp)) if ref + fp else None,
        "fp_per_24h": _round(fp / days) if days else None,
        "tp": tp, "fp": fp, "events": ref, "hours": _round(seconds / 3600, 4),
    }


def summarize(runs: list[SessionRun]) -> dict:
    state_recall, smoothed_recall = recalls(runs)
    return {"seizure": class_metrics(runs, "seizure"), "tumor": class_metrics(runs, "tumor"),
            "state_recall": state_recall, "smoothed_recall": smoothed_recall,
            "szcore": szcore(runs)}


def targets(summary: dict) -> dict:
    """The issue's targets for the held-out part."""
    sz = summary["seizure"]
    lat = sz["latency_s"]
    return {
        "every_seizure_detected": sz["events"] > 0 and sz["detected"] == sz["events"],
        "median_latency_le_2.5s": lat["median"] is not None and lat["median"] <= 2.5,
        "max_latency_le_5s": lat["max"] is not None and lat["max"] <= 5.0,
        "no_false_seizure_alert": sz["false_alerts"] == 0,
        "non_seizure_hours_ge_1": sz["non_seizure_hours"] >= 1.0,
    }


def with_seizure_rule(settings: MonitorSettings, smoothing_s: float | None = None,
                      on: float | None = None, off: float | None = None,
                      min_on_s: float | None = None) -> MonitorSettings:
    """Settings with another smoothing time or seizure rule (off defaults to min(off, on))."""
    rule = settings.alerts.seizure.with_thresholds(on, off)
    if min_on_s is not None:
        rule = replace(rule, min_on_s=min_on_s)
    return replace(settings, smoothing_s=settings.smoothing_s if smoothing_s is None else
                   smoothing_s, alerts=replace(settings.alerts, seizure=rule))


def sweep(runs: list[SessionRun], settings: MonitorSettings,
          smoothing: tuple[float, ...] = SWEEP_SMOOTHING, on: tuple[float, ...] = SWEEP_ON,
          min_on: tuple[float, ...] = SWEEP_MIN_ON) -> list[dict]:
    """The seizure trade-off over a grid of smoothing time, on-threshold and duration."""
    rows = []
    smoothed: dict[float, list[np.ndarray]] = {}
    for s, o, m in itertools.product(smoothing, on, min_on):
        st = with_seizure_rule(settings, s, o, None, m)
        if s not in smoothed:
            smoothed[s] = [smooth(r, st) for r in runs]
        decided = [decide(r, st, sm) for r, sm in zip(runs, smoothed[s], strict=True)]
        sz = class_metrics(decided, "seizure")
        rows.append({"smoothing_s": s, "seizure_on": o, "seizure_off": st.alerts.seizure.off,
                     "min_on_s": m, "sensitivity": sz["sensitivity"],
                     "detected": sz["detected"], "events": sz["events"],
                     "latency_median_s": sz["latency_s"]["median"],
                     "latency_max_s": sz["latency_s"]["max"],
                     "false_alerts": sz["false_alerts"],
                     "false_alerts_per_hour": sz["false_alerts_per_hour"]})
    return rows


def sweep_table(rows: list[dict]) -> str:
    lines = [f"{'smooth s':>9}{'on':>6}{'off':>6}{'min s':>7}{'sens':>7}{'median s':>10}"
             f"{'max s':>8}{'false':>7}{'false/h':>9}"]
    for r in rows:
        def f(x, spec=".2f"):
            return "-" if x is None else format(x, spec)
        lines.append(f"{r['smoothing_s']:>9g}{r['seizure_on']:>6g}{r['seizure_off']:>6g}"
                     f"{r['min_on_s']:>7g}{f(r['sensitivity']):>7}"
                     f"{f(r['latency_median_s']):>10}{f(r['latency_max_s']):>8}"
                     f"{r['false_alerts']:>7}{f(r['false_alerts_per_hour']):>9}")
    return "\n".join(lines)


# --- outputs ------------------------------------------------------------------------------------


def _tsv(rows: list[tuple], path: Path) -> None:
    text = "\t".join(TSV_COLUMNS) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows)
    path.write_text(text)


def write_tsvs(runs: list[SessionRun], folder: Path, started: datetime) -> list[Path]:
    """Per session, SzCORE-style TSVs of the detected seizure events (``_events.tsv``, from
    each alert's onset to its end, confidence = its peak smoothed probability) and of the
    truth (``_truth.tsv``); a session without events has one ``bckg`` row, as in SzCORE."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y-%m-%d %H:%M:%S")
    paths = []
    for run in runs:
        dur = round(run.duration, 3)
        detected = [(round(a.onset, 3), round(min(a.end, run.duration) - a.onset, 3), "sz",
                     round(a.peak, 4), ",".join(a.channels) or "n/a", stamp, dur)
                    for a in run.alerts if a.cls == "seizure"]
        truth = [(round(on, 3), round(end - on, 3), "sz", 1.0, "n/a", stamp, dur)
                 for on, end in class_events(run.session.scenario, "seizure")]
        for rows, suffix in ((detected, "events"), (truth, "truth")):
            path = folder / f"{run.session.name}_{suffix}.tsv"
            _tsv(rows or [(0.0, dur, "bckg", "n/a", "n/a", stamp, dur)], path)
            paths.append(path)
    return paths


TRUTH_COLOURS = {"seizure": "#d62728", "tumor": "#ff7f0e", "normal": None}


def plot_sessions(runs: list[SessionRun], settings: MonitorSettings, path: Path) -> Path:
    """One row per session: truth as background, smoothed seizure and tumor probabilities,
    the on-thresholds, and every alert (a line where raised, shaded while on)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, figsize=(12, 1.3 * len(runs) + 0.8), squeeze=False,
                             layout="constrained")
    for ax, run in zip(axes[:, 0], runs, strict=True):
        sc = run.session.scenario
        for seg in sc.segments:
            colour = TRUTH_COLOURS.get(seg.class_name or "normal")
            if colour:
                ax.axvspan(seg.start / sc.sample_rate, seg.stop / sc.sample_rate, color=colour,
                           alpha=0.12, lw=0)
        if len(run.t):
            sm = np.nanmax(np.where(run.valid[..., None], run.smoothed, np.nan), axis=1)
            ax.plot(run.t, sm[:, 0], color=TRUTH_COLOURS["seizure"], lw=1, label="seizure")
            ax.plot(run.t, sm[:, 1], color=TRUTH_COLOURS["tumor"], lw=1, label="tumor")
        for cls, rule in (("seizure", settings.alerts.seizure), ("tumor", settings.alerts.tumor)):
            ax.axhline(rule.on, color=TRUTH_COLOURS[cls], ls="--", lw=0.7)
        for a in run.alerts:
            colour = TRUTH_COLOURS[a.cls]
            ax.axvline(a.raised, color=colour, lw=1.5)
            ax.axvspan(a.raised, a.end, ymin=0.92, ymax=1.0, color=colour, alpha=0.6, lw=0)
        ax.set_xlim(0, sc.duration)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(run.session.name, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(loc="upper left", fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("stream time (s); background: true class; dashed: on-thresholds; "
                           "vertical lines: alerts raised")
    s = settings.alerts.seizure
    fig.suptitle(f"Smoothed probabilities ({settings.smoothing_mode} {settings.smoothing_s:g} s), "
                 f"seizure alert on {s.on:g} / off {s.off:g} after {s.min_on_s:g} s", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def report(result: dict) -> str:
    sz, tu, szc = result["seizure"], result["tumor"], result["szcore"]

    def f(x, spec=".2f"):
        return "-" if x is None else format(x, spec)

    lines = [
        f"{result['sessions']['seizure']} seizure sessions, {result['sessions']['normal']} "
        f"normal sessions, {result['sessions']['hours']:.2f} h of stream, "
        f"{result['windows']} windows at {result['windows_per_s']:.0f} windows/s",
    ]
    for name, m, noun in (("seizure", sz, "alerts"), ("tumor", tu, "warnings")):
        lines.append(
            f"  {name:<8} detected {m['detected']}/{m['events']} (sensitivity "
            f"{f(m['sensitivity'])}), latency median {f(m['latency_s']['median'])} s, max "
            f"{f(m['latency_s']['max'])} s; false {noun} {m['false_alerts']} in "
            f"{m[f'non_{name}_hours']:.2f} h = {f(m['false_alerts_per_hour'])}/h "
            f"({f(m['false_alerts_per_24h'], '.1f')}/24 h)")
    lines.append("  alert state recall (per true class, every window): " + ", ".join(
        f"{c} {f(v)}" for c, v in result["state_recall"].items()))
    lines.append("  smoothed argmax recall: " + ", ".join(
        f"{c} {f(v)}" for c, v in result["smoothed_recall"].items()))
    lines.append(f"  SzCORE event scoring: sensitivity {f(szc['sensitivity'])}, precision "
                 f"{f(szc['precision'])}, F1 {f(szc['f1'])}, FP/24h {f(szc['fp_per_24h'], '.1f')}")
    lines.append("  targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}"
                                          for k, v in result["targets"].items()))
    return "\n".join(lines)


def evaluate_stream(recordings: list[Recording], clf: Classifier, settings: MonitorSettings,
                    seizure_sessions: int = 20, normal_minutes: float = 30.0, seed: int = 0,
                    before: int = 4, log=print) -> tuple[dict, list[SessionRun]]:
    """Run every session and score them; the JSON-able result and the runs."""
    sessions, plan = plan_sessions(at_recorded_rate(recordings), seizure_sessions,
                                   normal_minutes, seed, before)
    runs = []
    start = time.perf_counter()
    for s in sessions:
        run = run_session(s, clf, settings)
        runs.append(run)
        alerts = ", ".join(f"{a.cls} {a.raised:.1f} s" for a in run.alerts) or "no alert"
        log(f"  {s.name}: {len(s.scenario.segments)} recordings, {s.scenario.duration:.0f} s, "
            f"{alerts}")
    seconds = time.perf_counter() - start
    windows = sum(len(r.t) for r in runs)
    result = {
        "settings": settings_dict(settings),
        "sessions": {
            "seizure": sum(s.kind == "seizure" for s in sessions),
            "normal": sum(s.kind == "normal" for s in sessions),
            "hours": round(sum(s.scenario.duration for s in sessions) / 3600, 4),
            "pools": plan,
            "list": [{"name": r.session.name, "kind": r.session.kind,
                      "recordings": [g.recording_id for g in r.session.scenario.segments],
                      "duration_s": round(r.duration, 3),
                      "alerts": [{"class": a.cls, "onset": round(a.onset, 3),
                                  "raised": round(a.raised, 3), "end": round(a.end, 3),
                                  "peak": round(a.peak, 4)} for a in r.alerts]}
                     for r in runs],
        },
        **summarize(runs),
        "windows": windows,
        "seconds": round(seconds, 1),
        "windows_per_s": windows / seconds if seconds else 0.0,
    }
    result["targets"] = targets(result)
    return result, runs


def settings_dict(s: MonitorSettings) -> dict:
    def rule(r):
        return {"on": r.on, "off": r.off, "min_on_s": r.min_on_s, "min_off_s": r.min_off_s}

    return {"hop_s": s.hop_s, "smoothing_s": s.smoothing_s, "smoothing_mode": s.smoothing_mode,
            "seizure": rule(s.alerts.seizure), "tumor": rule(s.alerts.tumor),
            "channels_k": s.alerts.channels_k}
