"""The report's pictures, drawn with matplotlib's Agg renderer (no display needed), as PNG bytes.

  scores_total.png       histogram of the total scores
  scores_by_problem.png  per problem, each submission's score as a share of the problem's points
                         (one dot per submission, jittered; a box for the quartiles)
  status_by_problem.png  per problem, how many submissions passed, got partial credit, failed,
                         left it unimplemented, or got no result
  checks_<id>.png        per problem, the pass rate of each check, hardest at the top

Figures are made with matplotlib.figure.Figure directly (not pyplot): nothing global is touched,
so drawing is safe from any thread and leaves no open windows behind. Margins are fixed (in
inches) rather than computed by a layout engine, which would draw each figure twice.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # before anything of matplotlib draws; a no-op when already Agg

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from grader.class_report.analysis import STATUSES, ClassSummary, ProblemSummary  # noqa: E402

BAR = "#2f6db5"  # the pass-rate and histogram bars (the browser test looks for this colour)
STATUS_COLOURS = {
    "passed": "#3a9a4a",
    "partial": "#a6cf5f",
    "failed": "#d9534f",
    "not_implemented": "#b0b0b0",
    "error": "#6c3483",
}
STATUS_LABELS = {
    "passed": "full marks",
    "partial": "partial credit",
    "failed": "no points",
    "not_implemented": "not implemented",
    "error": "no result (timed out, crashed, ...)",
}
DPI = 100
MAX_LABEL = 64  # characters of a check name shown next to its bar


def _axes(figure: Figure, left: float, bottom: float, top: float, right: float = 0.3):
    """One axes with fixed margins in inches (a layout engine would draw every figure twice)."""
    width, height = figure.get_size_inches()
    return figure.add_axes(
        (left / width, bottom / height, 1 - (left + right) / width, 1 - (bottom + top) / height)
    )


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _short(text: str, limit: int = MAX_LABEL) -> str:
    """`text`, or its start and end around "...": the end tells the steps of a series apart."""
    if len(text) <= limit:
        return text
    tail = limit // 3
    return text[: limit - tail - 3].rstrip() + "..." + text[-tail:]


def file_name(problem_id: str) -> str:
    """checks_<id>.png, with anything but letters, digits, _ and - in the id replaced."""
    return f"checks_{re.sub(r'[^A-Za-z0-9_-]', '_', problem_id)}.png"


def scores_total(summary: ClassSummary) -> bytes:
    figure = Figure(figsize=(7, 3.2))
    axes = _axes(figure, left=0.9, bottom=0.6, top=0.4)
    top = summary.max_total or max(summary.totals, default=0) or 1
    axes.hist(summary.totals, bins=20, range=(0, top), color=BAR, edgecolor="white")
    axes.set_xlim(0, top)
    axes.set_xlabel(f"total score (of {top:g})")
    axes.set_ylabel("submissions")
    axes.set_title(f"Total scores, {len(summary.totals)} submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def scores_by_problem(summary: ClassSummary) -> bytes:
    problems = list(summary.problems)
    figure = Figure(figsize=(7, 0.4 * len(problems) + 1.1))
    axes = _axes(figure, left=1.3, bottom=0.6, top=0.4)
    rows = np.arange(len(problems))[::-1]  # the first problem at the top
    rng = np.random.default_rng(0)  # fixed jitter: the same picture every time
    shares = [
        np.asarray(p.scores, float) / p.max_score if p.max_score else np.zeros(len(p.scores))
        for p in problems
    ]
    for row, values in zip(rows, shares, strict=True):
        jitter = rng.uniform(-0.18, 0.18, size=len(values))
        axes.scatter(values, row + jitter, s=9, color=BAR, alpha=0.55, linewidths=0)
    if problems:
        axes.boxplot(
            shares,
            positions=rows,
            orientation="horizontal",
            widths=0.6,
            showfliers=False,
            medianprops={"color": "black"},
        )
    axes.set_yticks(rows, [p.id for p in problems])
    axes.set_xlim(-0.03, 1.03)
    axes.set_xlabel("score as a share of the problem's points")
    axes.set_title("Scores per problem (one dot per submission)")
    return _png(figure)


def status_by_problem(summary: ClassSummary) -> bytes:
    problems = list(summary.problems)
    figure = Figure(figsize=(7, 0.4 * len(problems) + 1.7))
    axes = _axes(figure, left=1.3, bottom=1.2, top=0.4)
    rows = np.arange(len(problems))[::-1]
    left = np.zeros(len(problems))
    for status in STATUSES:
        counts = np.array([p.statuses.get(status, 0) for p in problems], float)
        axes.barh(
            rows,
            counts,
            left=left,
            color=STATUS_COLOURS[status],
            label=STATUS_LABELS[status],
            height=0.7,
        )
        left += counts
    axes.set_yticks(rows, [p.id for p in problems])
    axes.set_xlim(0, max(len(summary.totals), 1))
    axes.set_xlabel("submissions")
    axes.set_title("Outcome per problem")
    legend_at = -0.6 / (figure.get_figheight() - 1.6)  # below the x label, in axes units
    axes.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, legend_at),
        ncols=3,
        fontsize="small",
        frameon=False,
    )
    return _png(figure)


def check_pass_rates(problem: ProblemSummary) -> bytes:
    """Bars of pass rate per check, hardest at the top; checks nobody attempted get no bar and
    say so. The names are drawn as text, not tick labels (a tick costs several artists)."""
    checks = list(problem.checks)
    figure = Figure(figsize=(10, 0.24 * len(checks) + 1.0))
    axes = _axes(figure, left=3.9, right=0.9, bottom=0.6, top=0.4)
    rows = np.arange(len(checks))[::-1]
    rates = np.array([c.pass_rate if c.pass_rate is not None else 0.0 for c in checks])
    axes.barh(rows, rates, color=BAR, height=0.7)
    for row, check in zip(rows, checks, strict=True):
        axes.text(-0.01, row, _short(check.check), ha="right", va="center", fontsize=8)
        shown = f"{check.passed}/{check.attempted}" if check.attempted else "not attempted"
        axes.text(1.01, row, shown, ha="left", va="center", fontsize=8)
    axes.set_yticks([])
    axes.set_ylim(-0.6, len(checks) - 0.4)
    axes.set_xlim(0, 1)
    axes.set_xlabel("pass rate (among submissions that ran the check)")
    axes.set_title(f"{problem.id}: pass rate per check, hardest first")
    return _png(figure)


def draw_all(summary: ClassSummary) -> dict[str, bytes]:
    """{file name: PNG bytes} of every picture, in the order the page shows them."""
    pictures = {
        "scores_total.png": scores_total(summary),
        "scores_by_problem.png": scores_by_problem(summary),
        "status_by_problem.png": status_by_problem(summary),
    }
    for problem in summary.problems:
        if problem.checks:
            pictures[file_name(problem.id)] = check_pass_rates(problem)
    return pictures
