"""sgd: SGD trajectories (plain, momentum with the (1 - momentum) factor, weight decay),
`.grad` left untouched, float32 kept, no graph kept alive. The rule is SGD's docstring in
needle/optim.py."""

from __future__ import annotations

from grader.problems import op_cases
from grader.problems import optim_common as common
from grader.problems.base import Problem

PROBLEM = Problem(
    id="sgd",
    title="SGD with momentum and weight decay",
    points=6,
    regions=(("needle/optim.py", "SGD.step"),),
    files=common.FILES,
    needs=op_cases.needs_ops(("Negate",), backward=False),
    hint="follow the update rule in SGD's docstring (needle/optim.py), every term through .data",
)
CONFIGS = {
    "plain": {"lr": 0.1},
    "momentum": {"lr": 0.1, "momentum": 0.9},
    "decay": {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1},
}
# What each configuration tests, as the check names say it.
LABELS = {"plain": "no momentum", "momentum": "momentum 0.9", "decay": "momentum and weight decay"}

make_inputs = common.make_inputs


def probe(p) -> None:
    common.probe(p, "SGD", CONFIGS)


CHECKS = common.trajectory_checks(CONFIGS, LABELS, steps=(0, common.STEPS - 1))
CHECKS += common.property_checks("momentum")
