"""Server-side charts: pure geometry (rectangles, lines, labels) that ``templates/_charts.html`` renders as
inline SVG. No markup is built here, so every label goes through Jinja's autoescaping like any other text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Mapping, Sequence

# Okabe-Ito palette (colour-blind safe), then grey for "other"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F6A00")
OTHER_COLOR = "#9a9a9a"

STATUS_COLORS = {"open": "#9a9a9a", "confirmed": "#D55E00", "false_positive": "#0072B2", "dismissed": "#CC79A7"}
ACTION_COLORS = {"reply": "#D55E00", "review": "#E69F00", "none": "#9a9a9a"}
FEEDBACK_COLORS = {"helpful": "#009E73", "not relevant": "#CC79A7"}


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str = ""


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"  # start | middle | end
    kind: str = "axis"  # axis | value | name


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    kind: str = "grid"  # grid | axis


@dataclass(frozen=True)
class LegendItem:
    color: str
    label: str
    value: int | None = None


@dataclass
class Chart:
    width: int
    height: int
    title: str
    desc: str  # a sentence for screen readers
    rects: list[Rect] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)
    empty: bool = False


def nice_max(value: float) -> int:
    """The smallest 1/2/5 x 10^k that is >= value (at least 1)."""
    if value <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        if m * exp >= value:
            return int(m * exp)
    return int(10 * exp)  # pragma: no cover


def _ticks(top: int) -> list[int]:
    step = top / 4 if top >= 4 and top % 4 == 0 else (top / 5 if top % 5 == 0 and top >= 5 else top)
    step = max(1, int(step))
    return list(range(0, top + 1, step))


def day_range(since: date, until: date) -> list[str]:
    """ISO days from ``since`` to ``until`` inclusive."""
    days = []
    d = since
    while d <= until:
        days.append(d.isoformat())
        d += timedelta(days=1)
    return days


def stacked_daily(
    days: Sequence[str], rows: Sequence[tuple[str, str, int]], names: Mapping[str, str], *,
    max_series: int = 6, width: int = 760, height: int = 260, title: str = "Incidents per day", max_labels: int = 10,
) -> Chart:
    """Stacked bars: one bar per day, one colour per talking point (the ``max_series`` busiest, then 'other');
    at most ``max_labels`` day labels under the bars (fewer for a chart drawn for a phone)."""
    totals: dict[str, int] = {}
    per_day: dict[str, dict[str, int]] = {d: {} for d in days}
    for day, tp, n in rows:
        if day not in per_day:
            continue
        per_day[day][tp] = per_day[day].get(tp, 0) + n
        totals[tp] = totals.get(tp, 0) + n
    ranked = sorted(totals, key=lambda t: (-totals[t], t))
    shown = ranked[:max_series]
    rest = [t for t in ranked if t not in shown]
    colors = {tp: PALETTE[i % len(PALETTE)] for i, tp in enumerate(shown)}
    total_all = sum(totals.values())
    chart = Chart(width, height, title,
                  f"{title}: {total_all} incidents over {len(days)} days, stacked by talking point.")
    chart.legend = [LegendItem(colors[tp], names.get(tp, tp), totals[tp]) for tp in shown]
    if rest:
        others = f"{len(rest)} other talking point{'s' if len(rest) != 1 else ''}"  # its count follows: "(29)"
        chart.legend.append(LegendItem(OTHER_COLOR, others, sum(totals[t] for t in rest)))
    if not days or total_all == 0:
        chart.empty = True
    left, right, top, bottom = 40, 10, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((sum(v.values()) for v in per_day.values()), default=0)
    ymax = nice_max(peak)
    for t in _ticks(ymax):
        y = top + plot_h - plot_h * t / ymax
        chart.lines.append(Line(left, y, width - right, y, "grid" if t else "axis"))
        chart.labels.append(Label(left - 6, y + 4, str(t), "end"))
    n = max(1, len(days))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.78)
    every = max(1, math.ceil(n / max(1, max_labels)))
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        counts = per_day.get(day, {})
        segments = [(tp, counts.get(tp, 0), colors[tp]) for tp in shown]
        if rest:
            segments.append(("other", sum(counts.get(t, 0) for t in rest), OTHER_COLOR))
        for tp, c, color in segments:
            if not c:
                continue
            h = plot_h * c / ymax
            y -= h
            label = names.get(tp, tp) if tp != "other" else "other talking points"
            chart.rects.append(Rect(round(x, 2), round(y, 2), round(bar_w, 2), round(h, 2), color,
                                    f"{day}: {c} × {label}"))
        if i % every == 0:
            chart.labels.append(Label(round(x + bar_w / 2, 2), height - bottom + 16, day[5:], "middle"))
    return chart


def hbars(items: Sequence[tuple[str, int, str]], *, title: str, width: int = 420, row: int = 28,
          label_w: int = 130) -> Chart:
    """Horizontal bars: (label, value, colour) per row, with the value and share printed after each bar."""
    total = sum(v for _, v, _ in items)
    height = 10 + row * max(1, len(items)) + 6
    parts = ", ".join(f"{label} {value}" for label, value, _ in items)
    chart = Chart(width, height, title, f"{title}: {parts}." if items else f"{title}: no data.")
    chart.empty = total == 0
    peak = max((v for _, v, _ in items), default=0) or 1
    plot_w = width - label_w - 80
    chart.lines.append(Line(label_w, 6, label_w, height - 6, "axis"))
    for i, (label, value, color) in enumerate(items):
        y = 10 + i * row
        w = plot_w * value / peak
        share = f"{value / total:.0%}" if total else "0%"
        chart.labels.append(Label(label_w - 8, y + row / 2, label, "end", "name"))
        if value:
            chart.rects.append(Rect(label_w, y + 3, round(max(w, 1.5), 2), row - 10, color, f"{label}: {value} ({share})"))
        chart.labels.append(Label(label_w + w + 6, y + row / 2, f"{value} · {share}", "start", "value"))
        chart.legend.append(LegendItem(color, label, value))
    return chart


def prob_bars(probs: Mapping[str, float], *, width: int = 300, row: int = 22) -> Chart:
    """Stance probabilities as small horizontal bars (incident detail page)."""
    order = ["assert", "refute", "report", "ask", "other"]
    keys = [k for k in order if k in probs] + sorted(k for k in probs if k not in order)
    height = 6 + row * max(1, len(keys))
    chart = Chart(width, height, "Stance probabilities",
                  "Stance probabilities: " + ", ".join(f"{k} {probs[k]:.0%}" for k in keys) if keys else "none")
    chart.empty = not keys
    label_w, plot_w = 60, width - 60 - 50
    for i, k in enumerate(keys):
        p = max(0.0, min(1.0, float(probs[k])))
        y = 3 + i * row
        chart.labels.append(Label(label_w - 6, y + row / 2 + 1, k, "end", "name"))
        chart.rects.append(Rect(label_w, y + 4, plot_w, row - 9, "#ececec", ""))
        if p > 0:
            chart.rects.append(Rect(label_w, y + 4, round(max(plot_w * p, 1), 2), row - 9,
                                    "#D55E00" if k == "assert" else "#0072B2", f"{k}: {p:.1%}"))
        chart.labels.append(Label(label_w + plot_w + 6, y + row / 2 + 1, f"{p:.0%}", "start", "value"))
    return chart


__all__ = ["ACTION_COLORS", "Chart", "FEEDBACK_COLORS", "STATUS_COLORS", "day_range", "hbars", "nice_max",
           "prob_bars", "stacked_daily"]
