"""ops_forward: each op's `compute()` on float32 inputs, against the reference.

Relies on no other problem (compute() works on numpy arrays).
"""

from __future__ import annotations

import numpy as np

from grader.compare import close
from grader.problems import op_cases
from grader.problems.base import Problem

PROBLEM = Problem(
    id="ops_forward",
    title="Op forwards (compute)",
    points=8,
    regions=op_cases.op_regions("compute"),
    hint="compute() works on raw numpy arrays and returns one",
)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return op_cases.make_inputs(rng, np.float32)


def probe(p) -> None:
    import needle as ndl

    for case in op_cases.CASES:
        with p.step(case.name):
            tensors = [ndl.Tensor(x) for x in op_cases.case_inputs(p.inputs, case)]
            p.put(case.name, p.array(case.call(ndl, *tensors)))


CHECKS = [
    close(case.name, case.name, f"{case.name} forward", weight=case.weight)
    for case in op_cases.CASES
]
