"""The comparisons checks are made of: the student's outputs against the reference's.

Each helper (`close`, `equal`, `gradient`, `holds`) returns a `Check` whose `judge` raises
`Verdict` with a student-facing message on failure; `mismatch` is the one place that words a
difference between two arrays. Imported on both sides (problem declarations build their checks at
import time), evaluated only on the trusted side; needs only numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.problems.base import DIAGNOSTIC, Check


class Verdict(Exception):
    """Raised by a comparison: the check failed, with this student-facing message."""


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


def float32_ulps(magnitude: float, count: int = 4) -> float:
    """`count` units in the last place of float32 at `magnitude`: what any correct formula may
    lose on inputs of that size (one ulp of 1e5 is 0.0078, so `z - logsumexp(z)` on logits near
    1e5 is off by ~0.001-0.01 however carefully it is written)."""
    return count * float(np.spacing(np.float32(abs(magnitude))))


def _index(index: tuple[int, ...]) -> str:
    return "" if not index else " at index " + str(tuple(int(i) for i in index))


def distinct(first: float, second: float, digits: int = 6) -> tuple[str, str]:
    """Both numbers with `digits` significant digits, or as many more as it takes for the two
    texts to differ; past 16, Python's shortest round-trip text (at most 17 digits), which tells
    any two different floats apart."""
    for shown in range(digits, 17):
        texts = (f"{first:.{shown}g}", f"{second:.{shown}g}")
        if texts[0] != texts[1]:
            return texts
    return repr(float(first)), repr(float(second))


def _label(what: str) -> str:
    """ "what: " for a message, or nothing (the check's name already says what is compared)."""
    return f"{what}: " if what else ""


def mismatch(
    got: np.ndarray,
    expected: np.ndarray,
    rtol: float,
    atol: float,
    reveal: bool,
    against: str = "the reference",
) -> str | None:
    """Why `got` is not close to `expected` (shape, NaN/inf, worst element), or None if it is.

    The worst element is named by its index with both values, its absolute error, its relative
    error only where the expected value is clearly away from 0 (relative to ~0 means nothing), and
    how many elements are off. Hidden cases (`reveal` False) get no error magnitudes: with the
    student's own value, the absolute and relative errors of an element would give its expected
    value back. `against` names what `expected` is, in those hidden-case messages."""
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
    beyond = int(np.count_nonzero(elements_off(got64, expected64, rtol, atol)))
    if not reveal:
        return (
            f"values differ from {against}{_index(index)} "
            f"({beyond} of {got.size} elements beyond tolerance)"
        )
    worst = float(error.reshape(-1)[flat])
    wanted, came = float(expected64.reshape(-1)[flat]), float(got64.reshape(-1)[flat])
    # A relative error says something only where the expected value is well above the absolute
    # tolerance (and above 0): next to 0 it is the absolute error divided by almost nothing.
    floor = max(10 * atol, 1e-12)
    relative = f" (relative {worst / abs(wanted):.3g})" if abs(wanted) >= floor else ""
    count = f" ({beyond} of {got.size} elements off)" if got.size > 1 else ""
    wanted_text, came_text = distinct(wanted, came)
    return (
        f"max abs error {worst:.3g}{_index(index)}{relative}: "
        f"expected {wanted_text}, got {came_text}{count}"
    )


def elements_off(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """A boolean array of `expected`'s shape: the elements `mismatch` holds against `got` (same
    shapes only): |got - expected| > atol + rtol |expected| where the expected value is finite,
    a NaN or inf where a finite value was expected, and any other value where a non-finite one
    was. Its count is the "(N of M elements off)" of a public-case message."""
    got64 = np.asarray(got, dtype=np.float64)
    expected64 = np.asarray(expected, dtype=np.float64)
    finite = np.isfinite(expected64)
    with np.errstate(invalid="ignore"):
        error = np.abs(got64 - expected64)
        beyond = ~np.isfinite(got64) | (error > atol + rtol * np.abs(expected64))
    return np.where(finite, beyond, got64 != expected64)


def _with_hint(text: str, hint: str) -> str:
    return f"{text}; hint: {hint}" if hint else text


def close(
    name: str,
    output: str,
    what: str = "",
    weight: float = 1.0,
    hint: str = "",
    any_shape: bool = False,
    **tolerance: float,
) -> Check:
    """The student's output equals the reference's (shape first, then values within tolerance).
    `what` names the compared quantity when the check's name does not; `hint` is shown on failure
    (public and hidden cases alike: it must say nothing about the expected values). `any_shape`:
    the spec allows any shape holding the same values in the same (row-major) order, e.g. an
    image as (784,), (28, 28) or (28, 28, 1); then only the number of values must agree."""
    tol = {**F32, **tolerance}

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        mine, wanted = np.asarray(got[output]), np.asarray(expected[output])
        if any_shape and mine.size == wanted.size:
            mine = mine.reshape(wanted.shape)
        problem = mismatch(mine, wanted, tol["rtol"], tol["atol"], reveal)
        if problem:
            raise Verdict(_with_hint(f"{_label(what)}{problem}", hint))

    return Check(name, (output,), judge, weight)


def equal(name: str, output: str, what: str = "", weight: float = 1.0, hint: str = "") -> Check:
    """Exactly the reference's values (integer results, orders, flags)."""

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        g, e = np.asarray(got[output]), np.asarray(expected[output])
        if g.shape != e.shape:
            text = f"{_label(what)}expected shape {e.shape}, got shape {g.shape}"
            if reveal and e.size <= 12 and g.size <= 12:  # e.g. a shape, a list of counts
                text = f"{_label(what)}expected {e.tolist()}, got {g.tolist()}"
            raise Verdict(_with_hint(text, hint))
        if not np.array_equal(g, e):
            index = np.unravel_index(int(np.argmax(g != e)), g.shape) if g.ndim else ()
            text = f"{_label(what)}differs{_index(index)}"
            if reveal and e.size <= 12:
                text += f": expected {e.tolist()}, got {g.tolist()}"
            raise Verdict(_with_hint(text, hint))

    return Check(name, (output,), judge, weight)


# A gradient whose shape is not its input's almost always skipped summing over broadcast axes.
# (Both hints are shown in hidden mode too: they say nothing about expected values.)
SHAPE_HINT = "a gradient has the shape of its input: sum over the axes that were broadcast"


# For gradients a module problem gets through backward(): its own code is only the forward.
BACKWARD_HINT = (
    "with the forward checks passing, look at the op gradients (ops_backward) and backward() "
    "(autodiff) this runs through"
)


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
        label = _label(what)
        shape_wrong = np.shape(got[output]) != np.shape(expected[output])
        if shape_wrong:
            raise Verdict(f"{label}{against_reference}; hint: {SHAPE_HINT}")
        if numeric not in got:
            raise Verdict(f"{label}{against_reference}")
        # Hidden cases: the finite differences of a correct forward are the expected gradient, so
        # they get no magnitudes either.
        against_own = mismatch(
            got[output],
            got[numeric],
            NUMERIC["rtol"],
            NUMERIC["atol"],
            reveal,
            against="those finite differences",
        )
        if against_own is None:
            raise Verdict(
                f"{label}your gradient agrees with finite differences of your own forward, "
                f"but your forward disagrees with the reference: fix the forward first "
                f"({against_reference})"
            )
        if not reveal:
            raise Verdict(
                f"{label}your gradient disagrees with finite differences of your own forward "
                f"({against_own}); vs the reference: {against_reference}"
            )
        numeric_ok = (
            mismatch(got[numeric], expected[output], NUMERIC["rtol"], NUMERIC["atol"], True) is None
        )
        if numeric_ok:
            raise Verdict(
                f"{label}your forward is right, but your gradient disagrees with finite "
                f"differences of your own forward: {against_reference}"
            )
        raise Verdict(
            f"{label}your gradient disagrees with finite differences of your own forward "
            f"({against_own}), and your forward disagrees with the reference: fix the forward "
            "first"
        )

    # The tolerance, for views that show more than the message (the notebook's gradient pictures).
    return Check(name, (output,), judge, weight, extra={"gradient": tol})


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

    return Check(name, outputs, judge, weight, kind=DIAGNOSTIC)
