"""Grading inside a Gradescope container: the runtime half of the autograder bundle.

`run_autograder` (grader/autograder_template) calls `container_main()` for every submission, as
root, in /autograder/source (the bundle's files; how they are built: grader.autograder). It finds
the needle/ package in /autograder/submission (grader.upload), grades it on the public cases and
on the bundle's hidden cases (references precomputed into answers/hidden.npz, root-only) in one
pipeline run, and writes /autograder/results/results.json: one Gradescope test per problem and
case kind, "<problem> (public)" visible at once and "<problem> (hidden)" after the due date, each
worth its share of the problem's points (bundle.json's hidden_share). Whatever goes wrong, a
results.json is written (score 0 and a message).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
import traceback
from pathlib import Path

from grader import pipeline, report, upload
from grader import problems as registry
from grader.references import load
from grader.results import RunResult

ANSWERS_DIR = "answers"
ANSWERS_FILE = f"{ANSWERS_DIR}/hidden.npz"
SEED_KEY = "__seed__"
MANIFEST = "bundle.json"
MAX_JOBS = 4
PUBLIC_VISIBILITY = "visible"
HIDDEN_VISIBILITY = "after_due_date"


def split_points(result: RunResult, share: float) -> RunResult:
    """The same results with every problem worth `share` of its points."""
    problems = tuple(
        dataclasses.replace(problem, max_score=round(problem.max_score * share, 2))
        for problem in result.problems
    )
    return dataclasses.replace(result, problems=problems)


def grade_both(submission: Path, seed: int, answers: Path, jobs: int):
    """(public RunResult, hidden RunResult): every case's probe runs in one pool of `jobs`."""
    suites = [pipeline.public_suite(), pipeline.answers_suite(seed, answers)]
    public, hidden = pipeline.grade_suites(submission, suites, jobs)
    return public, hidden


def gradescope_results(public: RunResult, hidden: RunResult, note: str) -> dict:
    """results.json: per problem a public test (visible) and a hidden one (after the due date)."""
    public_tests = report.gradescope(public)["tests"]
    hidden_tests = report.gradescope(hidden)["tests"]
    tests = []
    for problem, public_test, hidden_test in zip(
        public.problems, public_tests, hidden_tests, strict=True
    ):
        for test, kind, visibility in (
            (public_test, "public", PUBLIC_VISIBILITY),
            (hidden_test, "hidden", HIDDEN_VISIBILITY),
        ):
            test = {**test, "name": f"{problem.id} ({kind})", "visibility": visibility}
            test["number"] = str(len(tests) + 1)
            tests.append(test)
    output = (
        f"{note}\nPublic cases: {public.score:g}/{public.max_score:g} "
        f"(the same cases as `make grade`). Hidden cases: {hidden.max_score:g} more points, "
        "shown after the due date."
    )
    return {
        "score": round(public.score + hidden.score, 2),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def failure_results(message: str) -> dict:
    """results.json for a submission that could not be graded at all: score 0 and why."""
    total = sum(m.PROBLEM.points for m in registry.load_all())
    return {
        "score": 0,
        "output": message,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "submission",
                "score": 0,
                "max_score": total,
                "status": "failed",
                "output": message,
                "visibility": "visible",
            }
        ],
    }


def grade_container(root: Path, jobs: int) -> dict:
    """Grade root/submission with this bundle; the results.json payload."""
    source = Path(__file__).resolve().parent.parent
    manifest = json.loads((source / MANIFEST).read_text())
    answers = source / ANSWERS_FILE
    seed = int(load(answers)[SEED_KEY])
    with tempfile.TemporaryDirectory(prefix="needlework-submission-") as scratch:
        try:
            located = upload.find_submission(root / "submission", Path(scratch))
        except upload.SubmissionNotFound as error:
            return failure_results(str(error))
        public, hidden = grade_both(located.folder, seed, answers, jobs)
    share = float(manifest["hidden_share"])
    public, hidden = split_points(public, 1 - share), split_points(hidden, share)
    return gradescope_results(public, hidden, located.note)


def write_results(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2))
    temporary.replace(path)


def default_jobs() -> int:
    """Probe processes in parallel: the CPUs this process may use, at least 2 (the time limits are
    wall-clock, so a hanging probe occupies a slot without using a CPU), at most MAX_JOBS (a
    container may see all of its host's CPUs but not have their memory)."""
    if hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))
    else:  # macOS, when an instructor tries the bundle locally
        cpus = os.cpu_count() or 1
    return min(MAX_JOBS, max(2, cpus))


def container_main() -> int:
    """run_autograder's Python side: always writes results.json, whatever goes wrong."""
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    jobs = int(os.environ.get("AUTOGRADER_JOBS", "0") or 0) or default_jobs()
    started = time.monotonic()
    try:
        payload = grade_container(root, jobs)
    except Exception as error:  # any grader-side failure still gives the student a result
        traceback.print_exc()  # to Gradescope's stdout log, which only staff see
        payload = failure_results(
            f"The autograder failed while grading ({type(error).__name__}: {error}). "
            "This is not a judgement of your code; please tell the course staff."
        )
    payload["execution_time"] = round(time.monotonic() - started)
    write_results(root / "results" / "results.json", payload)
    print(f"autograder: score {payload['score']}, {payload['execution_time']} s")
    return 0
