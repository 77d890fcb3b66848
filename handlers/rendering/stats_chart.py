"""The `/release stats` chart: releases per week stacked by outcome, with the change
failure rate as a line, drawn by matplotlib's Agg backend (no display) as a PNG."""

from __future__ import annotations

import io
import math

from models.release.statistics import Statistics

WIDTH_INCHES, HEIGHT_INCHES, DPI = 9.0, 4.5, 100  # 900 × 450 pixels
WIDTH, HEIGHT = int(WIDTH_INCHES * DPI), int(HEIGHT_INCHES * DPI)

# outcome (Week attribute), legend label, colour
SERIES = (
    ("released", "Released", "#2eb67d"),
    ("rolled_back", "Rolled back", "#e01e5a"),
    ("no_go", "No-go", "#ecb22e"),
    ("cancelled", "Cancelled", "#a0a0a0"),
)
LINE_COLOUR = "#1d1c1d"


def render_png(stats: Statistics, title: str) -> bytes:
    # Imported here: matplotlib takes a while to load, and only this needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    # A Figure of its own, not pyplot: no global state, safe in worker threads.
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    bars = figure.add_subplot()
    weeks = stats.weeks
    positions = list(range(len(weeks)))
    bottom = [0] * len(weeks)
    for attribute, label, colour in SERIES:
        heights = [getattr(w, attribute) for w in weeks]
        bars.bar(positions, heights, bottom=bottom, label=label, color=colour, width=0.7)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    bars.set_ylabel("Releases per week")
    bars.yaxis.set_major_locator(MaxNLocator(integer=True))
    bars.set_ylim(0, max([*bottom, 1]) * 1.05)
    step = max(1, math.ceil(len(weeks) / 13))  # at most 13 labels, however long the period
    bars.set_xticks(positions[::step], [f"{w.start:%b %d}" for w in weeks][::step])
    bars.set_xlabel("Week starting (UTC)")
    bars.set_title(title)

    rate = figure.axes[0].twinx()
    rates = [
        w.change_failure_rate * 100 if w.change_failure_rate is not None else math.nan
        for w in weeks
    ]
    rate.plot(
        positions,
        rates,
        color=LINE_COLOUR,
        marker="o",
        linewidth=1.5,
        label="Change failure rate",
    )
    rate.set_ylim(0, 105)
    rate.set_ylabel("Change failure rate")
    rate.yaxis.set_major_formatter(PercentFormatter())
    handles, labels = bars.get_legend_handles_labels()
    line_handles, line_labels = rate.get_legend_handles_labels()
    # Under the axes, clear of the bars and the line.
    bars.legend(
        handles + line_handles,
        labels + line_labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        fontsize="small",
        ncol=5,
        frameon=False,
    )
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
