"""The console's charts as plain geometry: sync volume and lag over a time window, in buckets.

Rules:
1. Charts are drawn by the hub itself, as inline SVG the templates write from
   these numbers: no script, no chart library, nothing from another origin.
2. Only what the hub stores is charted: each accepted changeset's arrival time,
   record count and the stamp of its oldest record (``Reads.activity``).
3. Time is given (``now_ms``); buckets end at ``now_ms``, so a chart is a pure
   function of the store and the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._store import ChangesetActivity, iso

__all__ = ["WINDOWS", "Bar", "Chart", "Point", "Window", "lag_chart", "volume_chart", "window_start"]

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Window:
    name: str  # as in ``?window=``
    span_ms: int
    buckets: int

    @property
    def bucket_ms(self) -> int:
        return self.span_ms // self.buckets


WINDOWS = {
    w.name: w
    for w in (
        Window("24h", 24 * _HOUR_MS, 24),
        Window("7d", 7 * 24 * _HOUR_MS, 28),
        Window("30d", 30 * 24 * _HOUR_MS, 30),
    )
}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    start: str  # ISO time the bucket starts
    records: int
    changesets: int


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    start: str
    lag_ms: int  # the longest lag of the bucket's changesets
    changesets: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot: tuple[float, float, float, float]  # x0, y0 (top), x1, y1 (bottom)
    y_max: int  # the value at the top of the plot
    ticks: list[tuple[float, str]]  # x position and ISO time of labelled bucket starts
    bars: list[Bar]
    points: list[Point]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def window_start(window: Window, now_ms: int) -> int:
    return now_ms - window.span_ms


def _nice(value: int) -> int:
    """A round number at least ``value`` for the top of an axis (1, 2, 5 × 10ⁿ)."""
    if value <= 1:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _buckets(
    activity: Sequence[ChangesetActivity], window: Window, now_ms: int
) -> list[list[ChangesetActivity]]:
    start = window_start(window, now_ms)
    out: list[list[ChangesetActivity]] = [[] for _ in range(window.buckets)]
    for a in activity:
        if start <= a.received_ms <= now_ms:
            out[min(window.buckets - 1, (a.received_ms - start) // window.bucket_ms)].append(a)
    return out


def _frame(window: Window, now_ms: int, y_max: int, bars: list[Bar], points: list[Point]) -> Chart:
    start = window_start(window, now_ms)
    x0, x1 = LEFT, WIDTH - RIGHT
    step = (x1 - x0) / window.buckets
    every = max(1, window.buckets // 6)
    ticks = [
        (x0 + i * step, iso(start + i * window.bucket_ms) or "") for i in range(0, window.buckets, every)
    ]
    return Chart(WIDTH, HEIGHT, (x0, TOP, x1, HEIGHT - BOTTOM), y_max, ticks, bars, points)


def volume_chart(activity: Sequence[ChangesetActivity], window: Window, *, now_ms: int) -> Chart:
    """Records received per bucket: one bar each (changesets counted too)."""
    buckets = _buckets(activity, window, now_ms)
    y_max = _nice(max((sum(a.records for a in b) for b in buckets), default=0))
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    step = (x1 - x0) / window.buckets
    start = window_start(window, now_ms)
    bars = []
    for i, bucket in enumerate(buckets):
        records = sum(a.records for a in bucket)
        height = (y1 - y0) * records / y_max
        bars.append(
            Bar(
                x=x0 + i * step + 1,
                y=y1 - height,
                width=max(1.0, step - 2),
                height=height,
                start=iso(start + i * window.bucket_ms) or "",
                records=records,
                changesets=len(bucket),
            )
        )
    return _frame(window, now_ms, y_max, bars, [])


def lag_chart(activity: Sequence[ChangesetActivity], window: Window, *, now_ms: int) -> Chart:
    """The longest lag of each bucket's changesets (how long records waited at the clinic), as a line."""
    buckets = _buckets(activity, window, now_ms)
    lags = [[lag for a in b if (lag := a.lag_ms) is not None] for b in buckets]
    top_s = _nice(-(-max((max(b) for b in lags if b), default=0) // 1000))
    y_max = top_s * 1000
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    step = (x1 - x0) / window.buckets
    start = window_start(window, now_ms)
    points = [
        Point(
            x=x0 + (i + 0.5) * step,
            y=y1 - (y1 - y0) * max(found) / y_max,
            start=iso(start + i * window.bucket_ms) or "",
            lag_ms=max(found),
            changesets=len(found),
        )
        for i, found in enumerate(lags)
        if found
    ]
    return _frame(window, now_ms, y_max, [], points)
