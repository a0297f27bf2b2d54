"""The report's plots, drawn with matplotlib and returned as inline SVG text.

``svg.fonttype = 'none'`` keeps labels as text (selectable, any script the browser can show, no embedded
glyph outlines); nothing is fetched from the network.
"""
from __future__ import annotations

import io
import re
from gettext import gettext as _

import matplotlib

matplotlib.use("Agg")  # no display: the report is written by a batch job
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

STYLE = {"svg.fonttype": "none", "font.size": 9, "font.family": ["DejaVu Sans"],
         "axes.spines.top": False, "axes.spines.right": False}
BLUE, RED, GREY = "#3b6ea8", "#b23b3b", "#888888"


def _svg(fig: Figure) -> str:
    """The figure as an <svg> element (no XML prolog or DOCTYPE, so it can sit inside HTML)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height))


def histogram(scores: list[float], max_score: float) -> str:
    """Scores of one assignment, one bar per point (bins of several points past 40)."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(4.2, 2.2)
        ax = fig.add_subplot()
        top = max(max_score, max(scores, default=0), 1)
        step = 1 if top <= 40 else top / 40
        bins = [i * step - 0.5 * step for i in range(int(top / step) + 2)]
        ax.hist(scores, bins=bins, color=BLUE, edgecolor="white", linewidth=0.5)
        ax.set_xlim(-step, top + step)
        ax.set_xlabel(_("score (maximum %(max)s)") % {"max": f"{max_score:g}"})
        ax.set_ylabel(_("students"))
        ax.yaxis.get_major_locator().set_params(integer=True)
        return _svg(fig)


def grading_times(per_assignment: dict[str, list[float]]) -> str:
    """Seconds per unit, one box per assignment (the whiskers reach the 5th and 95th percentiles)."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(6.0, 2.4)
        ax = fig.add_subplot()
        labels = [task for task, values in per_assignment.items() if values]
        data = [per_assignment[task] for task in labels]
        if data:
            ax.boxplot(data, whis=(5, 95), showfliers=True, flierprops={"markersize": 2, "markeredgecolor": GREY})
            ax.set_xticks(range(1, len(labels) + 1), labels)
        ax.set_ylabel(_("seconds per student"))
        ax.set_ylim(bottom=0)
        return _svg(fig)
