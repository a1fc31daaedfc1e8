"""The report's plots, drawn with matplotlib (imported here only, when a report is
made): each face's emotions and valence over the source's own time, the markers
drawn and named. The object API with the Agg canvas, not pyplot: no GUI backend
is chosen, and it runs in any thread (a recording is finished off the GUI thread).
"""

import io

import numpy as np

from model.runtime.emotions import EMOTION_COLORS, EMOTIONS

MAX_POINTS = 400          # time slices per face: finer than a printed page shows
DPI = 110
NEGATIVE, POSITIVE = "angry", "happy"   # the valence line's colours below and above 0
# ticks of a time axis in minutes: round steps of a clock, in seconds
MINUTE_STEPS = (15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200)


def rgb(emotion: str) -> tuple:
    """The window's colour of an emotion (app.core.draw keeps BGR for OpenCV), as 0..1 RGB."""
    b, g, r = EMOTION_COLORS[emotion]
    return (r / 255, g / 255, b / 255)


def hex_color(emotion: str) -> str:
    b, g, r = EMOTION_COLORS[emotion]
    return f"#{r:02x}{g:02x}{b:02x}"


def plotting() -> bool:
    """Whether matplotlib is there (an install or a bundle without it gets a report
    without plots, which says so)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def time_axis(axis, start: float, end: float):
    """Seconds, or m:ss past two minutes, labelled as such."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    axis.set_xlim(start, end)
    if end - start > 120:
        step = next((s for s in MINUTE_STEPS if (end - start) / s <= 10), MINUTE_STEPS[-1])
        axis.xaxis.set_major_locator(MultipleLocator(step))
        axis.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _: f"{int(v // 60)}:{int(v % 60):02d}"))
        axis.set_xlabel("time in the source (minutes:seconds)")
    else:
        axis.set_xlabel("time in the source (seconds)")


def face_chart(times, probs, valence, span: tuple, markers=(), bins: int = MAX_POINTS,
               title: str = "") -> bytes:
    """One face's timeline as PNG bytes: the seven probabilities stacked (gaps where
    the face was out of view) over its valence line (-1..1); `markers`: (time, name)
    pairs, dashed lines across both, named above."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from app.report.data import binned

    start, end = span
    fig = Figure(figsize=(9.0, 4.2), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.5])
    x, p = binned(times, probs, start, end, bins)
    _stacked(top, x, p)
    ok = np.isfinite(valence)
    _, v = binned(times[ok], valence[ok], start, end, bins)
    _valence(bottom, x, v[:, 0])
    for axis in (top, bottom):
        axis.grid(axis="x", color="#dddddd", linewidth=0.6)
        for t, _ in markers:
            axis.axvline(t, color="black", linestyle="--", linewidth=0.9)
    for t, name in markers:
        top.annotate(name, (t, 1.0), xytext=(2, 2), textcoords="offset points",
                     fontsize=8, rotation=30, ha="left", va="bottom",
                     annotation_clip=False, parse_math=False)
    time_axis(bottom, start, end)
    fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", ncol=7,
               fontsize=8, frameon=False, handlelength=1.2, columnspacing=1.0)
    if title:
        top.set_title(title, loc="left", fontsize=10, parse_math=False,
                      pad=18 if markers else 6)
    return _png(fig)


def _stacked(axis, x, p):
    """The seven probabilities as stacked bands; NaN slices (no face) left blank."""
    below = np.zeros(len(x))
    for k, emotion in enumerate(EMOTIONS):
        above = below + p[:, k]
        axis.fill_between(x, below, above, color=rgb(emotion), label=emotion,
                          linewidth=0, step="mid")
        below = above
    axis.set_ylim(0, 1)
    axis.set_ylabel("probability")
    axis.tick_params(labelbottom=False)


def _valence(axis, x, v):
    axis.axhline(0, color="#888888", linewidth=0.8)
    axis.fill_between(x, 0, v, where=v >= 0, color=rgb(POSITIVE), alpha=0.35,
                      linewidth=0, step="mid")
    axis.fill_between(x, 0, v, where=v < 0, color=rgb(NEGATIVE), alpha=0.35,
                      linewidth=0, step="mid")
    axis.plot(x, v, color="#333333", linewidth=1.1, drawstyle="steps-mid")
    axis.set_ylim(-1, 1)
    axis.set_yticks([-1, 0, 1])
    axis.set_ylabel("valence")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()
