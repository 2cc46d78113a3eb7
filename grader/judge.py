"""The trusted side: decide scores from validated plain data. Never imports student code.

`grade(submission, ...)` is an ordered pipeline:
  1. scan the submission's files for syntax errors and for solution regions still holding only the
     skeleton's `raise NotImplementedError(...)` (reading text only, nothing executed);
  2. draw each problem's inputs from its seed (public: fixed; hidden: the instructor's);
  3. get the references: the shipped public file, or (hidden) a live run of solutions/;
  4. run each problem's probe on the submission in its own process (in parallel);
  5. compare outputs with references check by check, and build the results.
Step 3 must come before 5 only; 3 and 4 run together in hidden mode.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from grader import problems as registry
from grader.channel import ProbeOutput, StepError
from grader.problems.base import Check, ErrorHint, Verdict, explain_error
from grader.results import CheckResult, ProblemResult, RunResult
from grader.runner import RunOutcome, run_probe

PUBLIC_SEED = 20240
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    """One problem's inputs, drawn from a seed, and the digest that ties references to them."""

    module: ModuleType
    inputs: dict[str, np.ndarray]
    digest: str

    @property
    def problem(self):
        return self.module.PROBLEM

    def __repr__(self) -> str:
        digest = self.digest[:12]
        return f"Case(problem={self.problem.id!r}, inputs={len(self.inputs)}, digest={digest!r})"


def fresh_seed() -> int:
    """A hidden-case seed nobody can predict (from os.urandom); print it to reproduce a run."""
    return int.from_bytes(os.urandom(4), "little")


def problem_seed(problem_id: str, seed: int) -> int:
    return (zlib.crc32(problem_id.encode()) + 1_000_003 * int(seed)) % (2**32)


def make_case(module: ModuleType, seed: int) -> Case:
    rng = np.random.default_rng(problem_seed(module.PROBLEM.id, seed))
    inputs = {name: np.asarray(value) for name, value in module.make_inputs(rng).items()}
    return Case(module, inputs, inputs_digest(inputs))


def inputs_digest(inputs: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(inputs):
        array = np.ascontiguousarray(inputs[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


_PARSE_LOCK = threading.Lock()


def parse_source(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, one thread at a time.

    CPython 3.11 can raise a spurious `SystemError: AST constructor recursion depth mismatch` when
    threads parse at once (gh-106905); the judge parses submissions from a thread pool.
    """
    with _PARSE_LOCK:
        return ast.parse(source, filename=filename)


def syntax_errors(submission: Path) -> dict[str, str]:
    """{relative path: message} for every .py file of needle/ and apps/ that does not parse."""
    broken: dict[str, str] = {}
    for package in ("needle", "apps"):
        folder = submission / package
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(submission).as_posix()
            try:
                parse_source(path.read_bytes(), filename=rel)
            except SyntaxError as error:
                broken[rel] = f"SyntaxError in {rel}:{error.lineno}: {error.msg}"
            except (ValueError, OSError, RecursionError, MemoryError) as error:
                broken[rel] = f"{rel} cannot be read: {type(error).__name__}"
    return broken


BEGIN_MARKER = "### BEGIN YOUR SOLUTION"
END_MARKER = "### END YOUR SOLUTION"
_STUB_LINE = re.compile(r"raise\s+NotImplementedError\b")
MAX_SCANNED_BYTES = 2 * 1024 * 1024  # the runner copies no larger source file either


def _definitions(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(first line, last line, dotted name) of every def and class, outer ones first."""
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                found.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def file_stubs(text: str) -> list[str]:
    """Qualified names of the functions in `text` whose solution region holds nothing but a
    `raise NotImplementedError(...)` line (comments and blank lines aside)."""
    try:
        definitions = _definitions(parse_source(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = text.splitlines()
    stubs: list[str] = []
    begin: int | None = None
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN_MARKER:
            begin = number
        elif marker == END_MARKER and begin is not None:
            between = (entry.strip() for entry in lines[begin : number - 1])
            body = [entry for entry in between if entry and not entry.startswith("#")]
            if len(body) == 1 and _STUB_LINE.match(body[0]):
                enclosing = [name for first, last, name in definitions if first < begin <= last]
                if enclosing:
                    stubs.append(enclosing[-1])
            begin = None
    return stubs


def stub_regions(submission: Path) -> set[tuple[str, str]]:
    """{(relative path, qualname)} of every region of needle/ and apps/ that is still a stub."""
    found: set[tuple[str, str]] = set()
    for package in ("needle", "apps"):
        folder = submission / package
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in sorted(folder.rglob("*.py")):
            try:
                if path.is_symlink() or path.stat().st_size > MAX_SCANNED_BYTES:
                    continue
                text = path.read_text(errors="replace")
            except OSError:
                continue
            rel = path.relative_to(submission).as_posix()
            found.update((rel, name) for name in file_stubs(text))
    return found


def own_stubs(problem, stubs: set[tuple[str, str]]) -> tuple[str, ...]:
    """The problem's regions still stubs, as "Qualname in path" (the skeleton's messages)."""
    return tuple(f"{name} in {path}" for path, name in problem.regions if (path, name) in stubs)


def missing_files(submission: Path, problem) -> list[str]:
    return [rel for rel in problem.needed_files if not (submission / rel).is_file()]


def run_case(
    case: Case,
    submission: Path,
    broken: dict[str, str],
    timeout_scale: float = 1.0,
    trusted: bool = False,
) -> RunOutcome:
    """Run one problem's probe against `submission`, or explain why it cannot run.

    `trusted` is for the reference solutions only (see grader.runner: no privilege drop)."""
    problem = case.problem
    missing = missing_files(submission, problem)
    if missing:
        return RunOutcome(None, f"missing file {missing[0]}")
    needed_broken = [broken[rel] for rel in problem.needed_files if rel in broken]
    if needed_broken:
        return RunOutcome(None, needed_broken[0])
    placeholders = {rel: reason for rel, reason in broken.items()}
    timeout = problem.timeout * timeout_scale
    outcome = run_probe(
        problem.id, submission, case.inputs, {}, placeholders, timeout=timeout, trusted=trusted
    )
    if outcome.stopped is not None:
        where = stopped_where(submission, *outcome.stopped)
        failure = f"did not finish within {timeout:g} s: stopped {where}; "
        outcome = RunOutcome(None, failure + "is there a loop that never ends?", outcome.seconds)
    return outcome


def stopped_where(submission: Path, path: str, line: int, function: str) -> str:
    """ "in Class.method (path:line)" for where a probe was stopped, the qualified name read from
    the submission's file (`function` alone when that file does not say more)."""
    if function == "<module>":
        return f"while importing {path} ({path}:{line})"
    name = function
    file = submission / path
    try:
        if not file.is_symlink() and file.stat().st_size <= MAX_SCANNED_BYTES:
            tree = parse_source(file.read_bytes(), filename=path)
            enclosing = [
                dotted for first, last, dotted in _definitions(tree) if first <= line <= last
            ]
            if enclosing and enclosing[-1].rsplit(".", 1)[-1] == function:
                name = enclosing[-1]
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    return f"in {name} ({path}:{line})"


def step_error(errors: dict[str, StepError], output: str) -> StepError | None:
    """The exception behind a missing output: its step's, else the probe's or the import's."""
    parts = output.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    for key in (*prefixes, "__probe__", "__import__"):
        if key in errors:
            return errors[key]
    return None


def evaluate(
    check: Check,
    got: ProbeOutput,
    expected: dict[str, np.ndarray],
    reveal: bool,
    hints: tuple[ErrorHint, ...] = (),
):
    """One CheckResult from the student's output and the reference's; `hints` are the problem's
    own ErrorHints for the exceptions its code typically raises."""

    def result(passed: bool, message: str = "", stub: str = "") -> CheckResult:
        return CheckResult(
            check.name,
            passed,
            message,
            check.weight,
            stub,
            kind=check.kind,
            group=check.group,
            member=check.member,
        )

    for name in check.outputs:
        if name in got.arrays:
            continue
        error = step_error(got.errors, name)
        if error is None:
            return result(False, f"no result for {name}")
        if error.not_implemented:
            stub = error.message or error.where
            return result(False, f"not implemented: {error.describe()}", stub)
        return result(
            False, f"raised {explain_error(error.type, error.message, error.where, hints)}"
        )
    absent = [name for name in check.outputs if name not in expected]
    if absent:
        return result(False, f"grader error: no reference for {absent[0]}")
    try:
        check.judge(got.arrays, expected, reveal)
    except Verdict as verdict:
        return result(False, str(verdict))
    except Exception as error:  # a comparison that cannot even run (e.g. wrong dtype) fails
        return result(False, f"could not compare: {type(error).__name__}: {error}")
    return result(True)


def judge_problem(
    case: Case,
    outcome: RunOutcome,
    reference: dict[str, np.ndarray] | None,
    reveal: bool,
    reference_problem: str = "",
    stubs: tuple[str, ...] = (),
) -> ProblemResult:
    problem = case.problem
    base = {"id": problem.id, "title": problem.title, "max_score": problem.points, "stubs": stubs}
    if reference is None:
        return ProblemResult(**base, error=reference_problem or "no reference outputs")
    if outcome.output is None:
        return ProblemResult(**base, error=outcome.failure, seconds=outcome.seconds)
    checks = tuple(
        evaluate(check, outcome.output, reference, reveal, problem.error_hints)
        for check in case.module.CHECKS
    )
    return ProblemResult(**base, checks=checks, seconds=outcome.seconds)


def grade(
    submission: Path,
    problem_ids: list[str] | None = None,
    hidden: bool = False,
    seed: int | None = None,
    jobs: int = 2,
    timeout_scale: float = 1.0,
) -> RunResult:
    """Grade one submission folder (holding needle/ and optionally apps/)."""
    from grader import references

    submission = Path(submission).resolve()
    modules = registry.load_all(problem_ids)
    broken = syntax_errors(submission)
    stubs = stub_regions(submission)
    if hidden:
        if seed is None:
            seed = fresh_seed()
        cases = [make_case(module, seed) for module in modules]
    else:
        cases = [make_case(module, PUBLIC_SEED) for module in modules]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        if hidden:
            from grader import hidden as hidden_mode

            reference_futures = [
                pool.submit(hidden_mode.reference_outputs, case, timeout_scale) for case in cases
            ]
        outcomes = [
            pool.submit(run_case, case, submission, broken, timeout_scale) for case in cases
        ]
        results = []
        for index, case in enumerate(cases):
            if hidden:
                reference, why = reference_futures[index].result()
            else:
                reference, why = references.public_outputs(case)
            own = own_stubs(case.problem, stubs)
            results.append(
                judge_problem(case, outcomes[index].result(), reference, not hidden, why, own)
            )
    return RunResult(submission=str(submission), problems=tuple(results), hidden=hidden, seed=seed)


def timed_grade(*args, **kwargs) -> tuple[RunResult, float]:
    started = time.monotonic()
    result = grade(*args, **kwargs)
    return result, time.monotonic() - started
