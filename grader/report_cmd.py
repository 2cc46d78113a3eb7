"""`python -m grader report RESULTS --out DIR`: make the class report again from saved results.

RESULTS is the file `batch --report` saves beside the gradebook (grades.csv ->
grades.results.json): every RunResult of the batch. Nothing is graded again; the report is the
same as the batch's, or with `--anonymous` (or without it) where the batch's was not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import class_report
from grader.class_report import store


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """--anonymous and --key-file, shared with `batch --report`."""
    parser.add_argument(
        "--anonymous",
        action="store_true",
        help="name submissions in the report by stable pseudonyms (a keyed hash of the folder "
        "name), not by folder name",
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        metavar="FILE",
        help="the pseudonyms' key (made on first use; default: pseudonym.key beside the saved "
        "results). The same key gives the same pseudonyms in every report",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="batch results (the gradebook's .results.json)")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for report.html and the rest"
    )
    add_report_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.key_file and not args.anonymous:
        print("report: --key-file only makes sense with --anonymous", file=sys.stderr)
        return 2
    try:
        results, problem_ids = store.load(args.results)
        key = class_report.report_key(args.anonymous, args.key_file, args.results)
    except (store.ResultsFileError, class_report.KeyFileError, OSError) as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    written = class_report.write(results, args.out, problem_ids, key)
    print(f"report: wrote {written.page}, {written.checks} and {len(written.pictures)} pictures")
    return 0
