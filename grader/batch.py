"""`python -m grader batch SUBMISSIONS/ --jobs N`: grade every subfolder, write a gradebook CSV.

Each submission is graded by the same isolated pipeline as `grade`; all (submission, problem) probe
runs share one pool of N worker slots. A submission that crashes, hangs or attacks the grader costs
only its own points: its row still appears, with the reason in the `notes` column.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader import pipeline
from grader.cases import fresh_seed
from grader.problems import PROBLEM_IDS
from grader.results import RunResult


def grade_one(submission: Path, problem_ids, hidden: bool, seed: int | None) -> RunResult:
    """Grade one folder; any grader-side failure becomes a zero row rather than an abort."""
    try:
        # One probe at a time per submission: the pool below already runs `jobs` submissions.
        return pipeline.grade(submission, problem_ids, hidden=hidden, seed=seed, jobs=1)
    except Exception as error:  # keep the batch going, whatever one submission does
        return RunResult(submission=str(submission), notes=(f"{type(error).__name__}: {error}",))


def gradebook_rows(results: list[RunResult], problem_ids) -> list[dict[str, str]]:
    rows = []
    for result in results:
        scores = {problem.id: problem.score for problem in result.problems}
        row = {"submission": Path(result.submission).name, "total": f"{result.score:g}"}
        for problem_id in problem_ids:
            row[problem_id] = f"{scores.get(problem_id, 0.0):g}"
        notes = list(result.notes) + [
            f"{problem.id}: {problem.error}" for problem in result.problems if problem.error
        ]
        row["notes"] = "; ".join(notes)[:500]
        rows.append(row)
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="folder with one subfolder per submission")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded in parallel")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="CSV to write")
    parser.add_argument("--problem", nargs="+", action="extend", choices=PROBLEM_IDS, metavar="ID")
    parser.add_argument("--hidden", action="store_true", help="hidden cases (needs solutions/)")
    parser.add_argument("--seed", type=int, help="hidden-case seed, the same for every submission")


def run(args: argparse.Namespace) -> int:
    if not args.submissions.is_dir():
        print(f"batch: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    folders = sorted(p for p in args.submissions.iterdir() if p.is_dir() and not p.is_symlink())
    problem_ids = list(args.problem or PROBLEM_IDS)
    seed = args.seed
    if args.hidden and seed is None:
        seed = fresh_seed()  # one seed for the whole batch: fair to everyone
        print(
            f"batch: hidden cases drawn with seed {seed} (--seed {seed} repeats this run)",
            file=sys.stderr,
        )
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(
            pool.map(lambda folder: grade_one(folder, problem_ids, args.hidden, seed), folders)
        )
    rows = gradebook_rows(results, problem_ids)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["submission", "total", *problem_ids, "notes"])
        writer.writeheader()
        writer.writerows(rows)
    seconds = time.monotonic() - started
    print(f"batch: graded {len(rows)} submissions in {seconds:.1f} s; wrote {args.out}")
    return 0
