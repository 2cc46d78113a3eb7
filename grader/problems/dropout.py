"""dropout: Dropout, seeded mask (one rand call), rescaling by 1/(1-p), p as the drop probability,
eval mode, gradient.

init.randb is a numpy stand-in here (one np.random.rand call, True where <= p; graded in `init`).
Relies on: multiply and divide_scalar (ops_forward), their gradients (ops_backward) and backward()
(autodiff) for the gradient check.
"""

from __future__ import annotations

import numpy as np

from grader.compare import BACKWARD_HINT, close, distinct, holds
from grader.problems import op_cases
from grader.problems.base import Problem

_NN = "needle/nn/nn_basic.py"
PROBLEM = Problem(
    id="dropout",
    title="Dropout",
    points=4,
    regions=((_NN, "Dropout.forward"),),
    files=("needle/nn/__init__.py", _NN, "needle/init/__init__.py", "needle/init/init_basic.py"),
    needs=op_cases.needs_ops(("DivScalar",)),
    hint="training: x * randb(p=1-p) / (1-p), one rand call; eval: identity",
)
P = 0.3


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "seed": np.array(rng.integers(0, 2**31)),
        "x": rng.uniform(0.5, 2, (6, 5)).astype(np.float32),
        "g": rng.standard_normal((6, 5)).astype(np.float32),
    }


def probe(p) -> None:
    import needle as ndl

    from grader.problems.stand_ins import use_numpy_constructors

    use_numpy_constructors(ndl, ("randb", "ones", "zeros"))  # graded in `init`
    i = p.inputs
    seed = int(i["seed"])
    with p.step("train"):
        np.random.seed(seed)
        p.put("train", p.array(ndl.nn.Dropout(P)(ndl.Tensor(i["x"]))))
    with p.step("eval"):
        np.random.seed(seed)
        layer = ndl.nn.Dropout(P)
        layer.eval()  # its return value is not part of the assignment
        p.put("eval", p.array(layer(ndl.Tensor(i["x"]))))
    with p.step("grad"):
        np.random.seed(seed)
        x = ndl.Tensor(i["x"])
        ndl.nn.Dropout(P)(x).backward(ndl.Tensor(i["g"]))
        p.put("grad", p.array(x.grad))
    with p.step("large"):
        np.random.seed(seed + 1)
        p.put("large", p.array(ndl.nn.Dropout(P)(ndl.Tensor(np.ones((200, 100), np.float32)))))


def _statistics(got):
    y = np.asarray(got["large"], np.float64)
    if y.shape != (200, 100):
        return f"expected shape (200, 100), got {y.shape}"
    dropped = float(np.mean(y == 0))
    # 20000 draws: the dropped fraction is within 0.01 of p with overwhelming probability.
    if abs(dropped - P) > 0.02:
        return f"dropped a fraction {dropped:.3f} of ones with p={P}; p is the DROP probability"
    kept = y[y != 0]
    if kept.size and not np.allclose(kept, 1 / (1 - P), rtol=1e-5):
        wrong = float(kept[np.argmax(np.abs(kept - 1 / (1 - P)))])
        came, wanted = distinct(wrong, 1 / (1 - P), digits=4)
        return f"kept values are {came}, expected 1/(1-p) = {wanted}"
    return None


CHECKS = [
    close("training forward (seeded mask, rescaled)", "train", weight=2.0),
    holds("drops a fraction p and rescales by 1/(1-p)", ("large",), _statistics, weight=2.0),
    close("eval mode is the identity", "eval"),
    close("gradient", "grad", hint=BACKWARD_HINT),
]
