"""The homework notebooks' set-up and check cells.

`load_needle(LIBRARY, KIT_ROOT)`, called by the set-up cell, imports needle from the folder that
cell chose; when that fails it names the line to fix and hands back placeholders instead.

`check("logsumexp")`, a check cell, grades ONE problem of the submission the notebook imported
needle from, in the same isolated way as `make grade` (a fresh process; the notebook's own,
possibly modified, needle is never trusted), prints that problem's report and ends with the line
`Score for <id>: <score>/<max_score>`.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

from grader import REPO_ROOT, platforms, report
from grader.results import ProblemResult


def kit_root(start: Path | None = None) -> Path:
    """The notebooks' rule (their set-up cell): the first folder at or above the current one that
    holds both grader/ and notebooks/; else the folder this grader lives in."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "grader").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return REPO_ROOT


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


def check(problem_id: str, submission: str | Path | None = None) -> ProblemResult | None:
    """Grade one problem and print its report; where grading cannot run (native Windows), print
    the one sentence saying so and where to run instead, and return None."""
    reason = platforms.unsupported()
    if reason:
        print(reason)
        return None
    from grader import pipeline  # after the platform check: it needs what native Windows lacks

    folder = Path(submission) if submission is not None else default_submission()
    result = pipeline.grade(folder, [problem_id], jobs=1)
    problem = result.problems[0]
    print(report.problem_text(problem))
    print(f"Score for {problem.id}: {problem.score:g}/{problem.max_score:g}")
    return problem


class NeedleNotImported:
    """Stands in for needle when importing it failed: using it raises the reason."""

    def __init__(self, reason: str):
        self.reason = reason

    def __getattr__(self, name: str):
        raise ImportError(f"needle could not be imported: {self.reason}")


def import_failure(error: Exception, library: Path, root: Path) -> str:
    """'fix <file>:<line> first (<what went wrong>)', for the line of needle in `library` that
    failed, its file relative to the kit root `root`."""
    if isinstance(error, SyntaxError):  # also IndentationError
        file, line = error.filename, error.lineno
        what = f"{type(error).__name__}: {error.msg} in `{(error.text or '').strip()}`"
    else:
        frames = traceback.extract_tb(error.__traceback__)
        in_library = [frame for frame in frames if frame.filename.startswith(str(library))]
        deepest = (in_library or frames)[-1]  # the last line of needle that ran
        file, line = deepest.filename, deepest.lineno
        what = f"{type(error).__name__}: {error}"
    return f"fix {os.path.relpath(file, root)}:{line} first ({what})"


def load_needle(library: Path, root: Path) -> tuple[Any, Any, Any, Any, Any]:
    """(ndl, data, init, nn, optim): needle and its packages, imported from `library` (already
    first on sys.path), printing where from. If the import fails, prints the file:line to fix
    and returns, for all five, a placeholder that raises that one ImportError when used."""
    try:
        import needle as ndl
        from needle import data, init, nn, optim

        print(f"needle imported from {Path(ndl.__file__).parent}")
        return ndl, data, init, nn, optim
    except Exception as error:
        reason = import_failure(error, library, root)
        print(
            f"needle could not be imported: {reason}, then re-run this cell; until then the cells "
            "that use needle stop with this message, and the check cells still grade your work."
        )
        placeholder = NeedleNotImported(reason)
        return placeholder, placeholder, placeholder, placeholder, placeholder
