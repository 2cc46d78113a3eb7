"""Results as data: one record per check, per problem and per run. Scoring is a pure function.

Reports (terminal, JSON, Gradescope, gradebook) read these records and never recompute a score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Problem statuses, from best to worst.
PASSED = "passed"
PARTIAL = "partial"
FAILED = "failed"
NOT_IMPLEMENTED = "not_implemented"
ERROR = "error"  # the probe process crashed, timed out, or reported nothing usable


@dataclass(frozen=True)
class CheckResult:
    """One check of one problem: did it pass, and what the student should read if not."""

    name: str
    passed: bool
    message: str = ""
    weight: float = 1.0
    not_implemented: str = ""  # the stub the check ran into, e.g. "LogSumExp.compute in needle/..."
    # How the short report shows it (grader.problems.base.Check): kind, series and place in it.
    kind: str = "value"
    group: str = ""
    member: str = ""

    def __repr__(self) -> str:
        return f"CheckResult(name={self.name!r}, passed={self.passed})"


@dataclass(frozen=True)
class ProblemResult:
    """A problem's checks and its score; `error` is set when the probe produced no usable result."""

    id: str
    title: str
    max_score: float
    checks: tuple[CheckResult, ...] = ()
    error: str = ""
    seconds: float = 0.0
    # This problem's own regions that still hold only the skeleton's raise (read from the source).
    stubs: tuple[str, ...] = ()
    # The regions of other problems this one runs (Problem.needs) that are still stubs.
    prerequisites: tuple[str, ...] = ()
    hint: str = ""  # the problem's hint (Problem.hint), shown when it is not passed

    @property
    def score(self) -> float:
        return problem_score(self.max_score, self.checks, self.error)

    @property
    def to_implement(self) -> tuple[str, ...]:
        """The stubs still raising NotImplementedError: this problem's own (all of them, in the
        order the problem declares them), then those of other problems it needs (all of them),
        then any other its checks ran into."""
        seen: dict[str, None] = dict.fromkeys(self.stubs + self.prerequisites)
        for check in self.checks:
            if check.not_implemented:
                seen.setdefault(check.not_implemented, None)
        return tuple(seen)

    @property
    def status(self) -> str:
        return problem_status(self)

    def __repr__(self) -> str:
        return (
            f"ProblemResult(id={self.id!r}, score={self.score:g}, max_score={self.max_score:g}, "
            f"status={self.status!r})"
        )


@dataclass(frozen=True)
class RunResult:
    """All graded problems of one submission."""

    submission: str
    problems: tuple[ProblemResult, ...] = ()
    hidden: bool = False
    seed: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def score(self) -> float:
        return round(sum(problem.score for problem in self.problems), 2)

    @property
    def max_score(self) -> float:
        return round(sum(problem.max_score for problem in self.problems), 2)

    def __repr__(self) -> str:
        mode = f", hidden=True, seed={self.seed}" if self.hidden else ""
        return (
            f"RunResult(submission={self.submission!r}, score={self.score:g}, "
            f"max_score={self.max_score:g}, problems={len(self.problems)}{mode})"
        )


def problem_score(max_score: float, checks: tuple[CheckResult, ...], error: str = "") -> float:
    """Points earned: the weighted fraction of passed checks, rounded to 0.01; 0 after an error."""
    total = sum(check.weight for check in checks)
    if error or total <= 0:
        return 0.0
    earned = sum(check.weight for check in checks if check.passed)
    return round(max_score * earned / total, 2)


def problem_status(problem: ProblemResult) -> str:
    if problem.error:
        return ERROR
    score = problem.score
    if score >= problem.max_score:
        return PASSED
    if score > 0:
        return PARTIAL
    return NOT_IMPLEMENTED if problem.to_implement else FAILED
