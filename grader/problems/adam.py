"""adam: Adam trajectories (bias correction, weight decay), moments stored uncorrected, `.grad`
untouched, float32 kept, no graph kept alive. The rule is Adam's docstring in needle/optim.py."""

from __future__ import annotations

from grader.compare import close
from grader.problems import op_cases
from grader.problems import optim_common as common
from grader.problems.base import Problem, diagnostic

PROBLEM = Problem(
    id="adam",
    title="Adam",
    points=7,
    regions=(("needle/optim.py", "Adam.step"),),
    files=common.FILES,
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

make_inputs = common.make_inputs


def _moments(p, opt, params) -> None:
    with p.step("default/moments"):
        p.put("default/moments/m", common.state_of(opt.m, params, 0))
        p.put("default/moments/v", common.state_of(opt.v, params, 0))


def probe(p) -> None:
    common.probe(p, "Adam", CONFIGS, moments=_moments)


CHECKS = common.trajectory_checks(CONFIGS, LABELS)
CHECKS += [
    # After one step the first moment is (1 - beta1) g; a stored bias-corrected m would equal g.
    diagnostic(
        close("first moment m stored without bias correction", "default/moments/m", weight=2.0)
    ),
    diagnostic(
        close("second moment v stored without bias correction", "default/moments/v", weight=2.0)
    ),
]
CHECKS += common.property_checks("default")
