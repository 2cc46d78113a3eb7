"""Check cells in the homework notebooks: `grader.notebook.check("logsumexp")`.

Grades ONE problem of the submission the notebook imported needle from, in the same isolated way
as `make grade` (a fresh process; the notebook's own, possibly modified, needle is never trusted),
prints that problem's report and ends with the line `Score for <id>: <score>/<max_score>`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grader import judge, report
from grader.results import ProblemResult


def default_submission() -> Path:
    """The folder holding the needle package already imported (hw/ or solutions/), else hw/."""
    module = sys.modules.get("needle")
    location = getattr(module, "__file__", None) if module is not None else None
    if location:
        return Path(location).resolve().parent.parent
    return judge.REPO_ROOT / "hw"


def check(problem_id: str, submission: str | Path | None = None) -> ProblemResult:
    folder = Path(submission) if submission is not None else default_submission()
    result = judge.grade(folder, [problem_id], jobs=1)
    problem = result.problems[0]
    print(report.problem_text(problem))
    print(f"Score for {problem.id}: {problem.score:g}/{problem.max_score:g}")
    return problem
