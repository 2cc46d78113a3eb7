"""ops_backward: each op's `gradient()` in float64, against the reference and finite differences.

The student's `gradient()` is called directly on the op's output node (not through backward()), so
this problem does not depend on the autodiff problem.

Relies on: ops_forward. Each case's node is built by the student's compute(), and a gradient()
written in needle ops (as it must be) runs the compute() of the ops it uses (transpose in
MatMul.gradient, reshape and broadcast_to in Summation.gradient, ...). A numpy stand-in for
those computes would ship the ops_forward answers in the release, so there is none.
"""

from __future__ import annotations

import numpy as np

from grader.compare import gradient
from grader.problems import op_cases
from grader.problems.base import ErrorHint, Problem

PROBLEM = Problem(
    id="ops_backward",
    title="Op gradients (gradient)",
    points=12,
    regions=((op_cases.OPS_FILE, "unbroadcast"),) + op_cases.op_regions("gradient"),
    needs=op_cases.op_regions("compute"),
    hint="gradient() returns one partial adjoint per input, built from needle ops",
    error_hints=(
        ErrorHint(
            "ValueError",
            "the operands of a matmul in a gradient do not fit: for C = A @ B, dA = G @ B^T and "
            "dB = A^T @ G, where transpose() swaps the last two axes "
            "(Transpose.compute, graded in ops_forward)",
            says="matmul: inner dimensions differ",
        ),
    ),
)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return op_cases.make_inputs(rng, np.float64)


def probe(p) -> None:
    import needle as ndl

    from grader.probe import numeric_gradient

    for case in op_cases.CASES:
        arrays = op_cases.case_inputs(p.inputs, case)
        out_grad = p.inputs[f"{case.name}/g"]
        with p.step(f"grad_{case.name}"):
            tensors = [ndl.Tensor(x, requires_grad=True) for x in arrays]
            node = case.call(ndl, *tensors)
            grads = node.op.gradient_as_tuple(ndl.Tensor(out_grad), node)
            for index in range(len(arrays)):
                p.put(f"grad_{case.name}/{index}", p.array(grads[index]))
        for index in range(len(arrays)):

            def forward(x, index=index, arrays=arrays, case=case):
                tensors = [ndl.Tensor(a) for a in arrays]
                tensors[index] = ndl.Tensor(x)
                return p.array(case.call(ndl, *tensors))

            with p.step(f"num_{case.name}"):
                value = numeric_gradient(forward, arrays[index], out_grad)
                p.put(f"num_{case.name}/{index}", value)


CHECKS = [
    gradient(
        f"{case.name} gradient wrt input {index}",
        f"grad_{case.name}/{index}",
        f"num_{case.name}/{index}",
        f"d {case.name} / d input {index}",
        weight=case.weight,
    )
    for case in op_cases.CASES
    for index in range(len(case.shapes))
]
