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
from dataclasses import dataclass, field, replace

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
    # Wall-clock limit of the probe process. On solutions/ the slowest problem (ops_backward, 60
    # numdifftools gradients) takes 0.6 s here, mlp_resnet 0.2 s, the others under 0.45 s. 20 s
    # is 30 times the slowest: room for a CI machine under load or grading in parallel, while a
    # student's endless loop costs 20 s instead of a minute.
    timeout: float = 20.0
    hint: str = ""
    # The typical exceptions of this problem's code, and what to tell the student about each.
    error_hints: tuple[ErrorHint, ...] = ()

    @property
    def needed_files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(CORE_FILES + self.files + tuple(p for p, _ in self.regions)))


class Verdict(Exception):
    """Raised by a comparison: the check failed, with this student-facing message."""


# What a check tells a student, in the order the short report shows failures:
DIAGNOSTIC = "diagnostic"  # a property that names a cause (moments stored, eps, a graph kept alive)
VALUE = "value"  # one output against the reference
TRAJECTORY = "trajectory"  # one member of a series (steps, cases): a symptom, shown folded
KINDS = (DIAGNOSTIC, VALUE, TRAJECTORY)


@dataclass(frozen=True)
class Check:
    """One scored check. `judge(got, expected)` gets the outputs named in `outputs` (student's and
    reference's, as dicts) and raises Verdict on failure; `reveal` tells it whether expected values
    may be shown (public cases only).

    `kind` orders failures in the short report (KINDS); checks sharing a `group` (a series, e.g.
    "parameters after steps 1-4") fold into one line there, naming the first failing `member`
    ("at step 2", "wrt the input")."""

    name: str
    outputs: tuple[str, ...]
    judge: Callable[[dict[str, np.ndarray], dict[str, np.ndarray], bool], None]
    weight: float = 1.0
    extra: dict = field(default_factory=dict)
    kind: str = VALUE
    group: str = ""
    member: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"check {self.name!r}: kind {self.kind!r} is not one of {KINDS}")


def diagnostic(check: Check) -> Check:
    """The same check, marked as one that names a cause (shown first)."""
    return replace(check, kind=DIAGNOSTIC)


def series(check: Check, group: str, member: str) -> Check:
    """The same check as `member` (e.g. "step 2") of the series `group` (folded in the report)."""
    return replace(check, kind=TRAJECTORY, group=group, member=member)


@dataclass(frozen=True)
class ErrorHint:
    """What to tell a student whose step raised `type` (in a file whose path ends with `where`,
    with a message containing `says`): `hint`. `drop_message` leaves out an unreadable message
    (a KeyError's text is the repr of the missing key, e.g. a whole tensor)."""

    type: str
    hint: str
    where: str = ""
    says: str = ""
    drop_message: bool = False

    def matches(self, type_name: str, message: str, where: str) -> bool:
        file = where.rsplit(":", 1)[0]
        return (
            type_name == self.type
            and (not self.where or file.endswith(self.where))
            and self.says in message
        )


# Exceptions any problem can run into, through code that problems share.
COMMON_ERROR_HINTS = (
    ErrorHint(
        "KeyError",
        "backward() reached a node that was never given an adjoint: is find_topo_sort "
        "returning the nodes in topological order (inputs before outputs)? (graded in autodiff)",
        where="needle/autograd.py",
        drop_message=True,
    ),
    ErrorHint(
        "RecursionError",
        "find_topo_sort or backward() recursed without end: mark a node visited before "
        "visiting its inputs (graded in autodiff)",
        where="needle/autograd.py",
    ),
    ErrorHint(
        "ValueError",
        "a gradient() passed out_grad to broadcast_to without reshaping it first: keep the "
        "reduced axes as 1 (reshape), then broadcast (op gradients are graded in ops_backward)",
        says="broadcast_to: cannot broadcast",
    ),
    ErrorHint(
        "TypeError",
        "a value became float64: scale by Python floats, not numpy float64 arrays or scalars",
        says="dtype differs",
    ),
    ErrorHint(
        "AttributeError",
        "compute() receives and returns numpy arrays; gradient() works on Tensors with needle ops",
        says="'numpy.ndarray' object has no attribute",
    ),
)


def explain_error(
    type_name: str, message: str, where: str, hints: tuple[ErrorHint, ...] = ()
) -> str:
    """ "Type: message (file:line); hint: ..." for a step's exception, with the first matching
    hint of `hints` (the problem's own) or of COMMON_ERROR_HINTS."""
    hint = next(
        (h for h in (*hints, *COMMON_ERROR_HINTS) if h.matches(type_name, message, where)), None
    )
    text = type_name
    if message and not (hint and hint.drop_message):
        text += f": {message}"
    if where:
        text += f" ({where})"
    return f"{text}; hint: {hint.hint}" if hint else text


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
    beyond = int(np.count_nonzero(error > allowed))
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


def _with_hint(text: str, hint: str) -> str:
    return f"{text}; hint: {hint}" if hint else text


def close(
    name: str,
    output: str,
    what: str = "",
    weight: float = 1.0,
    hint: str = "",
    **tolerance: float,
) -> Check:
    """The student's output equals the reference's (shape first, then values within tolerance).
    `what` names the compared quantity when the check's name does not; `hint` is shown on failure
    (public and hidden cases alike: it must say nothing about the expected values)."""
    tol = {**F32, **tolerance}

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        problem = mismatch(got[output], expected[output], tol["rtol"], tol["atol"], reveal)
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

    return Check(name, outputs, judge, weight, kind=DIAGNOSTIC)


def spread(rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """Uniform values with random signs whose magnitudes lie in [low, high] (away from kinks)."""
    magnitude = rng.uniform(low, high, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)
