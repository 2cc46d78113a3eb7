"""Check cells in the homework notebooks: `grader.notebook.check("logsumexp")`.

Grades ONE problem of the submission the notebook imported needle from, in the same isolated way
as `make grade` (a fresh process; the notebook's own, possibly modified, needle is never trusted),
prints that problem's report and ends with the line `Score for <id>: <score>/<max_score>`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grader import judge, report
from grader.results import ProblemResult


def kit_root(start: Path | None = None) -> Path:
    """The notebooks' rule (their set-up cell): the first folder at or above the current one that
    holds both grader/ and notebooks/; else the folder this grader lives in."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "grader").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return judge.REPO_ROOT


def default_submission() -> Path:
    """The folder holding the needle package already imported; when none is (the set-up cell's
    import failed), the folder the set-up cell chose: solutions/ with NEEDLEWORK_SOLUTIONS=1,
    else hw/, under the kit root."""
    module = sys.modules.get("needle")
    location = getattr(module, "__file__", None) if module is not None else None
    if location:
        return Path(location).resolve().parent.parent
    library = "solutions" if os.environ.get("NEEDLEWORK_SOLUTIONS") == "1" else "hw"
    return kit_root() / library


def check(problem_id: str, submission: str | Path | None = None) -> ProblemResult:
    folder = Path(submission) if submission is not None else default_submission()
    result = judge.grade(folder, [problem_id], jobs=1)
    problem = result.problems[0]
    print(report.problem_text(problem))
    print(f"Score for {problem.id}: {problem.score:g}/{problem.max_score:g}")
    return problem
