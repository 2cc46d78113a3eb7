"""The trusted side's verdicts: a probe's outputs, compared with the references, become results.

Never imports student code. `judge_problem` turns one case's run (grader.runner.RunOutcome) and its
reference outputs into a ProblemResult: each check evaluated (grader.compare), or, when the probe
produced nothing usable, one student-facing text saying why (`failure_text`). Every text a student
reads about a run is written here, once.
"""

from __future__ import annotations

import signal

import numpy as np

from grader.cases import Case
from grader.channel import ProbeOutput, StepError
from grader.compare import Verdict
from grader.problems.base import Check, ErrorHint, explain_error
from grader.regions import parse_source
from grader.results import CheckResult, ProblemResult
from grader.runner import DEFAULT_LIMITS, RunOutcome
from grader.submission import Submission, definitions

# What a signal that ended a probe most likely means, for the student.
SIGNAL_HINTS = {
    "SIGXCPU": " (CPU time limit)",
    "SIGXFSZ": " (file size limit)",
    "SIGSEGV": " (crash)",
}


def signal_hint(name: str) -> str:
    """What is known about a signal that ended a probe: SIGKILL comes from outside (the memory
    limit is one possible cause, another process the other)."""
    if name == "SIGKILL":
        limit = DEFAULT_LIMITS["memory_bytes"] / 1024**3
        return (
            f" (stopped from outside: the memory limit of {limit:g} GB is one possible cause, "
            "another process killing it another)"
        )
    return SIGNAL_HINTS.get(name, "")


def failure_text(outcome: RunOutcome, submission: Submission) -> str:
    """Why a run produced no usable output, for the student."""
    if outcome.missing:
        return f"missing file {outcome.missing}"
    if outcome.broken:
        return outcome.broken
    if outcome.timeout:
        if outcome.stopped is None:
            return f"did not finish within {outcome.timeout:g} s (time limit)"
        where = stopped_where(submission, *outcome.stopped)
        return (
            f"did not finish within {outcome.timeout:g} s: stopped {where}; "
            "is there a loop that never ends?"
        )
    if outcome.malformed:
        return f"reported a malformed result ({outcome.malformed})"
    code = outcome.returncode
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else ""
        return f"the grading process was killed by {name or -code}{signal_hint(name)}"
    text = f"the grading process exited (code {code}) without reporting a result"
    if code == 0:
        text += "; does your code call exit() or os._exit()?"
    tail = outcome.stderr_tail
    return f"{text}: {tail[:200]}" if tail else text


def stopped_where(submission: Submission, path: str, line: int, function: str) -> str:
    """ "in Class.method (path:line)" for where a probe was stopped, the qualified name read from
    the submission's file (`function` alone when that file does not say more)."""
    if function == "<module>":
        return f"while importing {path} ({path}:{line})"
    name = function
    file = submission.files.get(path)
    try:
        if file is not None:
            tree = parse_source(file.read_bytes(), filename=path)
            enclosing = [
                dotted for first, last, dotted in definitions(tree) if first <= line <= last
            ]
            if enclosing and enclosing[-1].rsplit(".", 1)[-1] == function:
                name = enclosing[-1]
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    return f"in {name} ({path}:{line})"


def step_error(errors: dict[str, StepError], output: str) -> StepError | None:
    """The exception behind a missing output: its step's, else the probe's or the import's."""
    parts = output.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    for key in (*prefixes, "__probe__", "__import__"):
        if key in errors:
            return errors[key]
    return None


def evaluate(
    check: Check,
    got: ProbeOutput,
    expected: dict[str, np.ndarray],
    reveal: bool,
    hints: tuple[ErrorHint, ...] = (),
):
    """One CheckResult from the student's output and the reference's; `hints` are the problem's
    own ErrorHints for the exceptions its code typically raises."""

    def result(passed: bool, message: str = "", stub: str = "") -> CheckResult:
        return CheckResult(
            check.name,
            passed,
            message,
            check.weight,
            stub,
            kind=check.kind,
            group=check.group,
            member=check.member,
        )

    for name in check.outputs:
        if name in got.arrays:
            continue
        error = step_error(got.errors, name)
        if error is None:
            return result(False, f"no result for {name}")
        if error.not_implemented:
            stub = error.message or error.where
            return result(False, f"not implemented: {error.describe()}", stub)
        return result(
            False, f"raised {explain_error(error.type, error.message, error.where, hints)}"
        )
    absent = [name for name in check.outputs if name not in expected]
    if absent:
        return result(False, f"grader error: no reference for {absent[0]}")
    try:
        check.judge(got.arrays, expected, reveal)
    except Verdict as verdict:
        return result(False, str(verdict))
    except Exception as error:  # a comparison that cannot even run (e.g. wrong dtype) fails
        return result(False, f"could not compare: {type(error).__name__}: {error}")
    return result(True)


def judge_problem(
    case: Case,
    submission: Submission,
    outcome: RunOutcome,
    reference: dict[str, np.ndarray] | None,
    reveal: bool,
    reference_problem: str = "",
    stubs: tuple[str, ...] = (),
    prerequisites: tuple[str, ...] = (),
) -> ProblemResult:
    problem = case.problem
    base = {
        "id": problem.id,
        "title": problem.title,
        "max_score": problem.points,
        "stubs": stubs,
        "prerequisites": prerequisites,
        "hint": problem.hint,
    }
    if reference is None:
        return ProblemResult(**base, error=reference_problem or "no reference outputs")
    if outcome.output is None:
        failure = failure_text(outcome, submission)
        return ProblemResult(**base, error=failure, seconds=outcome.seconds)
    checks = tuple(
        evaluate(check, outcome.output, reference, reveal, problem.error_hints)
        for check in case.module.CHECKS
    )
    return ProblemResult(**base, checks=checks, seconds=outcome.seconds)
