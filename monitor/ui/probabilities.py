"""ProbabilityView: the last 60 s of class probabilities, with the alert thresholds; under it
the per-channel seizure strip (multi-channel streams) and the ground-truth lane (replays)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QFont

from model.data import CLASSES
from monitor.settings import AlertSettings
from monitor.ui import theme
from monitor.ui.timeline import Timeline

SECONDS = 60.0
BINS = 600  # columns of the strip and lane images: 0.1 s each
AXIS_WIDTH = 64
LANE_HEIGHT = 70
QWIDGETSIZE_MAX = 16777215
HOLD_S = 2.0  # longest time an image column repeats the window before it


class ClockAxis(pg.AxisItem):
    """Stream time as m:ss."""

    def tickStrings(self, values, scale, spacing):
        # before the stream began there is nothing to label
        return ["" if v < 0 else f"{int(v // 60)}:{v % 60:04.1f}" if spacing < 1 else
                f"{int(v // 60)}:{int(round(v % 60)):02d}" for v in values]


def _plot(layout: pg.GraphicsLayoutWidget, row: int) -> pg.PlotItem:
    plot = layout.addPlot(row=row, col=0, axisItems={"bottom": ClockAxis("bottom")})
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    left = plot.getAxis("left")
    left.setWidth(AXIS_WIDTH)
    left.setStyle(tickFont=QFont("Sans", 8))
    return plot


class ProbabilityView(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground(theme.BACKGROUND)
        self.frozen = False
        self._drawn = None
        self.probs = _plot(self, 0)
        self.probs.setYRange(0, 1.02, padding=0)
        self.probs.setLabel("left", "probability")
        for level in (0.25, 0.5, 0.75, 1.0):  # not an axis grid: see traces.py
            self.probs.addItem(pg.InfiniteLine(level, angle=0, pen=pg.mkPen(theme.GRID)))
        self.probs.setDownsampling(auto=True, mode="peak")
        self.probs.setClipToView(True)
        self.probs.setTitle(f"class probabilities, last {SECONDS:g} s (smoothed; raw per window "
                            "faint)", size="9pt", color=theme.MUTED)
        legend = self.probs.addLegend(offset=(8, 4), brush=pg.mkBrush(15, 19, 24, 200),
                                      labelTextColor=theme.TEXT, colCount=3)
        self._raw, self._smooth = [], []
        for c in CLASSES:
            r, g, b = theme.rgb(theme.CLASS_COLORS[c])
            self._raw.append(self.probs.plot(pen=pg.mkPen((r, g, b, 90), width=1)))
            self._smooth.append(self.probs.plot(pen=pg.mkPen((r, g, b), width=2), name=c))
        self._thresholds = {}
        # labels at the right end, the seizure one under its line so the two never overlap
        for c, anchor in (("seizure", (1, 0)), ("tumor", (1, 1))):
            line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(
                theme.CLASS_COLORS[c], width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
                label=f"{c} alert", labelOpts={"position": 0.98, "color": theme.CLASS_COLORS[c],
                                               "anchors": [anchor, anchor]})
            self.probs.addItem(line)
            self._thresholds[c] = line
        legend.setZValue(10)

        self.strip = _plot(self, 1)
        self.strip.setXLink(self.probs)
        self.strip.setLabel("left", "seizure p")
        self._strip_image = pg.ImageItem(axisOrder="col-major")
        self._strip_image.setColorMap(pg.ColorMap(
            [0.0, 0.5, 1.0], [theme.rgb(theme.PANEL), (120, 30, 34), theme.rgb(theme.SEIZURE)]))
        self.strip.addItem(self._strip_image)

        self.lane = _plot(self, 2)
        self.lane.setXLink(self.probs)
        self.lane.setYRange(0, 2, padding=0)
        self.lane.getAxis("left").setTicks([[(1.5, "model"), (0.5, "truth")], []])
        self.lane.getAxis("left").setStyle(tickLength=0)
        self._lane_image = pg.ImageItem(axisOrder="col-major")
        self.lane.addItem(self._lane_image)
        # class index -> colour; index -1 (unknown truth) is the last row
        self._lut = np.array([(*theme.rgb(theme.CLASS_COLORS[c]), 255) for c in CLASSES]
                             + [(*theme.rgb(theme.UNKNOWN), 255)], np.uint8)
        self._lane_rgba = np.zeros((BINS, 2, 4), np.uint8)
        self._strip_values = np.zeros((BINS, 1), np.float32)
        self.configure(1, labelled=False)

    def configure(self, n_channels: int, labelled: bool,
                  channel_names: tuple[str, ...] = ()) -> None:
        self._n_channels = n_channels
        self._strip_values = np.full((BINS, n_channels), np.nan, np.float32)
        # Hidden plots still take room in a graphics layout: squeeze them too.
        for plot, shown, height in ((self.strip, n_channels > 1, None),
                                    (self.lane, labelled, LANE_HEIGHT)):
            plot.setVisible(shown)
            plot.setMinimumHeight(height if shown and height else 0)
            plot.setMaximumHeight((height or QWIDGETSIZE_MAX) if shown else 0)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 2 if n_channels > 1 else 0)
        if n_channels > 1:
            self.strip.setYRange(0, n_channels, padding=0)
            step = max(1, int(np.ceil(n_channels / 8)))
            self.strip.getAxis("left").setTicks([[(n_channels - i - 0.5, name) for i, name in
                                                  enumerate(channel_names)][::step], []])
        for plot in (self.probs, self.strip, self.lane):
            plot.hideAxis("bottom")
        bottom = self.lane if labelled else self.strip if n_channels > 1 else self.probs
        bottom.showAxis("bottom")
        bottom.setLabel("bottom", "stream time (m:ss)")
        for c in self._smooth + self._raw:
            c.setData([], [])
        self._drawn = None

    def set_thresholds(self, alerts: AlertSettings) -> None:
        for c, line in self._thresholds.items():
            line.setValue(getattr(alerts, c).on)
            line.label.setFormat(f"{c} alert {getattr(alerts, c).on:.2f}")

    def set_frozen(self, frozen: bool) -> None:
        self.frozen = frozen
        self._drawn = None

    def refresh(self, tl: Timeline) -> None:
        # Probabilities change once per window (10 times a second at hop 0.1 s): redrawing
        # between windows would only cost time.
        if self.frozen or tl.last is None or tl.last is self._drawn:
            return
        self._drawn = tl.last
        now = tl.last.t
        left = now - SECONDS
        rows = tl.since(left - 1.0)
        t = tl.t[rows]
        # The range and its transform first: curves that clip to the view and downsample
        # recompute when they change, which would otherwise happen while painting and cost a
        # second paint.
        self.probs.setXRange(left, now, padding=0)
        for plot in (self.probs, self.strip, self.lane):
            plot.getViewBox().updateMatrix()
        for i in range(len(CLASSES)):
            self._smooth[i].setData(t, tl.smoothed[rows, i], skipFiniteCheck=True)
            self._raw[i].setData(t, tl.raw[rows, i], connect="finite")
        # Each image column shows the newest window at or before its time, for up to
        # HOLD_S: a skipped window leaves no hole, a gap in the stream does.
        centres = left + (np.arange(BINS) + 0.5) * (SECONDS / BINS)
        idx = np.searchsorted(t, centres, side="right") - 1
        cols = np.flatnonzero((idx >= 0) & (centres - t[np.maximum(idx, 0)] <= HOLD_S))
        idx = idx[cols] + rows.start
        if self.strip.isVisible():
            self._strip_values.fill(np.nan)
            self._strip_values[cols] = tl.channel_seizure[idx][:, ::-1]  # channel 0 on top
            self._strip_image.setImage(self._strip_values, levels=(0.0, 1.0), autoLevels=False)
            self._strip_image.setRect(QRectF(left, 0, SECONDS, self._n_channels))
        if self.lane.isVisible():
            self._lane_rgba.fill(0)
            self._lane_rgba[cols, 0] = self._lut[tl.truth[idx]]
            self._lane_rgba[cols, 1] = self._lut[tl.model[idx]]
            self._lane_image.setImage(self._lane_rgba, autoLevels=False)
            self._lane_image.setRect(QRectF(left, 0, SECONDS, 2))
