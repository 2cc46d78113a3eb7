"""Render results: a terminal report, a JSON object, Gradescope's results.json, a gradebook row.

Every renderer reads the result records; none recomputes a score.
"""

from __future__ import annotations

from typing import Any

from grader.problems.base import KINDS
from grader.results import ERROR, NOT_IMPLEMENTED, PASSED, CheckResult, ProblemResult, RunResult

# The short report (terminal, notebook) shows at most this many failure lines per problem.
MAX_FAILURES_SHOWN = 6
# Failures that name a cause come first, symptoms repeated over steps last (in the order of KINDS).
KIND_ORDER = {kind: rank for rank, kind in enumerate(KINDS)}


def _points(value: float) -> str:
    return f"{value:g}"


def implement_lines(stubs: tuple[str, ...], width: int = 100, verb: str = "implement") -> list[str]:
    """ "implement in FILE:" then the names still raising NotImplementedError, wrapped."""
    by_file: dict[str, list[str]] = {}
    for stub in stubs:
        name, _, path = stub.partition(" in ")
        by_file.setdefault(path, []).append(name)
    lines = []
    for path, names in by_file.items():
        lines.append(f"    {verb} in {path}:" if path else f"    {verb}:")
        line = "       "
        for index, name in enumerate(names):
            piece = f" {name}" + ("," if index < len(names) - 1 else "")
            if len(line) + len(piece) > width and line.strip():
                lines.append(line)
                line = "       "
            line += piece
        lines.append(line)
    return lines


def failure_lines(checks: tuple[CheckResult, ...], limit: int | None) -> list[str]:
    """ "FAIL name: message" per failed check, those naming a cause first.

    With a `limit` (the short report), the failed members of a series fold into one line that
    names the first of them, and at most `limit` lines are shown; without one, every failed check
    gets its own line."""
    failures = [c for c in checks if not c.passed and not c.not_implemented]
    failures.sort(key=lambda check: KIND_ORDER.get(check.kind, 1))  # stable: declared order
    if limit is None:
        return [f"    FAIL {check.name}: {check.message}" for check in failures]
    entries: list[list[CheckResult]] = []
    by_group: dict[str, list[CheckResult]] = {}
    for check in failures:
        if check.group in by_group:
            by_group[check.group].append(check)
            continue
        entries.append([check])
        if check.group:
            by_group[check.group] = entries[-1]
    lines = []
    for entry in entries[:limit]:
        first = entry[0]
        if not first.group:
            lines.append(f"    FAIL {first.name}: {first.message}")
            continue
        members = sum(1 for check in checks if check.group == first.group)
        lines.append(
            f"    FAIL {first.group}: {len(entry)} of {members} failed; first {first.member}: "
            f"{first.message}"
        )
    hidden = sum(len(entry) for entry in entries[limit:])
    if hidden:
        lines.append(f"    ... and {hidden} more failed checks")
    return lines


def problem_lines(problem: ProblemResult, limit: int | None = MAX_FAILURES_SHOWN) -> list[str]:
    """The lines one problem contributes to the report (`limit`: see failure_lines)."""
    head = f"{problem.id:<14} {_points(problem.score):>6} / {_points(problem.max_score):<4}"
    status = problem.status
    lines = [f"{head} {status}"]
    if status == ERROR:
        lines.append(f"    error: {problem.error}")
        if problem.hint:
            lines.append(f"    hint: {problem.hint}")
        return lines
    own = problem.stubs
    others = tuple(stub for stub in problem.to_implement if stub not in own)
    lines.extend(implement_lines(own))
    lines.extend(implement_lines(others, verb="also needs (graded in other problems)"))
    lines.extend(failure_lines(problem.checks, limit))
    if problem.hint and status != PASSED:
        lines.append(f"    hint: {problem.hint}")
    return lines


def terminal(result: RunResult) -> str:
    mode = f"hidden cases, seed {result.seed}" if result.hidden else "public cases"
    lines = [f"Grading {result.submission} ({mode})", ""]
    for problem in result.problems:
        lines.extend(problem_lines(problem))
    lines.extend(["", f"Total: {_points(result.score)}/{_points(result.max_score)}"])
    return "\n".join(lines)


def problem_text(problem: ProblemResult, limit: int | None = MAX_FAILURES_SHOWN) -> str:
    """One problem's report: a few lines (notebook cells), or every failed check (`limit` None,
    Gradescope's per-test output)."""
    return "\n".join(problem_lines(problem, limit))


def as_json(result: RunResult) -> dict[str, Any]:
    return {
        "score": result.score,
        "max_score": result.max_score,
        "problems": [
            {
                "id": problem.id,
                "score": problem.score,
                "max_score": problem.max_score,
                "status": problem.status,
                "error": problem.error,
                "to_implement": list(problem.to_implement),
                "hint": problem.hint,
                "checks": [
                    {"name": check.name, "passed": check.passed, "message": check.message}
                    for check in problem.checks
                ],
            }
            for problem in result.problems
        ],
    }


def gradescope(result: RunResult) -> dict[str, Any]:
    """Gradescope's results.json: one test per problem, visible to the student."""
    tests = []
    for number, problem in enumerate(result.problems, start=1):
        tests.append(
            {
                "name": f"{problem.id}: {problem.title}",
                "number": str(number),
                "score": problem.score,
                "max_score": problem.max_score,
                "status": "passed" if problem.status == PASSED else "failed",
                "output": problem_text(problem, limit=None),
                "visibility": "visible",
            }
        )
    not_done = sum(1 for p in result.problems if p.status == NOT_IMPLEMENTED)
    summary = f"Total: {_points(result.score)}/{_points(result.max_score)}"
    if not_done:
        summary += f" ({not_done} problem(s) not implemented yet)"
    return {
        "score": result.score,
        "output": summary,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
