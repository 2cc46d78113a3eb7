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
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from grader import REPO_ROOT, judge, runner, submission
from grader.cases import PUBLIC_SEED, Case, make_cases

PUBLIC_FILE = Path(__file__).resolve().parent / "references" / "public.npz"
SOLUTIONS = REPO_ROOT / "solutions"
DIGEST_KEY = "__inputs__"


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def load(path: Path = PUBLIC_FILE) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    return _load(path, path.stat().st_mtime)


def public_outputs(case: Case, path: Path = PUBLIC_FILE):
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


def reference_case(
    case: Case,
    solutions: Path = SOLUTIONS,
    timeout_scale: float = 1.0,
    tree: submission.Submission | None = None,
):
    """Run the reference solutions on one case: (outputs, "") or (None, what went wrong).
    `tree`: the solutions already read (callers running cases in threads read them once first:
    CPython 3.11's ast.parse can fail spuriously in threads, gh-106905)."""
    tree = tree if tree is not None else submission.read(solutions)
    outcome = runner.run_case(case, tree, timeout_scale, trusted=True)
    if outcome.output is None:
        failure = judge.failure_text(outcome, tree)
        return None, f"the reference solution failed on {case.problem.id}: {failure}"
    if outcome.output.errors:
        name, error = next(iter(outcome.output.errors.items()))
        return None, (
            f"the reference solution failed on {case.problem.id}, step {name}: {error.describe()}"
        )
    return outcome.output.arrays, ""


def compute_cases(
    cases: list[Case], solutions: Path = SOLUTIONS, jobs: int = 2
) -> list[tuple[dict[str, np.ndarray] | None, str]]:
    """`reference_case` of every case, `jobs` at a time, in the order of `cases`."""
    tree = submission.read(solutions)  # here, not in the threads
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda case: reference_case(case, solutions, tree=tree), cases))


def as_arrays(cases: list[Case], outputs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The stored layout: "problem/output" arrays and a "problem/__inputs__" digest per case."""
    arrays: dict[str, np.ndarray] = {}
    for case, found in zip(cases, outputs, strict=True):
        for name, array in found.items():
            arrays[f"{case.problem.id}/{name}"] = array
        arrays[f"{case.problem.id}/{DIGEST_KEY}"] = np.frombuffer(case.digest.encode(), np.uint8)
    return arrays


def compute(
    problem_ids: list[str] | None = None, solutions: Path = SOLUTIONS, jobs: int = 2
) -> tuple[dict[str, np.ndarray], list[str]]:
    """All public reference arrays, keyed "problem/output", and the list of failures."""
    cases = make_cases(PUBLIC_SEED, problem_ids)
    results = compute_cases(cases, solutions, jobs)
    failures = [why for outputs, why in results if outputs is None]
    done = [(case, outputs) for case, (outputs, _) in zip(cases, results, strict=True) if outputs]
    return as_arrays([case for case, _ in done], [outputs for _, outputs in done]), failures


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
    return stale_reason(fresh, stored)


def stale_reason(fresh: dict[str, np.ndarray], stored: Path = PUBLIC_FILE) -> str:
    """Why the references stored at `stored` differ from `fresh` ones ("" if they do not)."""
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
