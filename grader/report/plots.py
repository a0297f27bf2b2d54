"""The report's plots, drawn with matplotlib and returned as inline SVG text.

``svg.fonttype = 'none'`` keeps labels as text (selectable, any script the browser can show, no embedded
glyph outlines); nothing is fetched from the network. Korean labels: the SVG's text names a font stack
with CJK fonts (``TEXT_FONTS``), so the browser draws Hangul with whichever of them the reader has.
"""
from __future__ import annotations

import io
import re
import warnings
from functools import lru_cache

import matplotlib

from grader.i18n import ENGLISH, language, messages

matplotlib.use("Agg")  # no display: the report is written by a batch job
from matplotlib import font_manager  # noqa: E402  (after choosing the backend)
from matplotlib.figure import Figure  # noqa: E402

_, _n = messages("report")

STYLE = {"svg.fonttype": "none", "font.size": 9, "font.family": ["DejaVu Sans"],
         "axes.spines.top": False, "axes.spines.right": False}
BLUE, RED, GREY = "#3b6ea8", "#b23b3b", "#888888"
CJK_FONTS = ("Noto Sans CJK KR", "Malgun Gothic", "Apple SD Gothic Neo", "NanumGothic")
"""Fonts with Hangul on Linux (fonts-noto-cjk), Windows, macOS, and the usual Korean extra."""
TEXT_FONTS = ", ".join(f"'{name}'" for name in ("DejaVu Sans", *CJK_FONTS)) + ", sans-serif"
"""What the SVG's text asks the browser for: Latin and digits as measured here, Hangul from a CJK font."""
_FONT_FAMILY = re.compile(r"font-family: [^;\"]*")


@lru_cache(maxsize=1)
def _measuring_fonts() -> list[str]:
    """DejaVu Sans, then the CJK fonts matplotlib knows on this machine, to measure Hangul labels by.

    Without one, Hangul is measured as DejaVu's missing-glyph box (a little narrower than the real glyph):
    the browser still draws the real glyph from ``TEXT_FONTS``, only the margins are a little tighter.
    """
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in CJK_FONTS if name in known)]


def _style() -> dict:
    if language() == ENGLISH:
        return STYLE
    return {**STYLE, "font.family": _measuring_fonts()}


def _svg(fig: Figure) -> str:
    """The figure as an <svg> element (no XML prolog or DOCTYPE, so it can sit inside HTML)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_style()), warnings.catch_warnings():
        # "Glyph … missing from font(s) DejaVu Sans": expected for Hangul, which the browser draws (TEXT_FONTS)
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    if language() != ENGLISH:
        text = _FONT_FAMILY.sub(f"font-family: {TEXT_FONTS}", text)
    return text


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_style()):
        return Figure(figsize=(width, height))


def histogram(scores: list[float], max_score: float) -> str:
    """Scores of one assignment, one bar per point (bins of several points past 40)."""
    with matplotlib.rc_context(_style()):
        fig = _figure(4.2, 2.2)
        ax = fig.add_subplot()
        top = max(max_score, max(scores, default=0), 1)
        step = 1 if top <= 40 else top / 40
        bins = [i * step - 0.5 * step for i in range(int(top / step) + 2)]
        ax.hist(scores, bins=bins, color=BLUE, edgecolor="white", linewidth=0.5)
        ax.set_xlim(-step, top + step)
        ax.set_xlabel(_("score (maximum {max})", max=format(max_score, "g")))
        ax.set_ylabel(_("students"))
        ax.yaxis.get_major_locator().set_params(integer=True)
        return _svg(fig)


def grading_times(per_assignment: dict[str, list[float]]) -> str:
    """Seconds per unit, one box per assignment (the whiskers reach the 5th and 95th percentiles)."""
    with matplotlib.rc_context(_style()):
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
