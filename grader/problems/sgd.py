"""sgd: SGD trajectories (plain, momentum with the (1 - momentum) factor, weight decay),
`.grad` left untouched, float32 kept, no graph kept alive."""

from __future__ import annotations

import numpy as np

from grader.compare import close
from grader.problems import op_cases
from grader.problems import optim_common as common
from grader.problems.base import Problem, series

PROBLEM = Problem(
    id="sgd",
    title="SGD with momentum and weight decay",
    points=6,
    regions=(("needle/optim.py", "SGD.step"),),
    files=("needle/optim.py", "needle/nn/__init__.py", "needle/nn/nn_basic.py"),
    needs=op_cases.needs_ops(("Negate",), backward=False),
    hint="g = grad + wd * w; u = m * u + (1 - m) * g; w = w - lr * u, all through .data",
)
CONFIGS = {
    "plain": {"lr": 0.1},
    "momentum": {"lr": 0.1, "momentum": 0.9},
    "decay": {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1},
}
# What each configuration tests, as the check names say it.
LABELS = {"plain": "no momentum", "momentum": "momentum 0.9", "decay": "momentum and weight decay"}


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return common.make_inputs(rng)


def probe(p) -> None:
    import needle as ndl

    for name, config in CONFIGS.items():
        common.run(p, name, lambda params, config=config: ndl.optim.SGD(params, **config))


def _param(index: int) -> str:
    return f"parameter {index} (shape {common.SHAPES[index]})"


CHECKS = [
    series(
        close(
            f"{LABELS[name]}: parameters after step {step + 1}",
            f"{name}/w{index}_{step}",
            _param(index),
        ),
        f"{LABELS[name]}: parameters after steps 1 and {common.STEPS}",
        f"at step {step + 1}",
    )
    for name in CONFIGS
    for step in (0, common.STEPS - 1)
    for index in range(len(common.SHAPES))
] + common.property_checks("momentum")
