"""The op cases shared by `ops_forward` and `ops_backward`: one line per op and shape.

Each case: a name, how to call the student's op (`call(ndl, *tensors)`), the same in numpy (used
only to know the output's shape on the trusted side), the input shapes and each input's domain.
Domains keep inputs where the op is smooth: "pos" in [0.5, 2] (log, a base of a power), "away"
with magnitudes in [0.3, 2] (divisors, ReLU away from its kink), "any" in [-2, 2].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.problems.base import spread


@dataclass(frozen=True)
class OpCase:
    name: str
    call: Callable[..., Any]
    numpy: Callable[..., np.ndarray]
    shapes: tuple[tuple[int, ...], ...]
    domains: tuple[str, ...]

    @property
    def weight(self) -> float:
        """Ops the skeleton gives (no solution region) are checked but earn no points."""
        return 0.0 if self.name in GIVEN else 1.0


GIVEN = ("add", "add_scalar", "multiply", "mul_scalar")
# The op classes students write (one `compute` and one `gradient` region each), in file order.
OPS_FILE = "needle/ops/ops_mathematic.py"
STUDENT_OPS = (
    "EWisePow",
    "PowerScalar",
    "EWiseDiv",
    "DivScalar",
    "Transpose",
    "Reshape",
    "BroadcastTo",
    "Summation",
    "MatMul",
    "Negate",
    "Log",
    "Exp",
    "ReLU",
    "Tanh",
)


def op_regions(method: str, names: tuple[str, ...] = STUDENT_OPS) -> tuple[tuple[str, str], ...]:
    """The (file, "Op.method") region of every student op (or of those `names`)."""
    return tuple((OPS_FILE, f"{name}.{method}") for name in names)


# backward() and the topological sort (the autodiff problem's regions).
AUTODIFF = (
    ("needle/autograd.py", "compute_gradient_of_variables"),
    ("needle/autograd.py", "find_topo_sort"),
    ("needle/autograd.py", "topo_sort_dfs"),
)


def needs_ops(names: tuple[str, ...], backward: bool = True) -> tuple[tuple[str, str], ...]:
    """The regions of other problems that code built from the ops `names` runs: their computes,
    and with `backward` their gradients and backward() itself."""
    regions = op_regions("compute", names)
    if backward:
        regions += op_regions("gradient", names) + AUTODIFF
    return regions


def _case(name, call, numpy, shapes, domains=None) -> OpCase:
    return OpCase(name, call, numpy, tuple(shapes), tuple(domains or ["any"] * len(shapes)))


M = (3, 4)
CASES = (
    _case("add", lambda n, a, b: n.add(a, b), np.add, [M, M]),
    _case("add_scalar", lambda n, a: n.add_scalar(a, 1.7), lambda a: a + 1.7, [M]),
    _case("multiply", lambda n, a, b: n.multiply(a, b), np.multiply, [M, M]),
    _case("mul_scalar", lambda n, a: n.mul_scalar(a, -2.5), lambda a: a * -2.5, [M]),
    _case("power", lambda n, a, b: n.power(a, b), np.power, [M, M], ["pos", "any"]),
    _case("power_scalar", lambda n, a: n.power_scalar(a, 3), lambda a: a**3, [M]),
    _case(
        "power_scalar_real", lambda n, a: n.power_scalar(a, -1.5), lambda a: a**-1.5, [M], ["pos"]
    ),
    _case("divide", lambda n, a, b: n.divide(a, b), np.divide, [M, M], ["any", "away"]),
    _case("divide_scalar", lambda n, a: n.divide_scalar(a, 4.0), lambda a: a / 4.0, [M]),
    _case(
        "transpose_default",
        lambda n, a: n.transpose(a),
        lambda a: np.swapaxes(a, -1, -2),
        [(2, 3, 4)],
    ),
    _case(
        "transpose_axes",
        lambda n, a: n.transpose(a, axes=(0, 1)),
        lambda a: np.swapaxes(a, 0, 1),
        [(2, 3, 4)],
    ),
    _case("reshape", lambda n, a: n.reshape(a, (2, 6)), lambda a: a.reshape(2, 6), [M]),
    _case(
        "reshape_rank", lambda n, a: n.reshape(a, (4, 6)), lambda a: a.reshape(4, 6), [(2, 3, 4)]
    ),
    _case(
        "broadcast_to",
        lambda n, a: n.broadcast_to(a, (3, 4)),
        lambda a: np.broadcast_to(a, (3, 4)),
        [(3, 1)],
    ),
    _case(
        "broadcast_rank",
        lambda n, a: n.broadcast_to(a, (2, 3, 4)),
        lambda a: np.broadcast_to(a, (2, 3, 4)),
        [(4,)],
    ),
    _case(
        "broadcast_both",
        lambda n, a: n.broadcast_to(a, (2, 3, 4)),
        lambda a: np.broadcast_to(a, (2, 3, 4)),
        [(3, 1)],
    ),
    _case("summation_all", lambda n, a: n.summation(a), np.sum, [M]),
    _case("summation_axis", lambda n, a: n.summation(a, axes=1), lambda a: np.sum(a, axis=1), [M]),
    _case(
        "summation_axes",
        lambda n, a: n.summation(a, axes=(0, 2)),
        lambda a: np.sum(a, axis=(0, 2)),
        [(2, 3, 4)],
    ),
    _case("matmul", lambda n, a, b: n.matmul(a, b), np.matmul, [(3, 4), (4, 5)]),
    _case("matmul_batched", lambda n, a, b: n.matmul(a, b), np.matmul, [(2, 3, 4), (2, 4, 5)]),
    _case("matmul_batch_left", lambda n, a, b: n.matmul(a, b), np.matmul, [(2, 3, 4), (4, 5)]),
    _case("matmul_batch_right", lambda n, a, b: n.matmul(a, b), np.matmul, [(3, 4), (2, 4, 5)]),
    _case("negate", lambda n, a: n.negate(a), np.negative, [M]),
    _case("log", lambda n, a: n.log(a), np.log, [M], ["pos"]),
    _case("exp", lambda n, a: n.exp(a), np.exp, [M]),
    _case("relu", lambda n, a: n.relu(a), lambda a: np.maximum(a, 0), [M], ["away"]),
    _case("tanh", lambda n, a: n.tanh(a), np.tanh, [M]),
)


def draw(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    if domain == "pos":
        return rng.uniform(0.5, 2.0, size=shape)
    if domain == "away":
        return spread(rng, shape, 0.3, 2.0)
    return rng.uniform(-2.0, 2.0, size=shape)


def make_inputs(rng: np.random.Generator, dtype: Any) -> dict[str, np.ndarray]:
    """Per case: inputs "<case>/<i>", and (float64 only) a random output gradient "<case>/g"."""
    inputs: dict[str, np.ndarray] = {}
    for case in CASES:
        pairs = zip(case.shapes, case.domains, strict=True)
        arrays = [draw(rng, shape, domain) for shape, domain in pairs]
        for index, array in enumerate(arrays):
            inputs[f"{case.name}/{index}"] = array.astype(dtype)
        if dtype == np.float64:
            out_shape = np.shape(case.numpy(*arrays))
            inputs[f"{case.name}/g"] = rng.standard_normal(out_shape)
    return inputs


def case_inputs(inputs: dict[str, np.ndarray], case: OpCase) -> list[np.ndarray]:
    return [inputs[f"{case.name}/{index}"] for index in range(len(case.shapes))]
