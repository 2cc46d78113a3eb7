"""nn_basic: Linear, Identity, ReLU, Flatten, Sequential, Residual, L2Loss.

Linear's weights are set from the inputs before its forward is checked, so a wrong initializer costs
points in `init` only; Linear's own initialization is checked against the student's own
kaiming_uniform (same seed, same order). After that check, kaiming_uniform is replaced by a plain
seeded draw (stand_ins.use_plain_weights), so a kaiming_uniform that raises costs nothing here.

Relies on: the ops the modules are written with (matmul, broadcast_to, reshape, relu, summation,
power_scalar, divide_scalar: ops_forward), their gradients (ops_backward) and backward()
(autodiff) for the Linear gradient checks.
"""

from __future__ import annotations

import numpy as np

from grader.compare import BACKWARD_HINT, close, equal, holds
from grader.problems import op_cases
from grader.problems.base import Problem

_NN = "needle/nn/nn_basic.py"
PROBLEM = Problem(
    id="nn_basic",
    title="Basic modules (Linear, ReLU, Sequential, Flatten, Residual)",
    points=10,
    regions=(
        (_NN, "Identity.forward"),
        (_NN, "Linear.__init__"),
        (_NN, "Linear.forward"),
        (_NN, "Flatten.forward"),
        (_NN, "ReLU.forward"),
        (_NN, "Sequential.forward"),
        (_NN, "L2Loss.forward"),
        (_NN, "Residual.forward"),
    ),
    files=(
        "needle/nn/__init__.py",
        _NN,
        "needle/init/__init__.py",
        "needle/init/init_basic.py",
        "needle/init/init_initializers.py",
    ),
    needs=op_cases.needs_ops(
        (
            "MatMul",
            "Transpose",
            "BroadcastTo",
            "Reshape",
            "ReLU",
            "Summation",
            "PowerScalar",
            "DivScalar",
        )
    ),
    hint="Linear: weight (in, out), bias (1, out) broadcast explicitly to the output",
)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    f32 = np.float32
    return {
        "seed": np.array(rng.integers(0, 2**31)),
        "x": rng.uniform(-2, 2, (5, 4)).astype(f32),
        "x3": rng.uniform(-2, 2, (2, 5, 4)).astype(f32),
        "w": rng.uniform(-1, 1, (4, 3)).astype(f32),
        "b": rng.uniform(-1, 1, (1, 3)).astype(f32),
        "w2": rng.uniform(-1, 1, (3, 4)).astype(f32),
        "b2": rng.uniform(-1, 1, (1, 4)).astype(f32),
        "g": rng.standard_normal((5, 3)).astype(f32),
        "img": rng.uniform(-2, 2, (2, 3, 4)).astype(f32),
        "target": rng.uniform(-2, 2, (5, 4)).astype(f32),
    }


def _linear(ndl, p, w, b, bias=True):
    layer = ndl.nn.Linear(w.shape[0], w.shape[1], bias=bias)
    layer.weight.data = ndl.Tensor(w)
    if bias:
        layer.bias.data = ndl.Tensor(b)
    return layer


def probe(p) -> None:
    import needle as ndl

    nn, i = ndl.nn, p.inputs
    with p.step("init"):
        np.random.seed(int(i["seed"]))
        layer = nn.Linear(4, 3)
        p.put("init/weight_shape", layer.weight.shape)
        p.put("init/bias_shape", layer.bias.shape)
        p.put("init/count", len(layer.parameters()))
        p.put("init/weight", p.array(layer.weight))
        p.put("init/bias", p.array(layer.bias))
        np.random.seed(int(i["seed"]))
        p.put("init/own_weight", p.array(ndl.init.kaiming_uniform(4, 3)))
        p.put("init/own_bias", p.array(ndl.init.kaiming_uniform(3, 1)).reshape(-1))
    from grader.problems.stand_ins import use_plain_weights

    use_plain_weights(ndl)  # graded in `init`; the steps below set the weights themselves
    with p.step("linear"):
        p.put("linear", p.array(_linear(ndl, p, i["w"], i["b"])(ndl.Tensor(i["x"]))))
    with p.step("linear_nd"):
        p.put("linear_nd", p.array(_linear(ndl, p, i["w"], i["b"])(ndl.Tensor(i["x3"]))))
    with p.step("linear_nobias"):
        layer = _linear(ndl, p, i["w"], None, bias=False)
        p.put("linear_nobias", p.array(layer(ndl.Tensor(i["x"]))))
    with p.step("linear_grad"):
        layer = _linear(ndl, p, i["w"], i["b"])
        x = ndl.Tensor(i["x"])
        layer(x).backward(ndl.Tensor(i["g"]))
        p.put("linear_grad/w", p.array(layer.weight.grad))
        p.put("linear_grad/b", p.array(layer.bias.grad))
        p.put("linear_grad/x", p.array(x.grad))
    with p.step("relu"):
        p.put("relu", p.array(nn.ReLU()(ndl.Tensor(i["x"]))))
    with p.step("identity"):
        p.put("identity", p.array(nn.Identity()(ndl.Tensor(i["x"]))))
    with p.step("flatten"):
        p.put("flatten", p.array(nn.Flatten()(ndl.Tensor(i["img"]))))
    with p.step("sequential"):
        model = nn.Sequential(
            _linear(ndl, p, i["w"], i["b"]), nn.ReLU(), _linear(ndl, p, i["w2"], i["b2"])
        )
        p.put("sequential", p.array(model(ndl.Tensor(i["x"]))))
    with p.step("residual"):
        inner = nn.Sequential(
            _linear(ndl, p, i["w"], i["b"]), nn.ReLU(), _linear(ndl, p, i["w2"], i["b2"])
        )
        p.put("residual", p.array(nn.Residual(inner)(ndl.Tensor(i["x"]))))
    with p.step("l2"):
        p.put("l2", p.array(nn.L2Loss()(ndl.Tensor(i["x"]), ndl.Tensor(i["target"]))))


def _own_init(got):
    problems = []
    for name in ("weight", "bias"):
        mine = np.asarray(got[f"init/{name}"]).reshape(-1)
        own = np.asarray(got[f"init/own_{name}"]).reshape(-1)
        if mine.shape != own.shape or not np.allclose(mine, own, rtol=1e-6, atol=0):
            problems.append(name)
    if problems:
        return (
            f"Linear's {' and '.join(problems)} differ from kaiming_uniform(in, out) then "
            "kaiming_uniform(out, 1) drawn with the same seed (create weight first, then bias)"
        )
    return None


CHECKS = [
    equal("Linear weight shape (in, out)", "init/weight_shape", "weight.shape"),
    equal("Linear bias shape (1, out)", "init/bias_shape", "bias.shape"),
    equal("Linear has two parameters", "init/count", "len(parameters())"),
    holds(
        "Linear initialization uses kaiming_uniform",
        ("init/weight", "init/bias", "init/own_weight", "init/own_bias"),
        _own_init,
    ),
    close("Linear forward", "linear"),
    close("Linear forward on (2, 5, 4) input", "linear_nd"),
    close("Linear without bias", "linear_nobias"),
    close("Linear gradient wrt weight", "linear_grad/w", hint=BACKWARD_HINT),
    close(
        "Linear gradient wrt bias",
        "linear_grad/b",
        "bias.grad (shape (1, out))",
        hint=BACKWARD_HINT,
    ),
    close("Linear gradient wrt input", "linear_grad/x", hint=BACKWARD_HINT),
    close("ReLU module", "relu"),
    close("Identity module", "identity"),
    close("Flatten", "flatten"),
    close("Sequential", "sequential"),
    close("Residual", "residual"),
    close("L2Loss", "l2"),
]
