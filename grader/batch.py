"""`python -m grader batch SUBMISSIONS/ --jobs N`: grade every subfolder, write a gradebook CSV.

Each submission is graded by the same isolated pipeline as `grade`; all (submission, problem) probe
runs share one pool of N worker slots. A submission that crashes, hangs or attacks the grader costs
only its own points: its row still appears, with the reason in the `notes` column. Progress goes
to stderr (grader.progress).

With `--report DIR`, the batch's RunResults are also saved beside the gradebook
(grader.class_report.store) and the class report is written into DIR (grader.class_report).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader import class_report, pipeline, sandbox
from grader.cases import fresh_seed
from grader.class_report import store
from grader.problems import PROBLEM_IDS
from grader.progress import Progress
from grader.report_cmd import add_report_options
from grader.results import RunResult


def grade_one(
    submission: Path, problem_ids, hidden: bool, seed: int | None, timeout_scale: float = 1.0
) -> RunResult:
    """Grade one folder; any grader-side failure becomes a zero row rather than an abort."""
    try:
        # One probe at a time per submission: the pool below already runs `jobs` submissions.
        return pipeline.grade(
            submission, problem_ids, hidden=hidden, seed=seed, jobs=1, timeout_scale=timeout_scale
        )
    except Exception as error:  # keep the batch going, whatever one submission does
        return RunResult(submission=str(submission), notes=(f"{type(error).__name__}: {error}",))


def grade_all(
    folders: list[Path],
    problem_ids,
    hidden: bool = False,
    seed: int | None = None,
    jobs: int = 2,
    timeout_scale: float = 1.0,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Grade every folder, `jobs` at a time; the results in the folders' order."""
    results: list[RunResult] = [RunResult(str(folder)) for folder in folders]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = {
            pool.submit(grade_one, folder, problem_ids, hidden, seed, timeout_scale): index
            for index, folder in enumerate(folders)
        }
        for future in as_completed(pending):
            index = pending[future]
            results[index] = result = future.result()
            if progress is not None:
                progress.advance(folders[index].name, f"{result.score:g}/{result.max_score:g}")
    return results


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
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="also write the class report into DIR (report.html, checks.csv, plots) and save the "
        "results beside the gradebook (FILE.results.json, for `python -m grader report`)",
    )
    add_report_options(parser)


def run(args: argparse.Namespace) -> int:
    if not args.submissions.is_dir():
        print(f"batch: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    folders = sorted(p for p in args.submissions.iterdir() if p.is_dir() and not p.is_symlink())
    problem_ids = list(args.problem or PROBLEM_IDS)
    if (args.anonymous or args.key_file) and not args.report:
        print("batch: --anonymous and --key-file only make sense with --report", file=sys.stderr)
        return 2
    if args.report:  # a bad key file stops the batch before grading, not after
        try:
            key = class_report.report_key(
                args.anonymous, args.key_file, store.results_path(args.out)
            )
        except (class_report.KeyFileError, OSError) as error:
            print(f"batch: {error}", file=sys.stderr)
            return 2
    seed = args.seed
    if args.hidden and seed is None:
        seed = fresh_seed()  # one seed for the whole batch: fair to everyone
        print(
            f"batch: hidden cases drawn with seed {seed} (--seed {seed} repeats this run)",
            file=sys.stderr,
        )
    note = sandbox.network_note() if os.geteuid() == 0 else ""
    if note:
        print(f"batch: note: {note}", file=sys.stderr)
    started = time.monotonic()
    progress = Progress(len(folders))
    results = grade_all(folders, problem_ids, args.hidden, seed, args.jobs, progress=progress)
    rows = gradebook_rows(results, problem_ids)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["submission", "total", *problem_ids, "notes"])
        writer.writeheader()
        writer.writerows(rows)
    seconds = time.monotonic() - started
    print(f"batch: graded {len(rows)} submissions in {seconds:.1f} s; wrote {args.out}")
    if args.report:
        saved = store.save(results, problem_ids, store.results_path(args.out))
        written = class_report.write(results, args.report, problem_ids, key)
        print(
            f"batch: wrote the class report {written.page} and {written.checks}; results saved "
            f"in {saved} (`python -m grader report {saved} --out DIR` makes the report again)"
        )
    return 0
