"""What a problem declaration is made of (the comparisons its checks use: grader.compare).

A problem module (`grader/problems/<id>.py`) defines:
  - `PROBLEM = Problem(...)`: id, title, points, the solution regions it covers, the files it needs;
  - `make_inputs(rng) -> dict[str, np.ndarray]`: the case, from a seeded generator (trusted side);
  - `probe(p)`: runs in the probe process against the student's needle and `p.put`s numeric outputs;
  - `CHECKS`: a list of `Check`s, evaluated by the judge on student and reference outputs;
  - optionally `IMPORTS`: modules of the submission the probe imports right after needle (e.g.
    "apps.mlp_resnet"), so that an import failure there is reported as such for every check.
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
    # The regions of OTHER problems this problem's probe runs (its "Relies on"): while they are
    # stubs, the report lists them all at once as what this problem also needs.
    needs: tuple[tuple[str, str], ...] = ()
    # The typical exceptions of this problem's code, and what to tell the student about each.
    error_hints: tuple[ErrorHint, ...] = ()

    @property
    def needed_files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(CORE_FILES + self.files + tuple(p for p, _ in self.regions)))


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
    *(
        ErrorHint(
            "AttributeError",
            f"the assignment fixes this attribute's name: {rule}; the grader reads it by that name",
            says=f"has no attribute '{name}'",
        )
        for name, rule in (
            ("weight", "Linear, BatchNorm1d and LayerNorm1d keep their parameters as weight, bias"),
            ("bias", "Linear, BatchNorm1d and LayerNorm1d keep their parameters as weight, bias"),
            ("running_mean", "BatchNorm1d keeps its statistics as running_mean, running_var"),
            ("running_var", "BatchNorm1d keeps its statistics as running_mean, running_var"),
            ("training", "every Module has training, set by train() and eval()"),
        )
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


def spread(rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """Uniform values with random signs whose magnitudes lie in [low, high] (away from kinks)."""
    magnitude = rng.uniform(low, high, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)
