"""The class report: what a batch's submissions got wrong, check by check, in pictures.

    python -m grader batch SUBMISSIONS/ --out gradebook.csv --report OUT/ [--anonymous]
    python -m grader report gradebook.results.json --out OUT/ [--anonymous]

`write(results, out)` writes into `out`:
  report.html   one self-contained page (grader.class_report.page): score distributions, per
                problem the pass rate of each check (hardest first) and its most common failure
                messages grouped by meaning, the problems left unimplemented, the submissions that
                timed out, crashed or were killed, and the checks every submission fails or passes;
  checks.csv    one row per (problem, check): attempted, passed, pass rate, not implemented, no
                result, most common failure message (a pattern, numbers taken out), flag;
  *.png         the page's pictures (grader.class_report.plots), for slides.

The steps, in order: name the submissions (names), count (analysis), draw (plots), write the files
(here and page). It is a view of the RunResults: no score is recomputed and nothing is graded.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from grader.class_report.analysis import ClassSummary, summarise
from grader.class_report.names import KeyFileError, Names, report_key
from grader.results import RunResult

CHECKS_COLUMNS = (
    "problem",
    "check",
    "attempted",
    "passed",
    "pass_rate",
    "not_implemented",
    "no_result",
    "most_common_message",
    "flag",
)

__all__ = ["CHECKS_COLUMNS", "KeyFileError", "Written", "report_key", "write"]


@dataclass(frozen=True)
class Written:
    page: Path
    checks: Path
    pictures: tuple[Path, ...]
    summary: ClassSummary


def checks_rows(summary: ClassSummary) -> list[dict[str, str]]:
    """checks.csv's rows: problems in batch order, checks hardest first (as on the page)."""
    rows = []
    for problem in summary.problems:
        for check in problem.checks:
            rate = check.pass_rate
            rows.append(
                {
                    "problem": problem.id,
                    "check": check.check,
                    "attempted": str(check.attempted),
                    "passed": str(check.passed),
                    "pass_rate": "" if rate is None else f"{rate:.4f}",
                    "not_implemented": str(check.not_implemented),
                    "no_result": str(check.no_result),
                    "most_common_message": check.top_message,
                    "flag": check.flag,
                }
            )
    return rows


def write(
    results: list[RunResult],
    out: Path,
    problem_ids: list[str] | None = None,
    key: bytes | None = None,
) -> Written:
    """Write the report of `results` (batch order) into the folder `out`; with a `key`
    (names.load_key), submissions appear under their pseudonyms only."""
    from grader.class_report import page, plots  # matplotlib: only when a report is drawn

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = Names([result.submission for result in results], key)
    summary = summarise(results, problem_ids, names)
    pictures = plots.draw_all(summary)
    written = []
    for name, png in pictures.items():
        (out / name).write_bytes(png)
        written.append(out / name)
    checks = out / "checks.csv"
    with open(checks, "w", newline="") as handle:
        writer = csv.DictWriter(handle, CHECKS_COLUMNS)
        writer.writeheader()
        writer.writerows(checks_rows(summary))
    report = out / "report.html"
    report.write_text(page.render(summary, pictures), encoding="utf-8")
    return Written(report, checks, tuple(written), summary)
