"""`python -m grader grade`: grade one submission folder and report, problem by problem."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from grader import REPO_ROOT, pipeline, report, sandbox, submission
from grader.cases import fresh_seed
from grader.problems import PROBLEM_IDS

DEFAULT_SUBMISSION = REPO_ROOT / "hw"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--submission",
        type=Path,
        default=DEFAULT_SUBMISSION,
        help="folder holding needle/ (and apps/); default hw/",
    )
    parser.add_argument(
        "--problem",
        nargs="+",
        action="extend",
        choices=PROBLEM_IDS,
        metavar="ID",
        help=f"grade only these problems ({', '.join(PROBLEM_IDS)})",
    )
    parser.add_argument(
        "--hidden",
        action="store_true",
        help="instructors: hidden cases, references computed live from solutions/",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the hidden cases (with --hidden); without it a fresh one is drawn and "
        "printed on stderr",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--gradescope", type=Path, metavar="FILE", help="write results.json here")
    parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="write a JUnit XML report here (for CI)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="problems graded in parallel")


def run(args: argparse.Namespace) -> int:
    if args.seed is not None and not args.hidden:
        print("grade: --seed only makes sense with --hidden", file=sys.stderr)
        return 2
    if args.hidden and not (REPO_ROOT / "solutions" / "needle").is_dir():
        print("grade: --hidden needs solutions/ (instructors only)", file=sys.stderr)
        return 2
    if not submission.has_needle(args.submission):
        print(
            f"grade: {args.submission}/needle not found (nor python/needle, the course's layout)",
            file=sys.stderr,
        )
        return 2
    seed = args.seed
    if args.hidden:
        from grader import hidden

        if seed is None:
            seed = fresh_seed()
            print(
                f"grade: hidden cases drawn with seed {seed} (--seed {seed} repeats this run)",
                file=sys.stderr,
            )
        warning = hidden.exposure_warning()
        if warning:
            print(f"grade: warning: {warning}", file=sys.stderr)
    note = sandbox.network_note() if os.geteuid() == 0 else ""
    if note:
        print(f"grade: note: {note}", file=sys.stderr)
    result = pipeline.grade(
        args.submission, args.problem, hidden=args.hidden, seed=seed, jobs=args.jobs
    )
    if args.gradescope:
        args.gradescope.parent.mkdir(parents=True, exist_ok=True)
        args.gradescope.write_text(json.dumps(report.gradescope(result), indent=2))
    if args.junit:
        from grader import junit

        junit.write(result, args.junit)
    if args.json:
        print(json.dumps(report.as_json(result)))
    else:
        print(report.terminal(result))
    return 0
