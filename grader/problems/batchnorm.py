"""batchnorm: BatchNorm1d, training forward, running statistics over steps, eval mode, gradients,
running statistics that are neither Parameters nor graph nodes kept alive.

init.ones and init.zeros are numpy stand-ins here (graded in `init`). Relies on: the op computes the
forward is written with (summation, divide_scalar, broadcast_to, reshape, negate, power_scalar,
divide, multiply: ops_forward), their gradients (ops_backward) and backward() (autodiff) for the
gradient and graph checks.
"""

from __future__ import annotations

import numpy as np

from grader.compare import BACKWARD_HINT, Verdict, close, equal, holds, mismatch
from grader.problems import live_tensors, op_cases
from grader.problems.base import Check, Problem, series

_NN = "needle/nn/nn_basic.py"
PROBLEM = Problem(
    id="batchnorm",
    title="BatchNorm1d",
    points=8,
    regions=((_NN, "BatchNorm1d.__init__"), (_NN, "BatchNorm1d.forward")),
    files=("needle/nn/__init__.py", _NN, "needle/init/__init__.py", "needle/init/init_basic.py"),
    needs=op_cases.needs_ops(
        ("Summation", "DivScalar", "BroadcastTo", "Reshape", "Negate", "PowerScalar", "EWiseDiv")
    ),
    hint="biased batch variance over axis 0; running = (1 - m) * running + m * batch, via .data",
)
STEPS = 3
FLAT_FEATURE = 1  # the nearly constant feature of the "flat" input


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    inputs = {
        f"x{k}": (rng.uniform(-2, 2, (6, 4)) * [1, 3, 0.5, 2] + [0, 1, -2, 4]).astype(np.float32)
        for k in range(STEPS)
    }
    inputs["x_eval"] = rng.uniform(-2, 2, (5, 4)).astype(np.float32)
    flat = rng.uniform(-2, 2, (6, 4))
    # Variance ~3e-7 < eps in this feature: where eps goes shows.
    flat[:, FLAT_FEATURE] = 0.7 + rng.uniform(-1e-3, 1e-3, 6)
    inputs["x_flat"] = flat.astype(np.float32)
    inputs["w"] = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    inputs["b"] = rng.uniform(-1, 1, 4).astype(np.float32)
    inputs["g"] = rng.standard_normal((6, 4)).astype(np.float32)
    return inputs


def probe(p) -> None:
    import needle as ndl

    from grader.problems.stand_ins import use_numpy_constructors

    use_numpy_constructors(ndl, ("ones", "zeros"))  # graded in `init`
    i = p.inputs

    def layer():
        bn = ndl.nn.BatchNorm1d(4, momentum=0.2)
        p.assign(bn.weight, i["w"])
        p.assign(bn.bias, i["b"])
        return bn

    with p.step("init"):
        bn = ndl.nn.BatchNorm1d(4)
        p.put("init/count", len(bn.parameters()))
        p.put("init/running", np.concatenate([p.values(bn.running_mean), p.values(bn.running_var)]))
    with p.step("train"):
        bn = layer()
        for k in range(STEPS):
            p.put(f"train/y{k}", p.array(bn(ndl.Tensor(i[f"x{k}"]))))
            p.put(f"train/mean{k}", p.values(bn.running_mean))
            p.put(f"train/var{k}", p.values(bn.running_var))
        bn.eval()
        p.put("train/eval", p.array(bn(ndl.Tensor(i["x_eval"]))))
    with p.step("unit"):
        p.put("unit", p.array(ndl.nn.BatchNorm1d(4)(ndl.Tensor(i["x0"]))))
    with p.step("flat"):
        p.put("flat", p.array(layer()(ndl.Tensor(i["x_flat"]))))
    with p.step("grad"):
        bn = layer()
        x = ndl.Tensor(i["x0"])
        bn(x).backward(ndl.Tensor(i["g"]))
        p.put("grad/x", p.array(x.grad))
        p.put("grad/w", p.values(bn.weight.grad))
        p.put("grad/b", p.values(bn.bias.grad))
    with p.step("alive"):
        bn = layer()
        counts = []
        for k in range(4):
            x = ndl.Tensor(i[f"x{k % STEPS}"])
            bn(x).sum().backward()
            del x
            for param in bn.parameters():
                param.grad = None
            counts.append(live_tensors.count())
        p.put("alive", counts)


def _unit(got):
    """Training mode with weight 1 and bias 0: per feature, over the batch, mean 0 and mean
    square var / (var + eps), which is 1 to ~1e-4 for these features (variance above 0.1)."""
    y = np.asarray(got["unit"], np.float64)
    if y.ndim != 2 or y.shape[0] < 2:
        return f"expected a (batch, features) output, got shape {y.shape}"
    batch = y.shape[0]
    mean, square = y.mean(axis=0), (y**2).mean(axis=0)
    worst = int(np.argmax(np.abs(mean) + np.abs(square - 1)))
    if abs(mean[worst]) < 1e-3 and abs(square[worst] - 1) < 1e-3:
        return None
    found = (
        f"feature {worst} of the normalised batch has mean {mean[worst]:.4g} and variance "
        f"{square[worst]:.4g} (weight 1, bias 0); they should be 0 and 1"
    )
    if abs(mean[worst]) < 1e-3 and abs(square[worst] - (batch - 1) / batch) < 1e-3:
        return (
            f"{found}: a variance of (N-1)/N = {(batch - 1) / batch:.4g} means the batch variance "
            "divides by N-1 (unbiased); BatchNorm uses the biased one (divide by N)"
        )
    return f"{found}; hint: statistics over axis 0 (the batch), biased variance (divide by N)"


# The nearly constant feature normalises to values of size ~0.2 that depend on where eps goes;
# float32 cancellation in x - mean costs ~1e-4 relative there, hence atol 1e-3.
FLAT_TOLERANCE = {"rtol": 1e-4, "atol": 1e-3}


def _nearly_flat(got: dict, expected: dict, reveal: bool) -> None:
    """The forward on a batch whose feature FLAT_FEATURE has a variance below eps. Where eps goes
    changes only that feature; a wrong variance (N-1, wrong axis) changes the others as well."""
    mine, wanted = np.asarray(got["flat"]), np.asarray(expected["flat"])
    problem = mismatch(mine, wanted, FLAT_TOLERANCE["rtol"], FLAT_TOLERANCE["atol"], reveal)
    if problem is None:
        return
    if mine.shape != wanted.shape:
        raise Verdict(problem)
    others = [j for j in range(wanted.shape[1]) if j != FLAT_FEATURE]
    rest = mismatch(
        mine[:, others], wanted[:, others], FLAT_TOLERANCE["rtol"], FLAT_TOLERANCE["atol"], reveal
    )
    if rest is None:
        raise Verdict(
            f"{problem}; only the nearly constant feature (column {FLAT_FEATURE}, variance "
            "~3e-7, below eps) is off: eps belongs inside the square root, sqrt(var + eps)"
        )
    raise Verdict(
        f"{problem}; the other features are off too, so this is not only where eps goes: check "
        "the batch statistics (axis 0, biased variance: divide by N), then that eps sits "
        "inside the square root, sqrt(var + eps)"
    )


def _steps(make, name: str, output: str) -> list:
    """One check per training step, folded into one line in the short report."""
    return [
        series(make(f"{name} {k + 1}", f"{output}{k}"), f"{name}s 1-{STEPS}", f"at step {k + 1}")
        for k in range(STEPS)
    ]


CHECKS = [
    equal("two parameters (running stats are not Parameters)", "init/count", "len(parameters())"),
    close("running_mean starts at 0, running_var at 1", "init/running"),
    holds("normalised batch has mean 0 and variance 1 per feature", ("unit",), _unit),
    *_steps(close, "training forward, step", "train/y"),
    *_steps(close, "running_mean after step", "train/mean"),
    *_steps(close, "running_var after step", "train/var"),
    close(
        "eval mode uses the running statistics",
        "train/eval",
        weight=2.0,
        hint="eval mode normalises with running_mean and running_var as the training steps left "
        "them: if those checks fail too, fix the training statistics first",
    ),
    Check("forward on a nearly constant feature (variance below eps)", ("flat",), _nearly_flat),
    *[
        series(check, "gradients wrt the input, weight and bias", check.name[len("gradient ") :])
        for check in (
            close("gradient wrt the input", "grad/x", atol=1e-4, hint=BACKWARD_HINT),
            close("gradient wrt weight", "grad/w", atol=1e-4, hint=BACKWARD_HINT),
            close("gradient wrt bias", "grad/b", hint=BACKWARD_HINT),
        )
    ],
    live_tensors.no_graph_kept_alive(
        "alive",
        "training step",
        "the running statistics keep the graph alive; update them from detached values (.data)",
    ),
]
