"""The class report of a 200-submission batch: how long writing it takes, once grading is done.

The batch is synthetic (nothing is graded): 200 RunResults over every problem of the kit, with
the problems' real titles, points and check names. Each submission has a skill in [0.3, 1]; a
check fails with probability (1 - skill) times the check's own difficulty, with a message that
carries numbers and indices, as the judge's do ("max abs error 0.0123 at index (2, 1) ..."); 5%
of (submission, problem) pairs are left unimplemented, 2% time out and 1% crash.

Timed: `grader.class_report.write` into a fresh folder (report.html, checks.csv, the PNGs),
matplotlib's import included (the first run of a fresh process pays it); the wall-clock and CPU
seconds of each of `--runs` runs, and their median.

    .venv/bin/python bench/bench_class_report.py [--submissions 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader import problems as registry  # noqa: E402
from grader.results import CheckResult, ProblemResult, RunResult  # noqa: E402

MESSAGES = (
    "max abs error {a:.3g} at index ({i}, {j}) (relative {b:.3g}): expected {c:.6g}, got {d:.6g}",
    "shape ({i}, {j}) but the reference has shape ({j}, {i})",
    "found nan at index ({i},) where a finite value was expected",
    "raised ValueError: operands could not be broadcast together with shapes ({i},{j}) ({j},)",
)


def synthetic_batch(count: int, seed: int = 0) -> list[RunResult]:
    rng = np.random.default_rng(seed)
    modules = [registry.load(pid) for pid in registry.PROBLEM_IDS]
    difficulty = {
        (module.PROBLEM.id, index): rng.uniform(0.0, 0.8)
        for module in modules
        for index in range(len(module.CHECKS))
    }
    results = []
    for number in range(count):
        skill = rng.uniform(0.3, 1.0)
        problems = []
        for module in modules:
            problem = module.PROBLEM
            base = {"id": problem.id, "title": problem.title, "max_score": problem.points}
            draw = rng.uniform()
            if draw < 0.02:
                error = "did not finish within 20 s: stopped in Adam.step (needle/optim.py:88)"
                problems.append(ProblemResult(**base, error=error))
                continue
            if draw < 0.03:
                error = "the grading process exited (code 1) without reporting a result"
                problems.append(ProblemResult(**base, error=error))
                continue
            stub = f"{problem.regions[0][1]} in {problem.regions[0][0]}" if draw < 0.08 else ""
            checks = []
            for index, check in enumerate(module.CHECKS):
                if stub:
                    checks.append(CheckResult(check.name, False, "not implemented", 1.0, stub))
                    continue
                failed = rng.uniform() < (1 - skill) * difficulty[(problem.id, index)]
                message = ""
                if failed:
                    template = MESSAGES[index % len(MESSAGES)]
                    i, j = rng.integers(0, 8, size=2)
                    a, b, c, d = rng.uniform(-2, 2, size=4)
                    message = template.format(i=i, j=j, a=abs(a), b=abs(b), c=c, d=d)
                checks.append(CheckResult(check.name, not failed, message, check.weight))
            stubs = (stub,) if stub else ()
            problems.append(ProblemResult(**base, checks=tuple(checks), stubs=stubs))
        results.append(RunResult(f"/batch/student{number:03d}", tuple(problems)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = synthetic_batch(args.submissions)
    checks = sum(len(p.checks) for p in results[0].problems)
    print(f"{args.submissions} synthetic submissions, {len(results[0].problems)} problems")
    walls, cpus = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            wall, cpu = time.perf_counter(), time.process_time()
            from grader import class_report

            written = class_report.write(results, Path(folder) / "report")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            size = written.page.stat().st_size
            print(
                f"run {run + 1}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU; report.html "
                f"{size / 1e6:.2f} MB, {len(written.pictures)} PNGs, {checks} checks"
            )
    print(
        f"report for {args.submissions} submissions: median {statistics.median(walls):.2f} s "
        f"wall, {statistics.median(cpus):.2f} s CPU (first run includes importing matplotlib)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
