"""A batch's RunResults read as a class: per check, per failure message, per problem, per run.

Everything here is counted from the result records; scores and statuses are the records' own
(`RunResult.score`, `ProblemResult.score`, `ProblemResult.status`), never recomputed.

Per (problem, check), over the N submissions of the batch:
  - attempted:        the check ran on the submission's own code (the problem's probe reported,
                      and the check did not run into a stub still raising NotImplementedError);
  - passed:           of those, the ones that passed;  pass rate = passed / attempted;
  - not implemented:  the check ran into a stub;
  - no result:        the problem's probe reported nothing usable (timed out, crashed, killed, ...)
                      or the run has no such check;  attempted + not implemented + no result = N.
  - flag:             "every attempt fails" (passed = 0 < attempted) or "every attempt passes"
                      (passed = attempted > 0): a check nobody gets right may be unclear or wrong,
                      one nobody gets wrong may test nothing.
A problem may declare two checks of the same name (one per parameter, say); the second is shown
as "name #2", and so on, in the order the problem declares them.

Failure groups: per problem, the failed checks (stubs and runs without result aside) grouped by
the pattern of their message (grader.class_report.messages.pattern); each group counts its
students and failed checks, names which checks it came from, and keeps up to three example
submissions and one message as the first example got it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

from grader.class_report.messages import GRADER_ERROR, failure_kind, pattern
from grader.class_report.names import Names
from grader.results import ERROR, FAILED, NOT_IMPLEMENTED, PARTIAL, PASSED, RunResult

EXAMPLES = 3  # example submissions kept per failure group
STATUSES = (PASSED, PARTIAL, FAILED, NOT_IMPLEMENTED, ERROR)
ALL_FAIL = "every attempt fails"
ALL_PASS = "every attempt passes"


@dataclass(frozen=True)
class CheckStats:
    problem: str
    check: str  # the check's name, "#k" added to the k-th check of a repeated name
    position: int  # in the problem's declared order
    attempted: int
    passed: int
    not_implemented: int
    no_result: int
    top_message: str = ""  # the most common pattern among its failures ("" when none failed)
    top_count: int = 0  # how many failures had it

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.attempted if self.attempted else None

    @property
    def flag(self) -> str:
        if not self.attempted:
            return ""
        if self.passed == 0:
            return ALL_FAIL
        return ALL_PASS if self.passed == self.attempted else ""


@dataclass(frozen=True)
class FailureGroup:
    problem: str
    pattern: str
    students: int
    failures: int  # failed checks with this pattern, over all its students
    checks: tuple[tuple[str, int], ...]  # (check, students), most students first
    examples: tuple[str, ...]  # up to EXAMPLES display names, in batch order
    example_message: str  # the first example's message, as it got it


@dataclass(frozen=True)
class NoResult:
    """A problem of a submission whose probe reported nothing usable (`problem` "" when the
    whole submission could not be graded)."""

    submission: str
    problem: str
    kind: str  # grader.class_report.messages: timed out, crashed, killed, ...
    message: str


@dataclass(frozen=True)
class ProblemSummary:
    id: str
    title: str
    max_score: float
    scores: tuple[float, ...]  # one per submission, batch order (0 when it has no such result)
    statuses: dict[str, int]  # status -> submissions ("error": no result), every status present
    checks: tuple[CheckStats, ...]  # hardest first; never attempted last; ties declared order
    groups: tuple[FailureGroup, ...]  # most students first
    unimplemented: tuple[str, ...]  # display names of submissions that left it unimplemented
    stubs: tuple[tuple[str, int], ...]  # (stub still raising, submissions), most first

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0


@dataclass(frozen=True)
class ClassSummary:
    submissions: tuple[str, ...]  # display names, batch order
    totals: tuple[float, ...]  # RunResult.score, batch order
    max_total: float
    hidden: bool
    problems: tuple[ProblemSummary, ...]
    no_results: tuple[NoResult, ...]

    @property
    def flagged(self) -> tuple[CheckStats, ...]:
        return tuple(check for p in self.problems for check in p.checks if check.flag)


def _hardest_first(check: CheckStats) -> tuple[bool, float, int]:
    """Lowest pass rate first, checks nobody attempted last, ties in declared order."""
    rate = check.pass_rate
    return (rate is None, 0.0 if rate is None else rate, check.position)


def _check_labels(names: list[str]) -> list[str]:
    """The checks' names, "#k" appended to the k-th of a repeated name (k >= 2)."""
    seen: Counter[str] = Counter()
    labels = []
    for name in names:
        seen[name] += 1
        labels.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return labels


def _problem(
    problem_id: str, results: list[RunResult], names: Names
) -> tuple[ProblemSummary, list[NoResult]]:
    entries = [next((p for p in result.problems if p.id == problem_id), None) for result in results]
    first = next((p for p in entries if p is not None), None)
    title = first.title if first else problem_id
    max_score = first.max_score if first else 0.0

    order: dict[str, int] = {}  # check label -> declared position (first seen)
    attempted: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    stubbed: Counter[str] = Counter()
    messages: dict[str, Counter[str]] = {}
    groups: dict[str, dict] = {}
    statuses = dict.fromkeys(STATUSES, 0)
    scores, unimplemented, no_results = [], [], []
    stubs: Counter[str] = Counter()
    for result, entry in zip(results, entries, strict=True):
        shown = names(result.submission)
        if entry is None:
            scores.append(0.0)
            statuses[ERROR] += 1
            continue
        scores.append(entry.score)
        statuses[entry.status] += 1
        if entry.error:
            message = names.scrub(entry.error, result.submission)
            no_results.append(NoResult(shown, problem_id, failure_kind(entry.error), message))
            continue
        if entry.status == NOT_IMPLEMENTED:
            unimplemented.append(shown)
        stubs.update(entry.to_implement)
        labels = _check_labels([check.name for check in entry.checks])
        for label, check in zip(labels, entry.checks, strict=True):
            order.setdefault(label, len(order))
            if check.not_implemented:
                stubbed[label] += 1
                continue
            attempted[label] += 1
            if check.passed:
                passed[label] += 1
                continue
            key = pattern(check.message)
            messages.setdefault(label, Counter())[key] += 1
            group = groups.setdefault(
                key, {"students": {}, "failures": 0, "checks": {}, "message": None}
            )
            group["students"].setdefault(shown, None)
            group["failures"] += 1
            group["checks"].setdefault(label, {})[shown] = None
            if group["message"] is None:
                group["message"] = names.scrub(check.message, result.submission)

    total = len(results)
    checks = []
    for label, position in order.items():
        top = messages.get(label, Counter()).most_common(1)
        checks.append(
            CheckStats(
                problem_id,
                label,
                position,
                attempted[label],
                passed[label],
                stubbed[label],
                total - attempted[label] - stubbed[label],
                top[0][0] if top else "",
                top[0][1] if top else 0,
            )
        )
    checks.sort(key=_hardest_first)
    failure_groups = [
        FailureGroup(
            problem_id,
            key,
            len(group["students"]),
            group["failures"],
            tuple(
                sorted(
                    ((label, len(who)) for label, who in group["checks"].items()),
                    key=lambda item: (-item[1], order[item[0]]),
                )
            ),
            tuple(list(group["students"])[:EXAMPLES]),
            group["message"],
        )
        for key, group in groups.items()
    ]
    failure_groups.sort(key=lambda g: (-g.students, -g.failures))  # stable: first seen first
    summary = ProblemSummary(
        problem_id,
        title,
        max_score,
        tuple(scores),
        statuses,
        tuple(checks),
        tuple(failure_groups),
        tuple(unimplemented),
        tuple(stubs.most_common()),
    )
    return summary, no_results


def summarise(
    results: list[RunResult], problem_ids: list[str] | None = None, names: Names | None = None
) -> ClassSummary:
    """The class view of `results` (one RunResult per submission, in the batch's order) over
    `problem_ids` (default: every problem any result has, in the order first met)."""
    names = names or Names([result.submission for result in results])
    if problem_ids is None:
        problem_ids = list(dict.fromkeys(p.id for result in results for p in result.problems))
    problems, no_results = [], []
    for result in results:  # a submission the grader could not grade at all (batch.grade_one)
        if not result.problems:
            for note in result.notes or ("no result",):
                message = names.scrub(note, result.submission)
                no_results.append(NoResult(names(result.submission), "", GRADER_ERROR, message))
    for problem_id in problem_ids:
        summary, missing = _problem(problem_id, results, names)
        problems.append(summary)
        no_results.extend(missing)
    return ClassSummary(
        tuple(names(result.submission) for result in results),
        tuple(result.score for result in results),
        max((result.max_score for result in results), default=0.0),
        any(result.hidden for result in results),
        tuple(problems),
        tuple(no_results),
    )
