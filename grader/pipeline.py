"""The one grading pipeline: every entry point (`make grade`, `--hidden`, `batch`, the notebook
check cells, the Gradescope runtime) calls `grade_suites` (or `grade`, for one suite).

A suite is a set of cases (one per problem, drawn from one seed) and where their reference
outputs come from: the shipped public file, a live run of solutions/ (hidden cases), or the
answers a Gradescope bundle precomputed. For one submission, in order:
  1. read the submission's files once: syntax errors and stubs (grader.submission; text only);
  2. draw each suite's cases from its seed (grader.cases);
  3. get the references and run each case's probe on the submission in its own process, all in one
     pool of `jobs` (live references run in that pool too, and are asked for first); once a probe
     hangs or dies while importing the submission, the cases not yet started get that outcome
     instead of a run (the import is the same for every problem: one time limit, not fourteen);
  4. judge each case's outputs against its references into results (grader.judge).
Step 1 comes before 3 (the probes get placeholders for broken files); 3's reference lookups must
finish before 4 only. Every view (terminal, JSON, Gradescope, gradebook, JUnit) renders the
RunResults this returns and recomputes nothing.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import judge, references, submission
from grader.cases import PUBLIC_SEED, Case, fresh_seed, make_cases
from grader.channel import ProbeOutput
from grader.results import RunResult
from grader.runner import RunOutcome, run_case

# (reference outputs, "") or (None, why there are none), for one case.
ReferenceSource = Callable[[Case], tuple[dict[str, np.ndarray] | None, str]]
# Given, for each case of a PUBLIC suite, what was judged: the case, the probe's outputs (None when
# the probe reported nothing) and the references (None when there are none). For a view that
# shows more than the results (the notebook's gradient pictures); never given a hidden case.
PublicOutputs = Callable[[Case, ProbeOutput | None, dict[str, np.ndarray] | None], None]


@dataclass(frozen=True)
class Suite:
    """The cases of one seed, where their references come from, and whether they are hidden
    (hidden: messages never reveal expected values)."""

    seed: int
    references: ReferenceSource
    hidden: bool = False
    problem_ids: tuple[str, ...] | None = None


def public_suite(problem_ids=None) -> Suite:
    """The `make grade` cases, against the references shipped in grader/references/."""
    ids = tuple(problem_ids) if problem_ids else None
    return Suite(PUBLIC_SEED, references.public_outputs, problem_ids=ids)


def hidden_suite(seed: int, problem_ids=None, timeout_scale: float = 1.0) -> Suite:
    """Hidden cases of `seed`, references computed live from solutions/ (instructors only)."""
    from grader import hidden  # instructor-only: not in the student release

    ids = tuple(problem_ids) if problem_ids else None
    tree = None
    if (references.SOLUTIONS / "needle").is_dir():
        tree = submission.read(references.SOLUTIONS)  # read here, not in the pool's threads
    return Suite(seed, lambda case: hidden.reference_outputs(case, timeout_scale, tree), True, ids)


def answers_suite(seed: int, answers: Path, problem_ids=None) -> Suite:
    """Hidden cases of `seed` against references precomputed into `answers` (a bundle's)."""

    def lookup(case: Case):
        outputs, why = references.public_outputs(case, answers)
        if outputs is None:
            why = f"grader error: no hidden reference for {case.problem.id}"
        return outputs, why

    ids = tuple(problem_ids) if problem_ids else None
    return Suite(seed, lookup, True, ids)


class ImportGate:
    """Runs one submission's cases, until a probe hangs or dies while importing it: the cases
    started after that get the same outcome without a run."""

    def __init__(self, tree: submission.Submission, timeout_scale: float):
        self.tree, self.timeout_scale = tree, timeout_scale
        self.failure: RunOutcome | None = None
        self._lock = threading.Lock()

    def run(self, case: Case) -> RunOutcome:
        if self.failure is not None:
            return dataclasses.replace(self.failure, seconds=0.0)
        outcome = run_case(case, self.tree, self.timeout_scale)
        if outcome.failed_importing:
            with self._lock:
                self.failure = self.failure or outcome
        return outcome


def grade_suites(
    folder: Path,
    suites: list[Suite],
    jobs: int = 2,
    timeout_scale: float = 1.0,
    public_outputs: PublicOutputs | None = None,
) -> list[RunResult]:
    """Grade one submission folder (holding needle/ and optionally apps/) on every suite; one
    RunResult per suite, in order. `public_outputs`, if given, sees each public case's outputs
    and references (PublicOutputs)."""
    folder = Path(folder).resolve()
    tree = submission.read(folder)
    cases = [make_cases(suite.seed, suite.problem_ids) for suite in suites]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        wanted = [
            [pool.submit(suite.references, case) for case in suite_cases]
            for suite, suite_cases in zip(suites, cases, strict=True)
        ]
        gate = ImportGate(tree, timeout_scale)
        runs = [[pool.submit(gate.run, case) for case in suite_cases] for suite_cases in cases]
        results = []
        for suite, suite_cases, refs, outcomes in zip(suites, cases, wanted, runs, strict=True):
            problems = []
            for case, reference, outcome in zip(suite_cases, refs, outcomes, strict=True):
                expected, why = reference.result()
                own = submission.own_stubs(case.problem, tree.stubs)
                needed = submission.stubs_among(case.problem.needs, tree.stubs)
                problems.append(
                    judge.judge_problem(
                        case, tree, outcome.result(), expected, not suite.hidden, why, own, needed
                    )
                )
                if public_outputs is not None and not suite.hidden:
                    public_outputs(case, outcome.result().output, expected)
            seed = suite.seed if suite.hidden else None
            results.append(RunResult(str(folder), tuple(problems), suite.hidden, seed))
    return results


def grade(
    folder: Path,
    problem_ids: list[str] | None = None,
    hidden: bool = False,
    seed: int | None = None,
    jobs: int = 2,
    timeout_scale: float = 1.0,
    public_outputs: PublicOutputs | None = None,
) -> RunResult:
    """Grade one submission folder on the public cases, or on hidden cases of `seed` (a fresh one
    when None) with references computed live from solutions/. `public_outputs`: see
    grade_suites (never called for hidden cases)."""
    if hidden:
        suite = hidden_suite(fresh_seed() if seed is None else seed, problem_ids, timeout_scale)
    else:
        suite = public_suite(problem_ids)
    return grade_suites(folder, [suite], jobs, timeout_scale, public_outputs)[0]
