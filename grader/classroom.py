"""`python -m grader classroom`: grade for GitHub Classroom, in the student's own repository.

The student release carries `.github/workflows/classroom.yml`. On every push it runs this command,
which grades the submission on the public cases (hidden cases need the instructor's seed and never
run in a repository the student owns), prints the same report as `make grade` into the job log,
and writes one step output per problem: `<problem id>=<base64 of a JSON runner result>`. The
workflow hands each of them to `classroom-resources/autograding-grading-reporter@v1` as the
environment variable `<PROBLEM ID>_RESULTS`, with the problem ids as its `runners`.

A runner result is the format the reporter reads (and the Classroom graders such as
autograding-command-grader@v1 write), version 1:

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": <problem points>,
     "tests": [{"name", "status", "score", "message", "line_no": 0, "filename": "", ...}]}

one test per check of the problem that carries points (a check of the skeleton's given code, worth
nothing, stays in the printed report only). Each test is worth its share of the problem's points,

    score_i = max_score * w_i / sum_j w_j    if check i passed, else 0,

(w the check weights), so the tests of a problem add up to its `make grade` score: the reporter's
"Points X/Y" annotation, which Classroom reads, is the sum of the tests' scores over all runners.
(The reporter's own table counts passed tests instead of adding scores, so for a problem whose
checks have unequal weights its table can differ from the points; the points are the grade.) A
problem whose probe produced no usable result is one test with status "error" and the reason.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from grader.results import ERROR, PASSED, ProblemResult, RunResult

FORMAT_VERSION = 1
# A step output is passed on as an environment variable (at most 128 KiB on Linux), so a runner
# result stays well below that: long messages are cut.
MAX_MESSAGE_CHARS = 1000


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def _test(name: str, status: str, score: float, message: str) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "score": score,
        "message": _cut(message),
        "test_code": "",
        "filename": "",
        "line_no": 0,
        "duration": 0,
    }


def runner_result(problem: ProblemResult) -> dict[str, Any]:
    """One problem as one Classroom runner: a test per check, worth its share of the points."""
    if problem.status == ERROR or not any(check.weight > 0 for check in problem.checks):
        reason = problem.error or "no check could be run"
        tests = [_test(f"{problem.id}: {problem.title}", "error", 0.0, reason)]
        return {
            "version": FORMAT_VERSION,
            "status": "error",
            "max_score": problem.max_score,
            "tests": tests,
        }
    # Checks worth no points (the skeleton's given code) stay in the report, not in the points.
    weighted = [check for check in problem.checks if check.weight > 0]
    total = sum(check.weight for check in weighted)
    tests = []
    for check in weighted:
        share = problem.max_score * check.weight / total if check.passed else 0.0
        message = check.message
        if not check.passed and not message and check.not_implemented:
            message = f"not implemented yet: {check.not_implemented}"
        tests.append(
            _test(check.name, "pass" if check.passed else "fail", round(share, 4), message)
        )
    # Rounding: the last passed test takes what makes the sum the problem's (rounded) score.
    passed = [test for test in tests if test["status"] == "pass"]
    if passed:
        others = sum(test["score"] for test in passed[:-1])
        passed[-1]["score"] = round(problem.score - others, 4)
    return {
        "version": FORMAT_VERSION,
        "status": "pass" if problem.status == PASSED else "fail",
        "max_score": problem.max_score,
        "tests": tests,
    }


def runner_results(result: RunResult) -> dict[str, dict[str, Any]]:
    """{problem id: runner result}, in the order of the report."""
    return {problem.id: runner_result(problem) for problem in result.problems}


def encode(payload: dict[str, Any]) -> str:
    """What the reporter decodes: base64 of the UTF-8 JSON text."""
    return base64.b64encode(json.dumps(payload).encode("utf-8")).decode("ascii")


def step_outputs(result: RunResult) -> str:
    """The lines appended to $GITHUB_OUTPUT: `<problem id>=<encoded runner result>`."""
    return "".join(f"{pid}={encode(payload)}\n" for pid, payload in runner_results(result).items())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--submission", type=Path, default=Path("hw"), help="folder holding needle/; default hw/"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="file the step outputs are appended to (default: $GITHUB_OUTPUT)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="problems graded in parallel")


def unavailable(submission: Path, message: str) -> RunResult:
    """Every problem at 0 with `message` as its error: what the reporter gets when nothing could
    be graded (so it still reports each problem, instead of failing on a missing output)."""
    from grader import problems as registry

    problems = tuple(
        ProblemResult(m.PROBLEM.id, m.PROBLEM.title, m.PROBLEM.points, error=message)
        for m in registry.load_all()
    )
    return RunResult(str(submission), problems)


def run(args: argparse.Namespace) -> int:
    output = args.output
    if output is None and os.environ.get("GITHUB_OUTPUT"):
        output = Path(os.environ["GITHUB_OUTPUT"])
    if output is None:
        print("classroom: no output file: give --output FILE or set GITHUB_OUTPUT", file=sys.stderr)
        return 2
    from grader import pipeline, report

    if not (args.submission / "needle").is_dir():
        message = f"{args.submission}/needle not found: the workflow grades the needle/ in hw/"
        print(f"classroom: {message}", file=sys.stderr)
        result = unavailable(args.submission, message)
    else:
        try:
            result = pipeline.grade(args.submission, jobs=args.jobs)
        except Exception as error:  # a grader failure still reports every problem, at 0
            message = f"the grader failed ({type(error).__name__}: {error}); tell the course staff"
            print(f"classroom: {message}", file=sys.stderr)
            result = unavailable(args.submission, message)
        else:
            print(report.terminal(result), flush=True)
    with open(output, "a", encoding="utf-8") as handle:
        handle.write(step_outputs(result))
    return 0
