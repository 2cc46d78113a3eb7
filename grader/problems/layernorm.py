"""layernorm: LayerNorm1d forward (with a nearly constant row, where eps matters), gradients.

init.ones and init.zeros are numpy stand-ins here (graded in `init`). Relies on: the op computes the
forward is written with (summation, divide_scalar, broadcast_to, reshape, negate, power_scalar,
divide, multiply: ops_forward), their gradients (ops_backward) and backward() (autodiff) for the
gradient checks.
"""

from __future__ import annotations

import numpy as np

from grader.compare import BACKWARD_HINT, close, equal
from grader.problems import op_cases
from grader.problems.base import Problem

_NN = "needle/nn/nn_basic.py"
PROBLEM = Problem(
    id="layernorm",
    title="LayerNorm1d",
    points=5,
    regions=((_NN, "LayerNorm1d.__init__"), (_NN, "LayerNorm1d.forward")),
    files=("needle/nn/__init__.py", _NN, "needle/init/__init__.py", "needle/init/init_basic.py"),
    needs=op_cases.needs_ops(
        ("Summation", "DivScalar", "BroadcastTo", "Reshape", "Negate", "PowerScalar", "EWiseDiv")
    ),
    hint="statistics over axis 1 (per row), biased variance, eps inside the square root",
)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = rng.uniform(-2, 2, (6, 5))
    x[2] = 0.7 + rng.uniform(-1e-3, 1e-3, 5)  # variance ~3e-7 < eps: where eps goes shows
    return {
        "x": x.astype(np.float32),
        "w": rng.uniform(0.5, 1.5, 5).astype(np.float32),
        "b": rng.uniform(-1, 1, 5).astype(np.float32),
        "g": rng.standard_normal((6, 5)).astype(np.float32),
    }


def probe(p) -> None:
    import needle as ndl

    from grader.problems.stand_ins import use_numpy_constructors

    use_numpy_constructors(ndl, ("ones", "zeros"))  # graded in `init`
    i = p.inputs
    with p.step("init"):
        layer = ndl.nn.LayerNorm1d(5)
        p.put("init/weight", p.values(layer.weight))
        p.put("init/bias", p.values(layer.bias))
        p.put("init/count", len(layer.parameters()))
    with p.step("plain"):
        p.put("plain", p.array(ndl.nn.LayerNorm1d(5)(ndl.Tensor(i["x"]))))

    def affine():
        layer = ndl.nn.LayerNorm1d(5)
        p.assign(layer.weight, i["w"])
        p.assign(layer.bias, i["b"])
        return layer

    with p.step("affine"):
        p.put("affine", p.array(affine()(ndl.Tensor(i["x"]))))
    with p.step("eval"):
        layer = affine()
        layer.eval()  # its return value is not part of the assignment
        p.put("eval", p.array(layer(ndl.Tensor(i["x"]))))
    with p.step("grad"):
        layer = affine()
        x = ndl.Tensor(i["x"])
        layer(x).backward(ndl.Tensor(i["g"]))
        p.put("grad/x", p.array(x.grad))
        p.put("grad/w", p.values(layer.weight.grad))
        p.put("grad/b", p.values(layer.bias.grad))


CHECKS = [
    close("weight starts at ones, bias at zeros", "init/weight"),
    close("bias starts at zeros", "init/bias"),
    equal("two parameters", "init/count", "len(parameters())"),
    # A nearly constant row normalises to values of size ~0.2 that depend on where eps goes;
    # float32 cancellation in x - mean (or in E[x^2] - E[x]^2, an equally correct variance) costs
    # up to ~1e-3 relative there, hence atol 1e-3.
    close("forward (default weight and bias)", "plain", atol=1e-3),
    close("forward with weight and bias", "affine", atol=1e-3),
    close("same result in eval mode", "eval", atol=1e-3),
    # That row's input gradient is ~500 (1/std); the same cancellation costs ~1e-3 relative.
    close("gradient wrt the input", "grad/x", rtol=3e-3, atol=1e-3, hint=BACKWARD_HINT),
    close("gradient wrt weight", "grad/w", atol=1e-3, hint=BACKWARD_HINT),
    close("gradient wrt bias", "grad/b", hint=BACKWARD_HINT),
]
