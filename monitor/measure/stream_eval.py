"""The monitor evaluated as deployed (``evaluate --stream``): seeded sessions replayed through
the real pipeline, scored per event, the seizure trade-off over a grid of settings, and the
outputs (SzCORE TSVs, a plot, the printed report).

Sessions: ``monitor.measure.sessions``; scoring (strict, with SzCORE beside it):
``monitor.measure.scoring``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from model.checkpoint import Classifier
from model.data import Recording
from monitor.measure.scoring import class_events, class_metrics, summarize, targets
from monitor.measure.sessions import (
    SessionRun,
    at_recorded_rate,
    decide,
    plan_sessions,
    run_session,
)
from monitor.settings import MonitorSettings

#: SzCORE TSV columns (as written by epilepsy2bids)
TSV_COLUMNS = ("onset", "duration", "eventType", "confidence", "channels", "dateTime",
               "recordingDuration")
#: the seizure grid of ``--sweep``: smoothing time (s), on-threshold, minimum duration (s)
SWEEP_SMOOTHING = (0.25, 0.5, 1.0, 2.0)
SWEEP_ON = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
SWEEP_MIN_ON = (0.25, 0.5, 1.0, 2.0)


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
    for s, o, m in itertools.product(smoothing, on, min_on):
        st = with_seizure_rule(settings, s, o, None, m)
        sz = class_metrics([decide(r, st) for r in runs], "seizure")
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
    f = _f
    for r in rows:
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


def _f(x, spec=".2f") -> str:
    return "-" if x is None else format(x, spec)


def report(result: dict) -> str:
    lines = [
        f"{result['sessions']['seizure']} seizure sessions, {result['sessions']['normal']} "
        f"normal sessions, {result['sessions']['hours']:.2f} h of stream, "
        f"{result['windows']} windows at {result['windows_per_s']:.0f} windows/s",
        *summary_lines(result),
        "  targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}"
                                  for k, v in result["targets"].items()),
    ]
    return "\n".join(lines)


def summary_lines(result: dict) -> list[str]:
    """Per alerting class (strict), the recalls, and SzCORE's scoring, as printed."""
    sz, tu, szc = result["seizure"], result["tumor"], result["szcore"]
    f = _f
    lines = []
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
    return lines


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
