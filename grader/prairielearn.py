"""`python -m grader prairielearn`: grade inside a PrairieLearn external-grading container.

PrairieLearn mounts a grading job under /grade (`--root DIR` or NEEDLEWORK_GRADE_ROOT for a
simulated one) and runs the question's entrypoint, as root:

    /grade/student/             the student's files (here: a zip of hw/, or needle/ and apps/)
    /grade/serverFilesCourse/   the course's shared files: needlework/ is this grader, built by
                                `python -m grader prairielearn-build` (grader.prairielearn_build)
    /grade/data/data.json       the question's data (not used)
    /grade/results/             not created by PrairieLearn: results.json must be written here

The submission is found as on Gradescope (grader.upload: the shallowest needle/ package, or the .py
files of an uploaded zip, capped) and graded in one pipeline run on the public cases and, when this
grader sits in a built course folder with answers/hidden.npz (root-only), on its hidden cases, each
problem's points split between the two as bundle.json says. Student code runs in probe processes
under an unprivileged uid (grader.runner), so it can read neither the answers nor write results/.

results.json, PrairieLearn's format (its external grading docs): `gradable`, `score` in [0, 1]
(points earned / points possible), `message`, `output` (the `make grade` report), and `tests`, one
per problem and case kind, each with `name`, `description`, `points`, `max_points`, `message` (its
status in a few words) and `output` (that problem's report with every failed check, as on
Gradescope). Hidden tests never show expected values (the judge's messages for hidden cases).

Not gradable. An upload without a needle/ package (nothing to grade: PrairieLearn then counts no
attempt), and any failure of the grader itself, give `"gradable": false` with the reason in
`message` and `format_errors`, never a score of 0. Whatever happens, results.json is written:
strings are made valid UTF-8 without NUL (PrairieLearn stores them in PostgreSQL), the file is kept
under PrairieLearn's 1 MB by shortening the longest outputs, and run.sh writes one itself when
Python cannot start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from grader import report
from grader.results import NOT_IMPLEMENTED, PASSED, ProblemResult, RunResult

ROOT_ENV = "NEEDLEWORK_GRADE_ROOT"
DEFAULT_ROOT = Path("/grade")
SOURCE = Path(__file__).resolve().parent.parent  # the folder holding grader/ (and answers/)
MAX_BYTES = 1_000_000  # PrairieLearn's limit on results.json
HIDDEN_NOTE = "hidden cases never show expected values"


# ---------------------------------------------------------------- the view


def _status(problem: ProblemResult) -> str:
    """A test's message: the problem's status in a few words."""
    if problem.error:
        return f"could not be graded: {problem.error}"
    failed = sum(1 for check in problem.checks if not check.passed)
    if problem.status == PASSED:
        return f"all {len(problem.checks)} checks passed"
    if problem.status == NOT_IMPLEMENTED:
        return f"not implemented yet: {len(problem.to_implement)} function(s) to write"
    return f"{failed} of {len(problem.checks)} checks failed"


def _tests(result: RunResult, kind: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{problem.id} ({kind})",
            "description": problem.title,
            "points": problem.score,
            "max_points": problem.max_score,
            "message": _status(problem),
            "output": report.problem_text(problem, limit=None),
        }
        for problem in result.problems
    ]


def results(public: RunResult, hidden: RunResult | None = None, note: str = "") -> dict[str, Any]:
    """PrairieLearn's results.json for a graded submission: a pure view of the RunResults."""
    runs = [public] if hidden is None else [public, hidden]
    earned = sum(run.score for run in runs)
    possible = sum(run.max_score for run in runs)
    tests = _tests(public, "public")
    summary = f"Public cases: {public.score:g}/{public.max_score:g} (the cases of `make grade`)."
    if hidden is not None:
        tests += _tests(hidden, "hidden")
        summary += f" Hidden cases: {hidden.score:g}/{hidden.max_score:g} ({HIDDEN_NOTE})."
    return {
        "gradable": True,
        "score": round(min(1.0, max(0.0, earned / possible)), 4) if possible > 0 else 0.0,
        "message": f"{note} {summary}".strip(),
        "output": report.terminal(public),
        "tests": tests,
    }


def not_gradable(message: str) -> dict[str, Any]:
    """results.json for a submission that could not be graded: no score, the reason."""
    return {"gradable": False, "message": message, "format_errors": [message], "tests": []}


def _valid_text(text: str) -> str:
    """Valid UTF-8 without NUL: lone surrogates (from file names that are not UTF-8) become
    U+FFFD, NUL becomes \\x00."""
    try:  # a file name's undecodable bytes come back as they were, then as U+FFFD each
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace").replace("\x00", "\\x00")


def sanitize(value: Any) -> Any:
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, dict):
        return {_valid_text(str(key)): sanitize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(item) for item in value]
    return value


def encoded(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, indent=1, ensure_ascii=False).encode("utf-8")


def fit(payload: dict[str, Any], limit: int = MAX_BYTES) -> dict[str, Any]:
    """The payload, valid UTF-8, with the longest `output` texts shortened until it is under
    `limit` bytes."""
    payload = sanitize(payload)
    while len(encoded(payload)) > limit:
        holders = [payload, *payload.get("tests", [])]
        longest = max(holders, key=lambda holder: len(holder.get("output", "")))
        text = longest.get("output", "")
        if len(text) < 200:  # nothing long left to cut: give up on detail, keep the verdict
            kept = ("gradable", "score", "message")
            payload = {key: payload[key] for key in kept if key in payload}
            payload["message"] = payload.get("message", "")[:10_000]
            break
        longest["output"] = text[: len(text) // 2] + "\n... (cut: results must stay under 1 MB)"
    return payload


# ---------------------------------------------------------------- in the container


def grade_job(root: Path, jobs: int) -> dict[str, Any]:
    """Grade root/student with this grader; the results.json payload."""
    from grader import gradescope, pipeline, upload
    from grader.references import load

    answers = SOURCE / gradescope.ANSWERS_FILE
    manifest_path = SOURCE / gradescope.MANIFEST
    with tempfile.TemporaryDirectory(prefix="needlework-submission-") as scratch:
        try:
            located = upload.find_submission(root / "student", Path(scratch))
        except upload.SubmissionNotFound as error:
            return not_gradable(str(error))
        if not manifest_path.is_file():  # not a built course folder: public cases only
            public = pipeline.grade(located.folder, jobs=jobs)
            return results(public, None, located.note)
        manifest = json.loads(manifest_path.read_text())
        seed = int(load(answers)[gradescope.SEED_KEY])
        public, hidden = gradescope.grade_both(located.folder, seed, answers, jobs)
    share = float(manifest["hidden_share"])
    public = gradescope.split_points(public, 1 - share)
    hidden = gradescope.split_points(hidden, share)
    return results(public, hidden, located.note)


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """Write results.json atomically, creating results/ (PrairieLearn does not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(encoded(fit(payload)))
    temporary.replace(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"the grading job's folder (default: ${ROOT_ENV}, else /grade)",
    )
    parser.add_argument(
        "--jobs", type=int, default=0, help="probe processes in parallel (default: 2 to 4)"
    )


def run(args: argparse.Namespace) -> int:
    """Always writes root/results/results.json, whatever goes wrong; exits 0 once it is written."""
    root = args.root or Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    started = time.monotonic()
    try:
        from grader import gradescope

        jobs = args.jobs or gradescope.default_jobs()
        payload = grade_job(root, jobs)
    except Exception as error:  # a grader failure is not the student's: not gradable
        traceback.print_exc()  # to the grading job's log, which course staff see
        payload = not_gradable(
            f"The grader failed ({type(error).__name__}: {error}). This is not a judgement of "
            "your code and costs no attempt; please tell the course staff."
        )
    payload["execution_time"] = round(time.monotonic() - started, 1)
    try:
        write_results(root / "results" / "results.json", payload)
    except OSError as error:
        print(f"prairielearn: cannot write {root}/results/results.json: {error}", file=sys.stderr)
        return 1
    score = payload.get("score", "not gradable")
    print(f"prairielearn: score {score}, {payload['execution_time']} s")
    return 0
