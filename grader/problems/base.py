"""What a problem declaration is made of, and the trusted-side comparisons its checks use.

A problem module (`grader/problems/<id>.py`) defines:
  - `PROBLEM = Problem(...)`: id, title, points, the solution regions it covers, the files it needs;
  - `make_inputs(rng) -> dict[str, np.ndarray]`: the case, from a seeded generator (trusted side);
  - `probe(p)`: runs in the probe process against the student's needle and `p.put`s numeric outputs;
  - `CHECKS`: a list of `Check`s, evaluated by the judge on student and reference outputs.
This module is imported on both sides: it needs only numpy.

Output names are "step" or "step/detail"; when an output is missing, the judge reports the exception
that the step of that name raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Files every problem needs: importing needle at all, Tensor, and the ops everything is built from.
CORE_FILES = (
    "needle/__init__.py",
    "needle/autograd.py",
    "needle/backend_numpy.py",
    "needle/ops/__init__.py",
    "needle/ops/ops_mathematic.py",
)


@dataclass(frozen=True)
class Problem:
    id: str
    title: str
    points: float
    # (path relative to the submission, qualname) of every solution region this problem grades.
    regions: tuple[tuple[str, str], ...]
    # Files (besides CORE_FILES) this problem cannot run without; a syntax error elsewhere is
    # replaced by a placeholder and does not cost this problem anything.
    files: tuple[str, ...] = ()
    timeout: float = 60.0
    hint: str = ""

    @property
    def needed_files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(CORE_FILES + self.files + tuple(p for p, _ in self.regions)))


class Verdict(Exception):
    """Raised by a comparison: the check failed, with this student-facing message."""


@dataclass(frozen=True)
class Check:
    """One scored check. `judge(got, expected)` gets the outputs named in `outputs` (student's and
    reference's, as dicts) and raises Verdict on failure; `reveal` tells it whether expected values
    may be shown (public cases only)."""

    name: str
    outputs: tuple[str, ...]
    judge: Callable[[dict[str, np.ndarray], dict[str, np.ndarray], bool], None]
    weight: float = 1.0
    extra: dict = field(default_factory=dict)


# ----- comparisons (trusted side) -----------------------------------------------------------------

# Tolerances. float32 carries about 7 significant digits; a correct implementation that sums or
# multiplies in a different order (np.sum vs a loop, (a-b)/c vs a/c-b/c) differs from the reference
# in the last one or two of them, and errors grow with the number of terms. 1e-4 relative keeps a
# factor of ten above that for the sizes graded here, and stays far below the effect of any real bug
# (a wrong axis, a missing factor, an off-by-one).
F32 = {"rtol": 1e-4, "atol": 1e-5}
# float64 gradients: the reference and a correct student gradient agree to ~1e-12; a different but
# exact formula (e.g. x**b * log(x) vs exp(b * log(x)) * log(x)) to ~1e-10.
F64 = {"rtol": 1e-6, "atol": 1e-8}
# numdifftools' adaptive central differences reach ~1e-9 on these smooth, well-scaled functions.
NUMERIC = {"rtol": 1e-5, "atol": 1e-6}


def _index(index: tuple[int, ...]) -> str:
    return "" if not index else " at index " + str(tuple(int(i) for i in index))


def mismatch(
    got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, reveal: bool
) -> str | None:
    """Why `got` is not close to `expected` (shape, NaN/inf, worst element), or None if it is.

    Hidden cases (`reveal` False) get no error magnitudes: with the student's own value, the
    absolute and relative errors of an element would give its expected value back."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        return f"expected shape {expected.shape}, got shape {got.shape}"
    if got.size == 0:
        return None
    got64 = got.astype(np.float64)
    expected64 = expected.astype(np.float64)
    for bad, word in ((np.isnan, "NaN"), (np.isinf, "inf")):
        wrong = bad(got64) & ~bad(expected64)
        if wrong.any():
            index = np.unravel_index(int(np.argmax(wrong)), got.shape)
            return f"found {word}{_index(index)} where a finite value was expected"
    finite = np.isfinite(expected64)
    if np.any(~finite & (got64 != expected64)):
        index = np.unravel_index(int(np.argmax(~finite & (got64 != expected64))), got.shape)
        return f"expected a non-finite value{_index(index)}"
    error = np.where(finite, np.abs(got64 - expected64), 0.0)
    allowed = atol + rtol * np.abs(np.where(finite, expected64, 0.0))
    if np.all(error <= allowed):
        return None
    flat = int(np.argmax(error - allowed))
    index = np.unravel_index(flat, got.shape)
    if not reveal:
        beyond = int(np.count_nonzero(error > allowed))
        return (
            f"values differ from the reference{_index(index)} "
            f"({beyond} of {got.size} elements beyond tolerance)"
        )
    worst = float(error.reshape(-1)[flat])
    relative = worst / max(abs(float(expected64.reshape(-1)[flat])), 1e-300)
    wanted, came = float(expected64.reshape(-1)[flat]), float(got64.reshape(-1)[flat])
    return (
        f"max abs error {worst:.3g}{_index(index)} (relative {relative:.3g}): "
        f"expected {wanted:.6g}, got {came:.6g}"
    )


def close(name: str, output: str, what: str = "", weight: float = 1.0, **tolerance: float) -> Check:
    """The student's output equals the reference's (shape first, then values within tolerance)."""
    tol = {**F32, **tolerance}

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        problem = mismatch(got[output], expected[output], tol["rtol"], tol["atol"], reveal)
        if problem:
            raise Verdict(f"{what or output}: {problem}")

    return Check(name, (output,), judge, weight)


def equal(name: str, output: str, what: str = "", weight: float = 1.0) -> Check:
    """Exactly the reference's values (integer results, orders, flags)."""

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        g, e = np.asarray(got[output]), np.asarray(expected[output])
        if g.shape != e.shape:
            raise Verdict(f"{what or output}: expected shape {e.shape}, got shape {g.shape}")
        if not np.array_equal(g, e):
            index = np.unravel_index(int(np.argmax(g != e)), g.shape) if g.ndim else ()
            text = f"{what or output}: differs{_index(index)}"
            if reveal:
                text += f": expected {e.tolist()}, got {g.tolist()}" if e.size <= 12 else ""
            raise Verdict(text)

    return Check(name, (output,), judge, weight)


def gradient(
    name: str, output: str, numeric: str, what: str = "", weight: float = 1.0, **tolerance: float
) -> Check:
    """The student's gradient equals the reference's. When it does not, the finite differences of
    the student's own forward (`numeric`) tell whether the bug is in the forward or the backward."""
    tol = {**F64, **tolerance}

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        against_reference = mismatch(
            got[output], expected[output], tol["rtol"], tol["atol"], reveal
        )
        if against_reference is None:
            return
        label = what or output
        if numeric not in got:
            raise Verdict(f"{label}: {against_reference}")
        # Hidden cases: the finite differences of a correct forward are the expected gradient.
        against_own = mismatch(got[output], got[numeric], NUMERIC["rtol"], NUMERIC["atol"], reveal)
        if against_own is None:
            raise Verdict(
                f"{label}: your gradient agrees with finite differences of your own forward, "
                f"but your forward disagrees with the reference: fix the forward first "
                f"({against_reference})"
            )
        raise Verdict(
            f"{label}: your gradient disagrees with finite differences of your own forward "
            f"({against_own}); vs the reference: {against_reference}"
        )

    return Check(name, (output,), judge, weight)


def holds(
    name: str,
    outputs: tuple[str, ...],
    test: Callable[[dict[str, np.ndarray]], str | None],
    weight: float = 1.0,
) -> Check:
    """A property of the student's outputs alone (`test` returns a failure message or None)."""

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        problem = test(got)
        if problem:
            raise Verdict(problem)

    return Check(name, outputs, judge, weight)


def spread(rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """Uniform values with random signs whose magnitudes lie in [low, high] (away from kinks)."""
    magnitude = rng.uniform(low, high, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)
