"""softmax_loss: nn.SoftmaxLoss, value, gradient (through backward) and stability.

LogSumExp (graded in `logsumexp`) and init.one_hot (graded in `init`) are numpy stand-ins here.
Relies on: the op computes the loss is written with (multiply, summation, divide: ops_forward),
their gradients (ops_backward) and backward() (autodiff) for the gradient check.
"""

from __future__ import annotations

import numpy as np

from grader.compare import close, gradient
from grader.problems import op_cases
from grader.problems.base import Problem

PROBLEM = Problem(
    id="softmax_loss",
    title="SoftmaxLoss",
    points=5,
    regions=(("needle/nn/nn_basic.py", "SoftmaxLoss.forward"),),
    files=(
        "needle/nn/__init__.py",
        "needle/nn/nn_basic.py",
        "needle/ops/ops_logarithmic.py",
        "needle/init/__init__.py",
        "needle/init/init_basic.py",
    ),
    needs=op_cases.needs_ops(("Summation", "EWiseDiv", "DivScalar")),
    hint="mean over the batch of logsumexp(z) - z_y; pick z_y with init.one_hot",
)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "z": rng.uniform(-3, 3, (8, 5)),
        "y": rng.integers(0, 5, 8).astype(np.uint8),
        "big": rng.uniform(-1, 1, (4, 5)) * 1e5,
        "big_y": rng.integers(0, 5, 4).astype(np.uint8),
    }


def probe(p) -> None:
    import needle as ndl

    from grader.probe import numeric_gradient
    from grader.problems.stand_ins import use_numpy_constructors, use_numpy_logsumexp

    use_numpy_logsumexp(ndl)  # LogSumExp is graded in `logsumexp`, not here
    use_numpy_constructors(ndl, ("one_hot",))  # graded in `init`
    z, y = p.inputs["z"], p.inputs["y"]
    loss = ndl.nn.SoftmaxLoss()
    with p.step("loss"):
        p.put("loss", p.array(loss(ndl.Tensor(z.astype(np.float32)), ndl.Tensor(y))))
    with p.step("grad"):
        logits = ndl.Tensor(z)
        loss(logits, ndl.Tensor(y)).backward()
        p.put("grad", p.array(logits.grad))
    with p.step("num"):
        forward = lambda a: p.array(loss(ndl.Tensor(a), ndl.Tensor(y)))  # noqa: E731
        p.put("num", numeric_gradient(forward, z, np.ones(())))
    with p.step("big"):
        big = ndl.Tensor(p.inputs["big"].astype(np.float32))
        p.put("big", p.array(loss(big, ndl.Tensor(p.inputs["big_y"]))))


CHECKS = [
    close("loss value (batch mean, 0-d)", "loss"),
    gradient("gradient wrt the logits", "grad", "num"),
    # The loss is ~1e5 here; float32 rounding of the inputs alone is ~0.01.
    close("stays finite and correct for logits of 1e5 (float32)", "big", rtol=1e-5, atol=0.05),
]
