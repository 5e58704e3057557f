"""TracesView: the last 10 s of every EEG channel, one lane per channel, scrolling.

All lanes are drawn as one curve (two: lanes above the seizure threshold are drawn red), a NaN
between lanes breaking the line. Measured on the 2-core target, 64 separate curves cost about
50 ms a frame in per-item overhead; one curve with a NaN-separated path a few ms. pyqtgraph's own
peak downsampling and clip-to-view assume one increasing x per curve, so for the stacked path
they are done here, with numpy over all lanes at once: only the visible 10 s is taken from the
buffer, and when there are 3 or more samples per pixel each run of samples becomes its min
and max.
"""

from __future__ import annotations

import warnings

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QFont

from monitor.pipeline import Snapshot
from monitor.ui import theme

SECONDS = 10.0
#: fixed scales offered, microvolts per lane
FIXED_SCALES_UV = (10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
#: how far a trace may leave its lane, in lane heights, before it is clipped
CLIP = 0.9
#: peak downsampling: one min/max pair per this many pixels of the plot; coarser when lanes are
#: thin (more than 8), where the finer detail cannot be seen and costs ~1.5 ms a frame at 64
PIXELS_PER_BIN = {False: 2.0, True: 3.0}


def peak_decimate(y: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """(lanes, n) -> (lanes, 2 * (n // k)): the min and max of each run of ``k`` samples,
    newest samples kept when ``n`` is not a multiple of ``k``; into ``out`` (lanes, n // k, 2)
    where given, so a frame allocates nothing."""
    bins = y.shape[1] // k
    runs = y[:, y.shape[1] - bins * k:].reshape(y.shape[0], bins, k)
    if out is None:
        out = np.empty((y.shape[0], bins, 2), y.dtype)
    lo, hi = out[:, :, 0], out[:, :, 1]
    lo[:] = hi[:] = runs[:, :, 0]
    # k is small (a few samples per pixel): k element-wise passes beat a reduction over a
    # short last axis
    for j in range(1, k):
        np.minimum(lo, runs[:, :, j], out=lo)
        np.maximum(hi, runs[:, :, j], out=hi)
    return out.reshape(y.shape[0], 2 * bins)


class TracesView(pg.PlotWidget):
    """Call ``configure`` once the stream is known, then ``refresh`` on every frame."""

    def __init__(self, parent=None):
        super().__init__(parent, background=theme.BACKGROUND)
        plot = self.getPlotItem()
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        # Second marks as items of their own: an axis grid would repaint the axis (and its
        # text, the costliest part of a frame) whenever a trace changes.
        for second in range(1, int(SECONDS)):
            plot.addItem(pg.InfiniteLine(-second, angle=90, pen=pg.mkPen(theme.GRID)))
        plot.setLabel("bottom", "seconds before now")
        plot.getAxis("left").setWidth(64)
        plot.getAxis("left").setStyle(tickFont=QFont("Sans", 8), tickLength=0)
        plot.setXRange(-SECONDS, 0, padding=0)
        self._quiet = pg.PlotCurveItem(pen=pg.mkPen(theme.TRACE, width=1))
        self._loud = pg.PlotCurveItem(pen=pg.mkPen(theme.SEIZURE, width=1))
        plot.addItem(self._quiet)
        plot.addItem(self._loud)
        self.auto_scale = True
        self.fixed_uv = 200.0
        self.frozen = False
        self._names: tuple[str, ...] = ()
        self._n = 0
        self._stack = np.empty((0, 0), np.float32)
        self._peaks = np.empty((0, 0, 2), np.float32)
        self._layout_key: tuple | None = None
        self._describe()

    # -- set-up ---------------------------------------------------------------------------
    def configure(self, channels: tuple[str, ...], eeg: tuple[int, ...], rate: float) -> None:
        """The stream's channels and the buffer's sampling rate."""
        self._names = tuple(channels[i] for i in eeg)
        lanes = len(self._names)
        self._n = max(2, int(round(SECONDS * rate)))
        self._rate = rate
        self._offsets = (lanes - 1 - np.arange(lanes, dtype=np.float32))[:, None]
        self._y = np.empty((lanes, self._n), np.float32)
        self._stack = np.empty((lanes, 0), np.float32)  # lanes side by side, NaN between
        self._layout_key = None
        step = max(1, int(np.ceil(lanes / 40)))  # at most ~40 labels, so they stay legible
        self.getPlotItem().getAxis("left").setTicks(
            [[(float(lanes - 1 - i), name) for i, name in enumerate(self._names)][::step], []])
        self.getPlotItem().setYRange(-CLIP, lanes - 1 + CLIP, padding=0)
        self._quiet.setData([], [])
        self._loud.setData([], [])

    def set_scale(self, auto: bool, fixed_uv: float | None = None) -> None:
        self.auto_scale = auto
        if fixed_uv is not None:
            self.fixed_uv = fixed_uv
        self._describe()

    def step_scale(self, direction: int) -> None:
        """+1: a larger scale (smaller traces), -1: a smaller one; leaves auto."""
        i = int(np.searchsorted(FIXED_SCALES_UV, self.fixed_uv))
        i = int(np.clip(i + direction, 0, len(FIXED_SCALES_UV) - 1))
        self.set_scale(False, FIXED_SCALES_UV[i])

    def set_frozen(self, frozen: bool) -> None:
        self.frozen = frozen
        self._describe()

    def _describe(self) -> None:
        scale = "auto scale per lane" if self.auto_scale else f"{self.fixed_uv:g} µV per lane"
        state = "   FROZEN (acquisition and alerts continue)" if self.frozen else ""
        self.getPlotItem().setTitle(f"EEG, last {SECONDS:g} s · {scale}{state}", size="9pt",
                                    color=theme.SEIZURE if self.frozen else theme.MUTED)

    # -- drawing --------------------------------------------------------------------------
    def refresh(self, view: Snapshot, loud: np.ndarray | None = None) -> None:
        """Draw the newest samples (the pipeline's snapshot of its EEG channels); ``loud``
        marks lanes to draw red (above the threshold)."""
        if self.frozen or not self._n:
            return
        m = min(view.filled, self._n)
        if m < 2:
            return
        y = self._y[:, :m]
        # The snapshot is the pipeline's, refilled each frame: scaled in a copy of our own.
        np.copyto(y, view.traces[:, view.filled - m:view.filled])
        if np.isfinite(y).all():
            mean, spread = y.mean(axis=1, keepdims=True), None
        else:  # NaN samples (a bad stream) are not drawn; a lane of nothing but NaN is empty
            y[~np.isfinite(y)] = np.nan
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nan_to_num(np.nanmean(y, axis=1, keepdims=True))
                spread = np.nan_to_num(np.nanstd(y, axis=1, keepdims=True))
        y -= mean
        if self.auto_scale:
            if spread is None:
                spread = y.std(axis=1, keepdims=True)
            gain = 0.5 / (3.0 * spread + 1e-6)  # +-3 std fills the lane
        else:
            gain = np.float32(1.0 / self.fixed_uv)
        y *= gain
        np.clip(y, -CLIP, CLIP, out=y)
        y += self._offsets
        per_bin = PIXELS_PER_BIN[len(y) > 8]
        k = int(m // max(1.0, self.getPlotItem().vb.width() / per_bin))
        if k >= 3:
            shape = (len(y), m // k, 2)
            if self._peaks.shape != shape:
                self._peaks = np.empty(shape, np.float32)
            y = peak_decimate(y, k, self._peaks)
        lane_x = self._lane_x(m, k)
        width = y.shape[1]
        if self._stack.shape[1] != width + 1:
            self._stack = np.full((len(y), width + 1), np.nan, np.float32)
        self._stack[:, :width] = y
        if loud is None or not loud.any():
            self._quiet.setData(self._tiled(lane_x, len(y)), self._stack.ravel(),
                                connect="finite", skipFiniteCheck=True)
            self._loud.setData([], [])
            return
        lanes = np.arange(len(y))
        for curve, rows in ((self._quiet, lanes[~loud]), (self._loud, lanes[loud])):
            curve.setData(self._tiled(lane_x, len(rows)), self._stack[rows].ravel(),
                          connect="finite", skipFiniteCheck=True)

    def _lane_x(self, m: int, k: int) -> np.ndarray:
        """x of one lane's points (seconds before now), and a NaN that ends the lane."""
        if (m, k) != self._layout_key:
            t = (np.arange(m) - (m - 1)) / self._rate
            if k >= 3:
                t = np.repeat(t[m - (m // k) * k:].reshape(-1, k).mean(axis=1), 2)
            self._x = np.append(t, np.nan)
            self._x_tiled: dict[int, np.ndarray] = {}
            self._layout_key = (m, k)
        return self._x

    def _tiled(self, lane_x: np.ndarray, lanes: int) -> np.ndarray:
        if lanes not in self._x_tiled:
            self._x_tiled[lanes] = np.tile(lane_x, lanes)
        return self._x_tiled[lanes]
