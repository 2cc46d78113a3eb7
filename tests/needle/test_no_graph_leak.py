"""Training keeps no computational graph alive.

`needle.autograd.TENSOR_COUNTER` counts live Values. After the first steps have created the
optimizer state, every further step must leave the count where it was: if an optimizer update or a
running statistic were computed from tensors attached to the graph, each step would hang its graph
onto the next and the count would grow with the number of steps.
"""

import gc

import needle as ndl
import numpy as np
import pytest
from needle import autograd, nn, optim


def live_tensors_after_steps(make_optimizer, checkpoints=(10, 200)):
    """Train a small MLP (with BatchNorm1d and Dropout) and return the live-Value count after
    each checkpoint step, garbage-collected first."""
    np.random.seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(16, 16), nn.LayerNorm1d(16), nn.ReLU(), nn.Linear(16, 4),
    )  # fmt: skip
    opt = make_optimizer(model.parameters())
    loss_fn = nn.SoftmaxLoss()
    x = ndl.Tensor(np.random.randn(32, 8).astype(np.float32), requires_grad=False)
    y = ndl.Tensor(np.random.randint(0, 4, 32).astype(np.uint8), requires_grad=False)
    counts = []
    for step in range(1, max(checkpoints) + 1):
        opt.reset_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if step in checkpoints:
            del loss
            gc.collect()
            counts.append(autograd.TENSOR_COUNTER)
    return counts


@pytest.mark.parametrize("make_optimizer", [
    lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=0.001, weight_decay=1e-3),
], ids=["SGD-momentum", "Adam"])  # fmt: skip
def test_two_hundred_training_steps_keep_the_live_tensor_count_flat(make_optimizer):
    after_10, after_200 = live_tensors_after_steps(make_optimizer)
    assert after_200 == after_10, (
        f"live Values grew from {after_10} after step 10 to {after_200} after step 200"
    )
