"""The Gatys tab's loss plot: an SVG drawn with matplotlib, so its words stay text on the page.

Each weighted term of eq. 7 is a curve on a log scale, named in the legend below it; terms
that are exactly zero (the content loss of a copy-of-content start) have no place on a log scale
and are left out rather than drawn at a floor; each switch to a finer coarse-to-fine level is
marked, with why the loss jumps there; a step that L-BFGS takes back (it raised the loss more than
RISE_TAKEN_BACK times) is marked as such, so that its spike does not read as a fault.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from nst.gatys.lbfgs import RISE_TAKEN_BACK

PLOT_INCHES = (3.6, 2.9)  # 259 x 209 pt: narrow, so that its text stays readable when a phone shrinks it
FONT_PT = 10
PLOT_MAX_WIDTH_PX = 380  # the widest the page shows it (app.py's CSS): FONT_PT * 380 / 259, about 15 px text

# How the engine's weighted terms (nst.gatys.Losses.weighted) are named on the plot; a term not
# listed is shown by its own name.
LABELS = {"content": "α·content", "style": "β·style", "tv": "TV", "total": "total"}
COLOURS = {"α·content": "#1f77b4", "β·style": "#d62728", "TV": "#2ca02c", "total": "#222222",
           "β·style, region 1": "#d62728", "β·style, region 2": "#9467bd", "β·style, region 3": "#ff7f0e"}


def label(term: str) -> str:
    """A weighted term's name on the plot; "style 2" (a region's style, nst.regions) is "β·style, region 2"."""
    if term.startswith("style "):
        return f"β·style, region {term.split()[1]}"
    return LABELS.get(term, term)


@dataclass
class LossHistory:
    """The weighted terms of every step so far, as the engine reports them, and the steps where
    a finer level began."""

    steps: list[int] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)  # {label: value at each step}
    level_starts: list[tuple[int, tuple[int, int]]] = field(default_factory=list)  # (first step, (H, W)) of each level after the first
    size: tuple[int, int] | None = None  # (H, W) of the last step added
    planned_steps: int | None = None  # the run's steps: the x axis spans them from the first point on
    takes_back: bool = True  # the optimiser takes back a step that raised the loss too far (L-BFGS; Adam does not)
    taken_back: list[tuple[int, float]] = field(default_factory=list)  # (step, total) of each step taken back

    def add(self, record) -> None:
        """Append one nst.gatys.StepRecord: its weighted terms and its total."""
        if self.size is not None and record.size != self.size:
            self.level_starts.append((record.step, record.size))
        elif self.takes_back and self.steps and record.total > RISE_TAKEN_BACK * self.terms["total"][-1]:
            self.taken_back.append((record.step, record.total))
        self.size = record.size
        self.steps.append(record.step)
        for name, value in {**record.weighted, "total": record.total}.items():
            self.terms.setdefault(label(name), []).append(value)


def loss_svg(history: LossHistory) -> str:
    """The plot as an inline <svg> element (fonts as text, so the page can be read and searched).

    One drawing serves every screen: the page scales it to the column's width, at most
    PLOT_MAX_WIDTH_PX (app.py's CSS), so its FONT_PT text reads at about 12 px in a phone's
    column (300 px) and 15 px on a desktop."""
    figure = Figure(figsize=PLOT_INCHES, dpi=100)
    axes = figure.add_subplot()
    axes.set_yscale("log")
    axes.set_xlabel("step", fontsize=FONT_PT)
    axes.set_ylabel("weighted loss", fontsize=FONT_PT)
    axes.tick_params(labelsize=FONT_PT)
    axes.grid(True, which="major", alpha=0.3)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    left_out = []
    for name, series in history.terms.items():
        points = [(step, value) for step, value in zip(history.steps, series) if value > 0]
        if not points:
            left_out.append(name)
            continue
        xs, ys = zip(*points)
        axes.plot(xs, ys, color=COLOURS.get(name), label=name, linewidth=2 if name == "total" else 1.4,
                  marker="o" if len(xs) == 1 else None, markersize=4)  # one point is no line: step 0 shows as a dot
    if history.taken_back:
        axes.plot(*zip(*history.taken_back), linestyle="none", marker="x", color="#d62728", markersize=7, label="taken back")
    for step, (height, width) in history.level_starts:
        axes.axvline(step, color="#888888", linestyle="--", linewidth=1)
        axes.annotate(f"{width}×{height} px →", (step, 0.04), xycoords=("data", "axes fraction"), ha="right",
                      xytext=(-4, 0), textcoords="offset points", fontsize=FONT_PT - 1, color="#555555")  # fmt: skip
    if history.planned_steps:  # a fixed x axis: one point is not a range of -0.05 to 0.05, and the run's end is in view
        axes.set_xlim(0, max(history.planned_steps, 1))
    values = [value for series in history.terms.values() for value in series if value > 0]
    if values:  # whole decades, at least one: a single value would get a sliver of axis with its labels repeated
        low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
        axes.set_ylim(10.0**low, 10.0 ** max(high, low + 1))
        axes.yaxis.set_major_locator(LogLocator(numticks=5))
        axes.yaxis.set_major_formatter(FuncFormatter(power_of_ten))
        axes.yaxis.set_minor_formatter(NullFormatter())
    names = [line.get_label() for line in axes.lines]
    columns = min(3 if max(map(len, names), default=0) <= 10 else 2, len(names))  # "β·style, region 2" takes half the width
    rows = -(-len(names) // max(columns, 1))
    if names:
        figure.legend(loc="lower center", ncol=columns, frameon=False, fontsize=FONT_PT, handlelength=1.5,
                      columnspacing=1.2, borderaxespad=0.2)  # fmt: skip
    notes = []
    if history.level_starts:
        notes.append("dashed: a finer level starts; the image is upscaled there, so the loss jumps, then falls")
    if history.taken_back:
        notes.append(f"×: a step that raised the loss over {RISE_TAKEN_BACK:g}× was taken back")
    if left_out:
        notes.append(f"not drawn: {', '.join(left_out)} (exactly zero so far)")
    if notes:
        figure.suptitle("; ".join(notes), fontsize=FONT_PT - 1.5, color="#555555", wrap=True)
    em = FONT_PT / 72 / PLOT_INCHES[1]  # the font's height, as a share of the figure's
    figure.subplots_adjust(left=0.17, right=0.96, top=1 - (4.2 if notes else 1.0) * em, bottom=(3.4 + 1.5 * rows) * em)
    return figure_svg(figure)


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float, _position=None) -> str:
    """A decade's tick label, 10⁵, in plain text: matplotlib's own ($10^{5}$) goes through its
    TeX parser, which was a third of the plot's time, and the plot is drawn for every frame."""
    return "10" + str(round(math.log10(value))).translate(SUPERSCRIPTS)


def figure_svg(figure: Figure) -> str:
    """A figure as an inline <svg> element, its words kept as <text> (not glyph outlines)."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
