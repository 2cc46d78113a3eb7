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


def counts_without_the_cycle_collector(make_optimizer, steps=60):
    """Train with gc disabled, each step on a fresh batch (as the DataLoader gives them).

    Returns (baseline, state, held, freed): the live-Value count before training, the number of
    optimizer-state tensors, and per step the count right after `opt.step(); del loss` (the
    parameters' .grad still hold this step's graph) and after `opt.reset_grad()` (they do not).
    """
    np.random.seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(16, 16), nn.LayerNorm1d(16), nn.ReLU(), nn.Linear(16, 4),
    )  # fmt: skip
    opt = make_optimizer(model.parameters())
    loss_fn = nn.SoftmaxLoss()
    held, freed = [], []
    gc.collect()
    gc.disable()
    try:
        baseline = autograd.TENSOR_COUNTER
        for _ in range(steps):
            x = ndl.Tensor.make_const(np.random.randn(32, 8).astype(np.float32))
            y = ndl.Tensor.make_const(np.random.randint(0, 4, 32).astype(np.uint8))
            loss = loss_fn(model(x), y)
            loss.backward()
            assert all(p.grad is not None and p.grad.shape == p.shape for p in opt.params)
            opt.step()
            del x, y, loss
            held.append(autograd.TENSOR_COUNTER)
            opt.reset_grad()
            freed.append(autograd.TENSOR_COUNTER)
        # The optimizer's state tensors (the reference's Adam keeps numpy arrays: none).
        state = sum(
            isinstance(value, ndl.Tensor)
            for name in ("u", "m", "v")
            for value in getattr(opt, name, {}).values()
        )
    finally:
        gc.enable()
    return baseline, state, held, freed


@pytest.mark.parametrize("make_optimizer, keeps_tensors", [
    (lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=1e-3), True),
    (lambda ps: optim.Adam(ps, lr=0.001, weight_decay=1e-3), False),  # numpy moments
], ids=["SGD-momentum", "Adam"])  # fmt: skip
def test_every_tensor_of_a_step_is_freed_by_reference_counting(make_optimizer, keeps_tensors):
    """With the cycle collector off, does the count return to the parameters, running statistics
    and optimizer state once the loss is deleted and the gradients reset, at every step?"""
    baseline, state, held, freed = counts_without_the_cycle_collector(make_optimizer)
    assert (state > 0) == keeps_tensors, state
    assert freed == [baseline + state] * len(freed), (
        f"live Values after reset_grad(): {freed[:3]} ... {freed[-3:]}, expected "
        f"{baseline} before training + {state} optimizer state tensors"
    )
    assert held[1:] == [held[1]] * (len(held) - 1), f"held by .grad: {held[:3]} ... {held[-3:]}"
