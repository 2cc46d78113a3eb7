"""adam: Adam trajectories (bias correction, weight decay), moments stored uncorrected, `.grad`
untouched, float32 kept, no graph kept alive."""

from __future__ import annotations

import numpy as np

from grader.compare import close
from grader.problems import op_cases
from grader.problems import optim_common as common
from grader.problems.base import Problem, diagnostic, series

PROBLEM = Problem(
    id="adam",
    title="Adam",
    points=7,
    regions=(("needle/optim.py", "Adam.step"),),
    files=("needle/optim.py", "needle/nn/__init__.py", "needle/nn/nn_basic.py"),
    needs=op_cases.needs_ops(("Negate", "PowerScalar", "EWiseDiv"), backward=False),
    hint="t += 1 once per step; store m and v uncorrected; correct only in the update",
)
CONFIGS = {
    "default": {"lr": 0.01},
    "decay": {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.05},
    # eps of the size of sqrt(v_hat): only here does it matter that eps stays outside the root.
    "eps": {"lr": 0.05, "eps": 0.5},
}
# What each configuration tests, as the check names say it.
LABELS = {
    "default": "default hyperparameters",
    "decay": "betas (0.8, 0.99) and weight decay",
    "eps": "eps 0.5 (where eps goes shows)",
}


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return common.make_inputs(rng)


def _moments(p, opt, params) -> None:
    with p.step("default/moments"):
        p.put("default/moments/m", common.state_of(opt.m, params, 0))
        p.put("default/moments/v", common.state_of(opt.v, params, 0))


def probe(p) -> None:
    import needle as ndl

    for name, config in CONFIGS.items():
        moments = _moments if name == "default" else None
        common.run(p, name, lambda params, config=config: ndl.optim.Adam(params, **config), moments)


def _param(index: int) -> str:
    return f"parameter {index} (shape {common.SHAPES[index]})"


CHECKS = (
    [
        series(
            close(
                f"{LABELS[name]}: parameters after step {step + 1}",
                f"{name}/w{index}_{step}",
                _param(index),
            ),
            f"{LABELS[name]}: parameters after steps 1-{common.STEPS}",
            f"at step {step + 1}",
        )
        for name in CONFIGS
        for step in range(common.STEPS)
        for index in range(len(common.SHAPES))
    ]
    + [
        # The first moments are (1 - beta1) g; a stored bias-corrected m would equal g.
        diagnostic(
            close("first moment m stored without bias correction", "default/moments/m", weight=2.0)
        ),
        diagnostic(
            close("second moment v stored without bias correction", "default/moments/v", weight=2.0)
        ),
    ]
    + common.property_checks("default")
)
