"""Pictures of failed gradient checks, for the notebooks' check cells (public cases only).

When a check built by `grader.compare.gradient` fails on a public case, the check cell shows,
below the text report, three heatmaps side by side: the reference's gradient ("expected"), the
student's ("yours") and their difference ("yours - expected"). Every element the check holds
against the student is outlined in all three: |yours - expected| > atol + rtol |expected| with
the check's own tolerance (`grader.compare.elements_off`, the elements a message counts as
"N of M elements off"). A 1-D gradient is drawn as one row, a 0-d one as one cell; of a gradient
with three or more axes, the 2-D slice over its last two axes with the most elements off is
drawn, and the title names it ("[1, :, :] of shape (2, 3, 4)").

Hidden cases are never drawn: the pipeline hands their outputs to no view (grader.pipeline,
PublicOutputs), and a hidden case's expected values must not reach a student in any form. The
terminal report, JSON and every other output stay text; only the notebook shows these.

Drawn with matplotlib (no pyplot: the figure is rendered to a PNG and closed with it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.channel import ProbeOutput
from grader.compare import elements_off
from grader.results import ProblemResult

OFF_EDGE = "black"  # the outline of an element off: visible on red, blue and white alike
MISSING = "#bbbbbb"  # a NaN (or a difference with an inf)
MAX_PICTURES = 4  # per check cell; the text report lists every failed check anyway
ANNOTATE_UP_TO = 30  # elements: at most this many in the slice, each cell shows its value
CELL_INCHES = 0.42
FONT_SIZE = 8.0
PANELS = ("expected", "yours", "yours - expected")


@dataclass(frozen=True)
class GradientFailure:
    """One failed gradient check of a public case: the reference's and the student's gradient
    (same shape) and the check's tolerance."""

    check: str
    expected: np.ndarray
    got: np.ndarray
    rtol: float
    atol: float

    @property
    def off(self) -> np.ndarray:
        return elements_off(self.got, self.expected, self.rtol, self.atol)


def failed_gradients(
    case: Any,
    problem: ProblemResult,
    output: ProbeOutput | None,
    expected: dict[str, np.ndarray] | None,
) -> list[GradientFailure]:
    """The gradient checks of `case` (a grader.cases.Case) that failed in `problem`, in the order
    the problem declares them, with the arrays they compared; those that cannot be drawn element
    by element (no output, a wrong shape, nothing beyond tolerance) are left out."""
    if output is None or expected is None:
        return []
    failed = {check.name for check in problem.checks if not check.passed}
    failures = []
    for check in case.module.CHECKS:
        tolerance = check.extra.get("gradient")
        if tolerance is None or check.name not in failed:
            continue
        name = check.outputs[0]
        if name not in output.arrays or name not in expected:
            continue
        got, wanted = np.asarray(output.arrays[name]), np.asarray(expected[name])
        if got.shape != wanted.shape or got.size == 0:
            continue
        failure = GradientFailure(check.name, wanted, got, tolerance["rtol"], tolerance["atol"])
        if failure.off.any():
            failures.append(failure)
    return failures


def plane(off: np.ndarray) -> tuple[int, ...]:
    """The index over the leading axes (all but the last two) of the 2-D slice with the most
    elements off, the first such one on a tie; () for an array of at most two axes."""
    if off.ndim <= 2:
        return ()
    counts = off.reshape(-1, *off.shape[-2:]).sum(axis=(1, 2))
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(counts)), off.shape[:-2]))


def as_matrix(array: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """What is drawn of `array`: the slice at `index` (3-D and more), one row (1-D), one cell
    (0-d), or the array itself (2-D)."""
    if array.ndim > 2:
        return array[index]
    return array.reshape(1, -1) if array.ndim < 2 else array


def slice_label(shape: tuple[int, ...], index: tuple[int, ...]) -> str:
    """ "[1, :, :] of shape (2, 3, 4)" for a slice, "shape (3, 4)" for a whole array."""
    if not index:
        return f"shape {shape}"
    positions = ", ".join([*(str(i) for i in index), ":", ":"])
    return f"[{positions}] of shape {shape}"


def _limit(*arrays: np.ndarray) -> float:
    """The largest finite magnitude among `arrays` (a colour scale symmetric about 0), or 1."""
    values = np.concatenate([np.abs(a[np.isfinite(a)]).ravel() for a in arrays])
    top = float(values.max()) if values.size else 0.0
    return top if top > 0 else 1.0


def figure(failure: GradientFailure):
    """A matplotlib Figure: the three panels (PANELS) of one failed gradient check, each titled,
    the check named above them with the slice shown and how many elements are off. Every outline
    of an element off is a Rectangle with the gid `off-<row>-<column>` (in the slice drawn)."""
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    off = failure.off
    index = plane(off)
    expected = as_matrix(failure.expected.astype(np.float64), index)
    got = as_matrix(failure.got.astype(np.float64), index)
    marked = as_matrix(off, index)
    with np.errstate(invalid="ignore"):
        difference = got - expected
    rows, columns = expected.shape
    panel_width = min(max(CELL_INCHES * columns, 2.2), 6.0)
    panel_height = min(max(CELL_INCHES * rows, 0.6), 6.0)
    fig = Figure(figsize=(3 * (panel_width + 0.9), panel_height + 1.3))
    axes = fig.subplots(1, 3)
    value_limit = _limit(expected, got)
    scales = (value_limit, value_limit, _limit(difference))
    annotate = expected.size <= ANNOTATE_UP_TO
    line_width = 2.0 if max(rows, columns) <= 20 else 1.0
    panels = zip(axes, PANELS, (expected, got, difference), scales, strict=True)
    for ax, title, data, scale in panels:
        image = ax.imshow(
            np.ma.masked_invalid(data),
            cmap=_colour_map(),
            norm=Normalize(-scale, scale),
            aspect="equal" if max(rows, columns) <= 40 else "auto",
            interpolation="nearest",
        )
        ax.set_title(title, fontsize=FONT_SIZE + 1)
        ax.set_gid(title)
        ax.tick_params(labelsize=FONT_SIZE - 1)
        ax.set_xticks(range(columns) if columns <= 20 else [])
        ax.set_yticks(range(rows) if rows <= 20 else [])
        fig.colorbar(image, ax=ax, shrink=0.8).ax.tick_params(labelsize=FONT_SIZE - 1)
        for row, column in zip(*np.nonzero(marked), strict=True):
            outline = Rectangle(
                (column - 0.5, row - 0.5),
                1,
                1,
                fill=False,
                edgecolor=OFF_EDGE,
                linewidth=line_width,
            )
            outline.set_gid(f"off-{row}-{column}")
            ax.add_patch(outline)
        if annotate:
            for (row, column), value in np.ndenumerate(data):
                strong = np.isfinite(value) and abs(value) > 0.6 * scale
                ax.text(
                    column,
                    row,
                    f"{value + 0.0:.3g}",  # + 0.0: -0.0 reads as 0
                    ha="center",
                    va="center",
                    fontsize=FONT_SIZE - 1.5,
                    color="white" if strong else "black",
                )
    shown = int(marked.sum())
    count = f"{shown} of {marked.size} elements off"
    if index:
        count += f" here, {int(off.sum())} of {off.size} in all; the slice with the most"
    fig.suptitle(
        f"{failure.check}: {slice_label(failure.expected.shape, index)} ({count})\n"
        f"outlined: |yours - expected| > {failure.atol:g} + {failure.rtol:g} |expected|",
        fontsize=FONT_SIZE + 1,
    )
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.08, top=0.78, wspace=0.35)
    return fig


def _colour_map():
    from matplotlib import colormaps

    return colormaps["RdBu_r"].with_extremes(bad=MISSING)


def png(failure: GradientFailure) -> bytes:
    """`figure(failure)` as PNG bytes."""
    buffer = io.BytesIO()
    figure(failure).savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def show(failures: list[GradientFailure], limit: int = MAX_PICTURES) -> None:
    """Show the pictures of the first `limit` failures in the notebook (PNG images, through
    IPython's display), saying so when there are more; outside IPython, do nothing."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is None or not failures:
        return
    for failure in failures[:limit]:
        display(Image(data=png(failure), format="png"))
    if len(failures) > limit:
        print(f"(pictures of the first {limit} of {len(failures)} failed gradient checks)")
