"""The homework notebooks' set-up and check cells.

`load_needle(LIBRARY, KIT_ROOT)`, called by the set-up cell, imports needle from the folder that
cell chose; when that fails it names the line to fix and hands back placeholders instead.

`start_autoreload()`, also in the set-up cell, turns on `%autoreload 2` without a word when the
set-up cell runs again.

`with demonstration():` wraps the body of a demonstration cell: a function still to implement
stops that cell with one line naming it instead of a traceback, and the cell counts as run, so
JupyterLab's Run All (which stops at the first cell that raises) reaches every check cell.

`check("logsumexp")`, a check cell, grades ONE problem of the submission the notebook imported
needle from, in the same isolated way as `make grade` (a fresh process; the notebook's own,
possibly modified, needle is never trusted), prints that problem's report and ends with the line
`Score for <id>: <score>/<max_score>`. Between the two, when a gradient check failed on the
public case, a picture of the expected and the student's gradient and their difference, the
elements off outlined (grader.gradient_view); never for hidden cases.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
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


def check(
    problem_id: str,
    submission: str | Path | None = None,
    *,
    hidden: bool = False,
    seed: int | None = None,
) -> ProblemResult | None:
    """Grade one problem and print its report, then, for a public case, show a picture of each
    failed gradient check (grader.gradient_view) before the score line. With `hidden`
    (instructors: the references are computed from solutions/), grade the hidden case of `seed`
    instead: text only, no expected values. Where grading cannot run (native Windows), print the
    one sentence saying so and where to run instead, and return None."""
    reason = platforms.unsupported()
    if reason:
        print(reason)
        return None
    # After the platform check: grading needs what native Windows lacks.
    from grader import gradient_view, pipeline

    judged: dict[str, tuple] = {}  # problem id -> (case, outputs, references): public cases only

    def keep(case, output, expected) -> None:
        judged[case.problem.id] = (case, output, expected)

    folder = Path(submission) if submission is not None else default_submission()
    result = pipeline.grade(
        folder, [problem_id], hidden=hidden, seed=seed, jobs=1, public_outputs=keep
    )
    problem = result.problems[0]
    print(report.problem_text(problem))
    if problem.id in judged and not result.hidden:
        case, output, expected = judged[problem.id]
        gradient_view.show(gradient_view.failed_gradients(case, problem, output, expected))
    print(f"Score for {problem.id}: {problem.score:g}/{problem.max_score:g}")
    return problem


class NeedleImportError(ImportError):
    """Raised by the placeholder of a needle that could not be imported."""

    def __init__(self, reason: str):
        super().__init__(f"needle could not be imported: {reason}")
        self.reason = reason


class NeedleNotImported:
    """Stands in for needle when importing it failed: using it raises the reason."""

    def __init__(self, reason: str):
        self.reason = reason

    def __getattr__(self, name: str):
        raise NeedleImportError(self.reason)


def start_autoreload() -> None:
    """`%load_ext autoreload` then `%autoreload 2` (every changed module is reloaded before a cell
    runs), silent when the extension is already loaded: the magic itself would print "The
    autoreload extension is already loaded" each time the set-up cell runs again."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:  # a plain Python process (a script, a test): nothing to reload
        return
    shell.extension_manager.load_extension("autoreload")  # returns "already loaded", prints nothing
    shell.run_line_magic("autoreload", "2")


# The message the stripper puts in every stub: "<Class.method> in <path inside the library>".
STUB_MESSAGE = re.compile(r"^[\w.]+ in (?:needle|apps)/[\w/]+\.py$")


def _innermost(error: BaseException) -> str:
    """`Class.method (file:line)` of the last frame the error went through, the file relative to
    the kit root."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "a function"
    code = tb.tb_frame.f_code
    name = getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11 and newer
    try:
        file = os.path.relpath(code.co_filename, kit_root())
    except ValueError:  # another drive (Windows)
        file = code.co_filename
    return f"{name} ({file}:{tb.tb_lineno})"


def not_implemented_yet(error: NotImplementedError) -> str:
    """What to implement, as a stub names itself ("LogSumExp.compute in hw/needle/ops/...") or,
    for any other NotImplementedError, the function that raised it with its file and line."""
    message = str(error)
    if STUB_MESSAGE.match(message):
        name, _, file = message.partition(" in ")
        library = os.path.relpath(default_submission(), kit_root())
        return f"{name} in {Path(library, file).as_posix()}"
    return _innermost(error)


@contextmanager
def demonstration() -> Iterator[None]:
    """The body of a demonstration cell: when it needs a function that is not implemented yet
    (it raises NotImplementedError) or a needle that could not be imported, print one line that
    says so and end the cell there without an error; any other error shows as usual. Figures
    the body opened before it stopped are closed, so no empty plot is shown."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    figures_before = set(pyplot.get_fignums()) if pyplot is not None else set()
    try:
        yield
    except NotImplementedError as error:
        _close_figures_since(figures_before)
        print(
            f"Not implemented yet: {not_implemented_yet(error)}. This demonstration runs once it "
            "is; then re-run this cell."
        )
    except NeedleImportError as error:
        _close_figures_since(figures_before)
        print(f"{error}, then re-run the set-up cell; this demonstration needs needle.")


def _close_figures_since(figures_before: set[int]) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        for number in set(pyplot.get_fignums()) - figures_before:
            pyplot.close(number)


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
            f"needle could not be imported: {reason}, then re-run this cell; until then the "
            "demonstrations that use needle say so, and the check cells still grade your work."
        )
        placeholder = NeedleNotImported(reason)
        return placeholder, placeholder, placeholder, placeholder, placeholder
