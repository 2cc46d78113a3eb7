"""logsumexp: LogSumExp (any axes) and LogSoftmax, forward, gradient and numerical stability.

Relies on: ops_forward for the gradients only (gradient() is written in needle ops: exp,
summation, reshape, broadcast_to, negate, multiply, divide); the forwards are plain numpy.
"""

from __future__ import annotations

import numpy as np

from grader.compare import close, float32_ulps, gradient
from grader.problems import op_cases
from grader.problems.base import Problem

_LOG = "needle/ops/ops_logarithmic.py"
PROBLEM = Problem(
    id="logsumexp",
    title="LogSumExp and LogSoftmax",
    points=8,
    regions=(
        (_LOG, "LogSumExp.compute"),
        (_LOG, "LogSumExp.gradient"),
        (_LOG, "LogSoftmax.compute"),
        (_LOG, "LogSoftmax.gradient"),
    ),
    files=(_LOG,),
    needs=op_cases.needs_ops(
        ("Exp", "Summation", "Reshape", "BroadcastTo", "Negate", "EWiseDiv"), backward=False
    ),
    hint="subtract the max before exp; the gradient of logsumexp is the softmax",
)

# (name, input shape, axes)
LSE_CASES = (
    ("axis1", (4, 5), (1,)),
    ("axis0", (4, 5), (0,)),
    ("all", (4, 5), None),
    ("axes12", (2, 3, 4), (1, 2)),
)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    inputs = {}
    for name, shape, axes in LSE_CASES:
        inputs[f"x_{name}"] = rng.uniform(-3, 3, shape)
        out_shape = np.sum(np.zeros(shape), axis=axes).shape
        inputs[f"g_{name}"] = rng.standard_normal(out_shape)
    inputs["x_lsm"] = rng.uniform(-3, 3, (4, 5))
    inputs["g_lsm"] = rng.standard_normal((4, 5))
    # Stability: values around +-1e5 in float32 and 1e10 in float64, where exp overflows.
    inputs["big"] = rng.uniform(-1, 1, (3, 6)) + 1e5 * rng.choice([-1.0, 1.0], (3, 1))
    inputs["huge"] = rng.uniform(-1, 1, (3, 6)) + 1e10
    return inputs


def probe(p) -> None:
    import needle as ndl

    from grader.probe import numeric_gradient

    for name, _, axes in LSE_CASES:
        x, g = p.inputs[f"x_{name}"], p.inputs[f"g_{name}"]
        with p.step(f"fwd_{name}"):
            p.put(f"fwd_{name}", p.array(ndl.logsumexp(ndl.Tensor(x.astype(np.float32)), axes)))
        with p.step(f"grad_{name}"):
            node = ndl.logsumexp(ndl.Tensor(x), axes)
            p.put(f"grad_{name}", p.array(node.op.gradient_as_tuple(ndl.Tensor(g), node)[0]))
        with p.step(f"num_{name}"):
            forward = lambda a, axes=axes: p.array(ndl.logsumexp(ndl.Tensor(a), axes))  # noqa: E731
            p.put(f"num_{name}", numeric_gradient(forward, x, g))
    x, g = p.inputs["x_lsm"], p.inputs["g_lsm"]
    with p.step("lsm_fwd"):
        p.put("lsm_fwd", p.array(ndl.logsoftmax(ndl.Tensor(x.astype(np.float32)))))
    with p.step("lsm_grad"):
        node = ndl.logsoftmax(ndl.Tensor(x))
        p.put("lsm_grad", p.array(node.op.gradient_as_tuple(ndl.Tensor(g), node)[0]))
    with p.step("lsm_num"):
        p.put("lsm_num", numeric_gradient(lambda a: p.array(ndl.logsoftmax(ndl.Tensor(a))), x, g))
    big = p.inputs["big"]
    with p.step("big_lse"):
        p.put("big_lse", p.array(ndl.logsumexp(ndl.Tensor(big.astype(np.float32)), (1,))))
    with p.step("big_lsm"):
        p.put("big_lsm", p.array(ndl.logsoftmax(ndl.Tensor(big.astype(np.float32)))))
    with p.step("huge_lse"):
        p.put("huge_lse", p.array(ndl.logsumexp(ndl.Tensor(p.inputs["huge"]), (1,))))
    with p.step("big_grad"):
        node = ndl.logsumexp(ndl.Tensor(big), (1,))
        out = ndl.Tensor(np.ones(3))
        p.put("big_grad", p.array(node.op.gradient_as_tuple(out, node)[0]))


CHECKS = (
    [close(f"logsumexp forward, axes {axes}", f"fwd_{name}") for name, _, axes in LSE_CASES]
    + [
        gradient(f"logsumexp gradient, axes {axes}", f"grad_{name}", f"num_{name}")
        for name, _, axes in LSE_CASES
    ]
    + [
        close("logsoftmax forward", "lsm_fwd"),
        gradient("logsoftmax gradient", "lsm_grad", "lsm_num"),
        # Values near 1e5 in float32: one ulp is ~0.008, so 1e-6 relative is a few ulps.
        close("logsumexp stays finite and correct at 1e5 (float32)", "big_lse", rtol=1e-6, atol=0),
        # log-softmax values are small, but written as z - logsumexp(z) (the course's formula)
        # they are the difference of two numbers near 1e5: a few ulps there is the resolution.
        close(
            "logsoftmax stays finite and correct at 1e5 (float32)",
            "big_lsm",
            atol=float32_ulps(1e5),
        ),
        close("logsumexp stays finite at 1e10 (float64)", "huge_lse", rtol=1e-12, atol=0),
        gradient("logsumexp gradient stays finite at 1e5", "big_grad", ""),
    ]
)
