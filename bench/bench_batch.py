"""`make bench-batch`: batch throughput on honest submissions, with probe isolation and without.

Grades `--submissions` copies of solutions/ with `python -m grader batch --jobs 2` twice in this
command, alternating: once as the grader runs by default (as root: an id of its own per probe,
every process of it killed after the probe, no network), once with NEEDLEWORK_SANDBOX=0 (as root:
every probe drops to the one user "nobody", the grader's behaviour before per-probe ids). Reports
submissions per minute of each (median of `--runs`) and their ratio. Without root both runs are
the same (no isolation applies); the script says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_batch(folder: Path, out: Path, sandbox: bool) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not sandbox:
        env["NEEDLEWORK_SANDBOX"] = "0"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(folder), "--jobs", "2", "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench-batch: not root, so no probe isolation applies: both runs are the same")
    with tempfile.TemporaryDirectory(prefix="needlework-bench-") as scratch:
        folder = Path(scratch) / "class"
        for index in range(args.submissions):
            for package in ("needle", "apps"):
                shutil.copytree(
                    ROOT / "solutions" / package,
                    folder / f"s{index:03d}" / package,
                    ignore=shutil.ignore_patterns("__pycache__"),
                )
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.runs):
            for sandbox in (False, True):
                times[sandbox].append(run_batch(folder, Path(scratch) / "grades.csv", sandbox))
    rate = {mode: 60 * args.submissions / statistics.median(t) for mode, t in times.items()}
    print(f"batch of {args.submissions} copies of solutions/, --jobs 2, median of {args.runs}:")
    print(f"  shared probe user (NEEDLEWORK_SANDBOX=0): {rate[False]:.1f} submissions/min")
    print(f"  isolated probes (default):                {rate[True]:.1f} submissions/min")
    print(f"  isolated / shared throughput: {rate[True] / rate[False]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
