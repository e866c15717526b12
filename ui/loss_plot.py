"""The Train workspace's live loss curves (pyqtgraph), cheap to keep up to date.

Points go into growing numpy buffers as events come; `redraw` (on the workspace's timer, not
per event) hands each curve a view of its buffer, in place: no curve is re-created, only
what is in view is drawn (setClipToView) and long curves are thinned to the pixels they cover
(peak downsampling). While the plot is hidden (another tab) nothing is redrawn.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

# Drawing the lines is most of a redraw's cost (QPainter.drawLines): a cosmetic 1-pixel pen
# draws them in half the time of a wider one, and a curve thinned to one (min, max) pair per
# pixel looks the same as pyqtgraph's default of five.
PEN_WIDTH = 1
POINTS_PER_PIXEL = 1.0
# The grid is the other half: grid lines at the labelled ticks only (pyqtgraph's default, 2,
# adds two finer levels) halve the cost of every paint.
TICK_LEVELS = 0


class Series:
    """x and y values, appended in amortised O(1) (the buffer doubles when full)."""

    def __init__(self) -> None:
        self.buffer = np.empty((2, 256), dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == self.buffer.shape[1]:
            self.buffer = np.concatenate([self.buffer, np.empty_like(self.buffer)], axis=1)
        self.buffer[:, self.n] = x, y
        self.n += 1

    @property
    def xs(self) -> np.ndarray:
        return self.buffer[0, :self.n]

    @property
    def ys(self) -> np.ndarray:
        return self.buffer[1, :self.n]


class LossPlot(pg.PlotWidget):
    """One curve per loss name."""

    def __init__(self, parent=None, pen_width: float = PEN_WIDTH, points_per_pixel: float = POINTS_PER_PIXEL,
                 tick_levels: int = TICK_LEVELS):
        super().__init__(parent, background="#1e1e1e")
        self.pen_width, self.points_per_pixel = pen_width, points_per_pixel  # the bench compares pyqtgraph's
        self.setLabel("bottom", "step")
        self.setLabel("left", "loss")
        self.showGrid(x=True, y=True, alpha=0.25)
        for axis in ("left", "bottom"):
            self.getAxis(axis).setStyle(maxTickLevel=tick_levels)
        self.legend = self.addLegend(offset=(-10, 10))
        self.legend.setBrush(pg.mkBrush(30, 30, 30, 200))  # readable over the curves
        self.setMinimumHeight(180)
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.series: dict[str, Series] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False

    def add(self, step: int, losses: dict) -> None:
        for name, value in losses.items():
            if value is not None:
                self.series.setdefault(name, Series()).append(step, float(value))
        self._dirty = True

    def redraw(self, new_curves: int | None = None) -> None:
        """Hand the curves their points; `new_curves` caps how many curves are created now (a new
        curve and its legend row cost ~3 ms: the live timer creates one per tick, so no tick is long)."""
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        for name, series in self.series.items():
            curve = self.curves.get(name)
            if curve is None:
                if new_curves is not None and new_curves <= 0:
                    self._dirty = True  # the next redraw creates it
                    continue
                new_curves = None if new_curves is None else new_curves - 1
                color = pg.intColor(len(self.curves), hues=6, values=1, minValue=200)
                curve = self.curves[name] = self.plot(name=name, pen=pg.mkPen(color, width=self.pen_width),
                                                    autoDownsampleFactor=self.points_per_pixel)
            curve.setData(series.xs, series.ys)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.redraw()  # what came while hidden

    def reset(self) -> None:
        self.series.clear()
        for curve in self.curves.values():
            self.removeItem(curve)
        self.legend.clear()
        self.curves.clear()
        self._dirty = False

    def steps(self, name: str) -> list[int]:
        """The steps recorded for `name`, in order (what the curve is drawn from)."""
        series = self.series.get(name)
        return [] if series is None else [int(x) for x in series.xs]

    def points(self, name: str) -> int:
        """How many points the drawn curve of `name` has (0 when none)."""
        curve = self.curves.get(name)
        return 0 if curve is None or curve.xData is None else len(curve.xData)
