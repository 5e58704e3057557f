"""The HTML report of a reviewed recording, built with ``mne.Report`` (one self-contained file
to hand to a colleague): the summary (duration, channels, signal quality, time in each state,
alerts by class per hour), the whole-recording trend, a 20 s EEG snapshot around every alert
with its probabilities and reviewer label, the scoring against the file's seizure annotations
where asked, and the settings and checkpoint used."""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from monitor.review.labels import Label
from monitor.review.recording import ReviewAlert, ReviewRecording

#: seconds of EEG shown around an alert (half before where it was raised, half after)
SNAPSHOT_S = 20.0
#: channels drawn in a snapshot (the alert's channels first)
SNAPSHOT_CHANNELS = 8
#: alerts with a snapshot; the rest are listed (a day of false alarms would make a huge file)
MAX_SNAPSHOTS = 100
COLOURS = {"seizure": "#d62728", "tumor": "#ff7f0e", "normal": "#2ca02c"}


def _table(rows: list[tuple], header: tuple | None = None) -> str:
    head = "" if header is None else "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>"
                                                      for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table class="table table-sm table-striped">{head}{body}</table>'


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def state_seconds(rec: ReviewRecording) -> dict[str, float]:
    """Seconds in each alert state: each window's state holds until the next window."""
    trend = rec.trend
    if trend is None or len(trend.time) == 0:
        return {}
    hop = float(np.median(np.diff(trend.time))) if len(trend.time) > 1 else 0.0
    dt = np.diff(trend.time, append=trend.time[-1] + hop)
    dt = np.minimum(dt, 5 * hop) if hop > 0 else dt  # a gap is not time in a state
    return {s: float(dt[trend.state == s].sum()) for s in ("seizure", "tumor", "normal")}


def quality_rows(rec: ReviewRecording) -> list[tuple[str, str]]:
    rows = []
    trend = rec.trend
    if trend is not None and len(trend.time):
        full = float(np.mean(trend.classified >= trend.channels))
        rows.append(("windows with every EEG channel classified", f"{full:.1%}"))
        rows.append(("channels classified per window (mean)",
                     f"{np.mean(trend.classified):.1f} of {trend.channels}"))
        if trend.valid is not None and len(trend.valid):
            missed = 1 - trend.valid.mean(axis=0)
            worst = np.argsort(missed)[::-1][:5]
            text = ", ".join(f"{rec.channels[i]} {missed[i]:.1%}" for i in worst if missed[i] > 0)
            rows.append(("channels most often not classified (bad samples)", text or "none"))
    bad = Counter()
    for s in rec.status:
        m = re.match(r"bad_samples t=\S+: channel (.+?): (.+?);", s.description)
        if m:
            bad[f"{m.group(1)} ({m.group(2)})"] += 1
    if rec.kind == "monitor":
        rows.append(("bad_samples events", ", ".join(f"{k} x{v}" for k, v in bad.most_common(8))
                     or "none"))
        lost = sum(s.description.startswith("stream_lost") for s in rec.status)
        rows.append(("stream lost / new segments", f"{lost} / {len(rec.segments)}"))
    return rows


def alerts_per_hour(rec: ReviewRecording) -> list[tuple]:
    hours = max(1, int(np.ceil(rec.duration / 3600)))
    counts = {c: np.zeros(hours, int) for c in ("seizure", "tumor")}
    for a in rec.alerts:
        counts[a.cls][min(hours - 1, int(a.raised // 3600))] += 1
    return [(f"{h}:00-{h + 1}:00", counts["seizure"][h], counts["tumor"][h])
            for h in range(hours)]


def summary_html(rec: ReviewRecording) -> str:
    raw = rec.raw
    names = rec.channels
    shown = ", ".join(names[:16]) + (f" ... ({len(names)})" if len(names) > 16 else "")
    rows = [("file", str(rec.path)), ("kind", rec.kind),
            ("duration", f"{_hms(rec.duration)} ({rec.duration:.1f} s)"),
            ("sampling rate", f"{rec.sfreq:g} Hz"),
            ("EEG channels", shown), ("channels in the file", str(len(raw.ch_names))),
            ("recorded", str(raw.info["meas_date"] or "not stated")),
            ("source", rec.meta.get("source", "-")),
            ("predictions", rec.meta.get("predictions", "stored with the recording"
                                         if rec.kind == "monitor" else "-")),
            ("annotations in the file", str(len(rec.annotations))),
            ("alerts", f"{sum(a.cls == 'seizure' for a in rec.alerts)} seizure, "
                       f"{sum(a.cls == 'tumor' for a in rec.alerts)} tumor")]
    states = state_seconds(rec)
    state_rows = [(s, _hms(v), f"{v / max(rec.duration, 1e-9):.1%}") for s, v in states.items()]
    return ("<h4>Recording</h4>" + _table(rows)
            + "<h4>Signal quality</h4>" + _table(quality_rows(rec) or [("-", "no predictions")])
            + "<h4>Time in each state</h4>"
            + _table(state_rows or [("-", "-", "no predictions")], ("state", "time", "share"))
            + "<h4>Alerts by class per hour</h4>"
            + _table(alerts_per_hour(rec), ("hour", "seizure", "tumor")))


def trend_figure(rec: ReviewRecording, thresholds: dict[str, float] | None = None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 3.2), layout="constrained")
    for t in rec.truth:
        colour = COLOURS.get(t.description) if t.description != "normal" else None
        if colour:
            ax.axvspan(t.onset, t.onset + t.duration, color=colour, alpha=0.12, lw=0)
    for a in rec.annotations:
        ax.axvspan(a.onset, a.onset + max(a.duration, rec.duration / 2000), ymin=0, ymax=0.05,
                   color="#555555", alpha=0.8, lw=0)
    if rec.trend is not None:
        ax.plot(rec.trend.time, rec.trend.seizure, color=COLOURS["seizure"], lw=0.8,
                label="seizure")
        ax.plot(rec.trend.time, rec.trend.tumor, color=COLOURS["tumor"], lw=0.8, label="tumor")
    for cls, on in (thresholds or {}).items():
        ax.axhline(on, color=COLOURS[cls], ls="--", lw=0.6)
    for a in rec.alerts:
        end = rec.duration if a.end is None else a.end
        ax.axvspan(a.raised, end, ymin=0.93, ymax=1.0, color=COLOURS[a.cls], alpha=0.7, lw=0)
        ax.axvline(a.raised, color=COLOURS[a.cls], lw=0.8)
    for s in rec.segments:
        ax.axvline(s, color="black", ls=":", lw=0.8)
    ax.set_xlim(0, rec.duration)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recording time (s); shaded: truth; bars on top: alerts; grey ticks: "
                  "annotations; dotted: new segments")
    ax.set_ylabel("smoothed p")
    if rec.trend is not None:
        ax.legend(loc="upper left", fontsize=8)
    return fig


def snapshot_figure(rec: ReviewRecording, alert: ReviewAlert, label: Label | None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = max(0.0, alert.raised - SNAPSHOT_S / 2)
    stop = min(rec.duration, start + SNAPSHOT_S)
    names = rec.channels
    order = [names.index(c) for c in alert.channels if c in names]
    order += [i for i in range(len(names)) if i not in order]
    picks = [rec.eeg[i] for i in order[:SNAPSHOT_CHANNELS]]
    times, data = rec.span(start, stop, picks)
    # A fixed layout: matplotlib's constrained layout took half the time of every snapshot.
    fig, (ax, axp) = plt.subplots(2, 1, figsize=(12, 4.8), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08})
    fig.subplots_adjust(left=0.08, right=0.99, top=0.94, bottom=0.1)
    spread = float(np.nanpercentile(np.abs(data), 99)) * 2 if data.size else 1.0
    spread = spread if np.isfinite(spread) and spread > 0 else 1.0
    for k, row in enumerate(data):
        ax.plot(times, row - k * spread, lw=0.5, color="black" if order[k] not in
                [names.index(c) for c in alert.channels if c in names] else COLOURS[alert.cls])
    ax.set_yticks([-k * spread for k in range(len(data))],
                  [rec.raw.ch_names[p] for p in picks], fontsize=7)
    ax.axvline(alert.raised, color=COLOURS[alert.cls], lw=1)
    ax.axvspan(max(start, alert.onset), alert.raised, color=COLOURS[alert.cls], alpha=0.1, lw=0)
    ax.set_title(f"{spread / 2:.0f} µV between traces; shaded: onset to raised", fontsize=8)
    if rec.trend is not None:
        sel = (rec.trend.time >= start) & (rec.trend.time <= stop)
        axp.plot(rec.trend.time[sel], rec.trend.seizure[sel], color=COLOURS["seizure"], lw=1)
        axp.plot(rec.trend.time[sel], rec.trend.tumor[sel], color=COLOURS["tumor"], lw=1)
    axp.axvline(alert.raised, color=COLOURS[alert.cls], lw=1)
    axp.set_ylim(0, 1.02)
    axp.set_ylabel("p", fontsize=8)
    axp.set_xlabel("recording time (s)")
    axp.set_xlim(start, stop)
    return fig


def alert_caption(alert: ReviewAlert, label: Label | None) -> str:
    end = "still on at the end" if alert.end is None else f"ended {alert.end:.2f} s"
    text = (f"{alert.cls} alert raised {alert.raised:.2f} s (onset {alert.onset:.2f} s, {end}), "
            f"peak p {alert.peak:.3f}, channels {', '.join(alert.channels) or '-'}. Reviewer: ")
    if label is None:
        return text + "not labelled."
    return text + f"{label.label}" + (f" ({label.note})" if label.note else "") + \
        (f", {label.at}" if label.at else "") + "."


def settings_rows(rec: ReviewRecording) -> list[tuple[str, str]]:
    rows = []
    for key in ("checkpoint", "settings", "predictions", "source", "classified", "version"):
        value = rec.meta.get(key)
        if value is None:
            continue
        if key == "settings":
            with contextlib.suppress(ValueError):  # shown as written when not JSON
                value = json.dumps(json.loads(value), indent=1)
        rows.append((key, value))
    return rows or [("-", "not recorded")]


def build_report(rec: ReviewRecording, out: Path, labels: dict[tuple[str, int], Label],
                 scoring: dict | None = None, thresholds: dict[str, float] | None = None,
                 max_snapshots: int = MAX_SNAPSHOTS,
                 progress: Callable[[float], None] | None = None) -> Path:
    """Write the report to ``out`` (folders made) and return its path."""
    import matplotlib.pyplot as plt
    import mne

    report = mne.Report(title=f"seizure-monitor review: {rec.path.name}", verbose="error")
    report.add_html(summary_html(rec), title="Summary", section="Summary")
    fig = trend_figure(rec, thresholds)
    report.add_figure(fig, title="Whole recording", section="Summary", image_format="png",
                      caption="Smoothed seizure (lead channel) and tumor (highest channel) "
                              "probability, alerts, annotations and truth.")
    plt.close(fig)
    if scoring is not None:
        per = [(s["file"], f"{s['onset']:.2f}", f"{s['end']:.2f}",
                "missed" if s["latency_s"] is None else f"{s['latency_s']:.2f}")
               for s in scoring["seizures"]]
        report.add_html("<pre>" + html.escape(score_text(scoring)) + "</pre>"
                        + _table(per, ("file", "onset s", "end s", "latency s")),
                        title="Scoring against the seizure annotations", section="Scoring")
    shown = rec.alerts[:max_snapshots]
    for i, alert in enumerate(shown):
        label = labels.get(alert.key)
        fig = snapshot_figure(rec, alert, label)
        report.add_figure(fig, title=f"{alert.cls} alert {i + 1} at {alert.raised:.1f} s",
                          caption=alert_caption(alert, label), section="Alerts",
                          image_format="png")
        plt.close(fig)
        if progress is not None:
            progress((i + 1) / max(1, len(shown)))
    if len(rec.alerts) > len(shown):
        rest = [(a.cls, f"{a.raised:.2f}", f"{a.peak:.3f}",
                 (labels.get(a.key) or Label("-")).label) for a in rec.alerts[len(shown):]]
        report.add_html(_table(rest, ("class", "raised s", "peak", "label")),
                        title=f"{len(rest)} more alerts (no snapshot)", section="Alerts")
    report.add_html(_table(settings_rows(rec), ("", "")), title="Settings and checkpoint",
                    section="Settings")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report.save(out, open_browser=False, overwrite=True, verbose="error")
    return out


def score_text(result: dict) -> str:
    """The lines ``evaluate --file`` and the report print."""
    sz, szc = result["seizure"], result["szcore"]

    def f(x, spec=".2f"):
        return "-" if x is None else format(x, spec)

    lat = sz["latency_s"]
    return "\n".join([
        f"  seizure  detected {sz['detected']}/{sz['events']} (sensitivity "
        f"{f(sz['sensitivity'])}), latency median {f(lat['median'])} s, max {f(lat['max'])} s; "
        f"false alerts {sz['false_alerts']} in {sz['non_seizure_hours']:.2f} h = "
        f"{f(sz['false_alerts_per_hour'])}/h ({f(sz['false_alerts_per_24h'], '.1f')}/24 h)",
        f"  SzCORE event scoring: sensitivity {f(szc['sensitivity'])}, precision "
        f"{f(szc['precision'])}, F1 {f(szc['f1'])}, FP/24h {f(szc['fp_per_24h'], '.1f')}",
    ])
