"""`python -m grader references`: the public cases' reference outputs, computed from solutions/.

The file `grader/references/public.npz` ships with the student release. For every problem it holds
the reference outputs (key "problem/output") and the digest of the inputs they were computed from
(key "problem/__inputs__"): when a problem's inputs change, its references count as stale and the
problem reports it instead of grading against outputs of other inputs.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from grader import judge
from grader import problems as registry

PUBLIC_FILE = Path(__file__).resolve().parent / "references" / "public.npz"
SOLUTIONS = judge.REPO_ROOT / "solutions"
DIGEST_KEY = "__inputs__"


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def load(path: Path = PUBLIC_FILE) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    return _load(path, path.stat().st_mtime)


def public_outputs(case: judge.Case, path: Path = PUBLIC_FILE):
    """(reference outputs of this problem's public case, "") or (None, why there are none)."""
    stored = load(path)
    problem_id = case.problem.id
    digest = stored.get(f"{problem_id}/{DIGEST_KEY}")
    if digest is None:
        return None, f"no public references for {problem_id}: run `make references`"
    if bytes(digest).decode() != case.digest:
        return None, f"the public references of {problem_id} are stale: run `make references`"
    prefix = f"{problem_id}/"
    return {
        name[len(prefix) :]: array
        for name, array in stored.items()
        if name.startswith(prefix) and not name.endswith(DIGEST_KEY)
    }, ""


def reference_case(case: judge.Case, solutions: Path = SOLUTIONS, timeout_scale: float = 1.0):
    """Run the reference solutions on one case: (outputs, "") or (None, what went wrong)."""
    outcome = judge.run_case(
        case, solutions, judge.syntax_errors(solutions), timeout_scale, trusted=True
    )
    if outcome.output is None:
        return None, f"the reference solution failed on {case.problem.id}: {outcome.failure}"
    if outcome.output.errors:
        name, error = next(iter(outcome.output.errors.items()))
        return None, (
            f"the reference solution failed on {case.problem.id}, step {name}: {error.describe()}"
        )
    return outcome.output.arrays, ""


def compute(
    problem_ids: list[str] | None = None, solutions: Path = SOLUTIONS, jobs: int = 2
) -> tuple[dict[str, np.ndarray], list[str]]:
    """All public reference arrays, keyed "problem/output", and the list of failures."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [
        judge.make_case(module, judge.PUBLIC_SEED) for module in registry.load_all(problem_ids)
    ]
    arrays: dict[str, np.ndarray] = {}
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = list(pool.map(lambda case: reference_case(case, solutions), cases))
    for case, (outputs, why) in zip(cases, outcomes, strict=True):
        if outputs is None:
            failures.append(why)
            continue
        for name, array in outputs.items():
            arrays[f"{case.problem.id}/{name}"] = array
        arrays[f"{case.problem.id}/{DIGEST_KEY}"] = np.frombuffer(case.digest.encode(), np.uint8)
    return arrays, failures


def stale_keys(fresh: dict[str, np.ndarray], stored: dict[str, np.ndarray]) -> list[str]:
    """The keys where the stored references differ from `fresh` ones (missing, extra, changed)."""
    stale = sorted(set(fresh) ^ set(stored))
    for key in sorted(set(fresh) & set(stored)):
        a, b = np.asarray(fresh[key]), np.asarray(stored[key])
        same = a.dtype == b.dtype and a.shape == b.shape
        if same:
            same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        if not same:
            stale.append(key)
    return stale


def check_current(solutions: Path = SOLUTIONS, stored: Path = PUBLIC_FILE, jobs: int = 2) -> str:
    """Why the `stored` references differ from what `solutions` gives now ("" if they do not).

    `make release` runs this first (`references --check`), so that students are never graded
    locally against numbers other than the solutions give.
    """
    fresh, failures = compute(None, solutions, jobs)
    if failures:
        return "the reference solutions fail: " + "; ".join(failures)
    stale = stale_keys(fresh, load(stored))
    if stale:
        return (
            f"the public references are stale in {len(stale)} array(s) "
            f"({', '.join(stale[:4])}): run `make references` first"
        )
    return ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS, help="reference tree")
    parser.add_argument("--out", type=Path, default=PUBLIC_FILE, help="file to write")
    parser.add_argument("--jobs", type=int, default=2, help="parallel probe processes")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the stored references differ from what solutions/ gives",
    )


def run(args: argparse.Namespace) -> int:
    if not (args.solutions / "needle").is_dir():
        print(f"references: {args.solutions}/needle not found (instructors only)", file=sys.stderr)
        return 2
    if args.check:
        why_stale = check_current(args.solutions, args.out, args.jobs)
        print(f"references: {why_stale or 'current'}", file=sys.stderr if why_stale else sys.stdout)
        return 1 if why_stale else 0
    started = time.monotonic()
    arrays, failures = compute(None, args.solutions, args.jobs)
    for failure in failures:
        print(f"references: {failure}", file=sys.stderr)
    if failures:
        print("references: nothing written", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(temporary, **arrays)
    temporary.replace(args.out)
    seconds = time.monotonic() - started
    print(f"references: wrote {len(arrays)} arrays to {args.out} in {seconds:.1f} s")
    return 0
