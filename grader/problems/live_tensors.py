"""The live-tensor property, shared by problems whose code runs step after step (optimizers,
BatchNorm's running statistics): no step may keep the previous step's graph alive.

Probe side: `count()` after each step, the number of live tensors once cycles are collected.
Trusted side: `no_graph_kept_alive(output, ...)`, a diagnostic check that the counts stay flat
(the first step may allocate state, so the last count is compared with the second).
"""

from __future__ import annotations

import gc

import numpy as np

from grader.compare import holds


def count() -> int:
    """Live needle tensors now (probe side), after collecting the cycles graphs hold."""
    from needle import autograd

    gc.collect()  # graphs hold reference cycles
    return autograd.TENSOR_COUNTER


def no_graph_kept_alive(output: str, steps: str, cause: str):
    """The counts in `output` do not grow; else "live tensors grow with every <steps> (counts):
    <cause>"."""

    def test(got):
        counts = [int(c) for c in np.asarray(got[output]).reshape(-1)]
        if len(counts) >= 2 and counts[-1] > counts[1]:
            return f"live tensors grow with every {steps} ({counts}): {cause}"
        return None

    return holds("no graph kept alive across steps", (output,), test)
