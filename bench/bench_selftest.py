"""The self-test (`make selftest`): how long it takes, and what running copies in parallel buys.

Runs `grader.selftest.run_selftest` (every patch of grader/selftest/data graded on every problem,
the two canaries, the release's leak scan) once with `--jobs` copies graded at a time and once
with one, in this process, and prints the wall-clock and CPU seconds of each and their ratio
(parallel / serial). The verdicts of both runs must agree, and must all be good.

    .venv/bin/python bench/bench_selftest.py [--jobs 2] [--problem ID ...]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader import problems as registry  # noqa: E402
from grader import selftest  # noqa: E402


def cpu_seconds() -> float:
    """This process's CPU time and its children's: the probes are child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(problems, jobs: int) -> tuple[float, float, selftest.Report]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    report = selftest.run_selftest(problems, jobs)
    return time.perf_counter() - wall, cpu_seconds() - cpu, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--problem", nargs="+", choices=registry.PROBLEM_IDS, metavar="ID")
    args = parser.parse_args()
    runs = {}
    for jobs in (args.jobs, 1):
        runs[jobs] = timed(args.problem, jobs)
        wall, cpu, report = runs[jobs]
        patches = sum(1 for outcome in report.outcomes if outcome.patch)
        print(
            f"jobs {jobs}: {patches} patches and 2 canaries in {wall:.1f} s wall, {cpu:.1f} s CPU"
            f" ({'all good' if report.ok else 'NOT ALL GOOD'})"
        )
    verdicts = [[o.verdict(report.full) for o in report.outcomes] for _, _, report in runs.values()]
    parallel, serial = runs[args.jobs][0], runs[1][0]
    print(f"parallel / serial wall time: {parallel / serial:.2f}")
    same = verdicts[0] == verdicts[1]
    print("verdicts of the two runs:", "the same" if same else "DIFFERENT")
    return 0 if same and all(report.ok for _, _, report in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
