"""needle.optim against numpy transcriptions of the update rules in the API page.

The optimizers are driven with prescribed gradients (set on `.grad` directly), so each trajectory
is compared step by step with the rule written out in float64 numpy.
"""

import needle as ndl
import numpy as np
import pytest
from needle import nn, optim

# float32 parameters against a float64 numpy trajectory: a few float32 ulps per step.
TRAJ_RTOL, TRAJ_ATOL = 1e-5, 1e-6
STEPS = 6


def make_problem(shapes=((3, 4), (4,)), seed=0):
    """float32 Parameters of `shapes` and, for each, a sequence of STEPS float32 gradients."""
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for _ in range(STEPS)] for s in shapes]
    return params, grads


def set_grads(params, grads, step):
    for p, g in zip(params, grads, strict=True):
        p.grad = ndl.Tensor(g[step], requires_grad=False)


def assert_close(actual, expected, what):
    actual = actual.numpy() if isinstance(actual, ndl.Tensor) else actual
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, not {expected.shape}"
    assert actual.dtype == np.float32, f"{what}: dtype {actual.dtype}, expected float32"
    np.testing.assert_allclose(actual, expected, rtol=TRAJ_RTOL, atol=TRAJ_ATOL, err_msg=what)


def sgd_reference(w, grads, lr, momentum, weight_decay):
    """Each step's w, by the rule of SGD's docstring (needle/optim.py), in float64 numpy."""
    w, u, trajectory = w.astype(np.float64), 0.0, []
    for grad in grads:
        g = grad + weight_decay * w
        u = momentum * u + (1 - momentum) * g
        w = w - lr * u
        trajectory.append(w)
    return trajectory


def adam_reference(w, grads, lr, beta1, beta2, eps, weight_decay):
    """Each step's (w, m, v), with m and v stored uncorrected."""
    w, m, v, trajectory = w.astype(np.float64), 0.0, 0.0, []
    for t, grad in enumerate(grads, start=1):
        g = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        trajectory.append((w, m, v))
    return trajectory


@pytest.mark.parametrize(
    "momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.1), (0.9, 0.1), (1.0, 0.0)]
)
def test_sgd_trajectory_follows_the_momentum_and_weight_decay_rule(momentum, weight_decay):
    params, grads = make_problem()
    start = [p.numpy().copy() for p in params]
    opt = optim.SGD(params, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    expected = [
        sgd_reference(w, g, 0.1, momentum, weight_decay) for w, g in zip(start, grads, strict=True)
    ]
    for step in range(STEPS):
        set_grads(params, grads, step)
        opt.step()
        for i, p in enumerate(params):
            assert_close(p, expected[i][step], f"parameter {i} after step {step + 1}")


def test_sgd_leaves_grad_untouched_and_updates_the_parameter_in_place():
    params, grads = make_problem()
    opt = optim.SGD(params, lr=0.1, momentum=0.5, weight_decay=0.3)
    for step in range(3):
        set_grads(params, grads, step)
        grad_tensors = [p.grad for p in params]
        opt.step()
        for p, g, grad_tensor in zip(params, grads, grad_tensors, strict=True):
            assert p.grad is grad_tensor
            np.testing.assert_array_equal(p.grad.numpy(), g[step])
    assert all(isinstance(p, nn.Parameter) and p.is_leaf() for p in params)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_trajectory_follows_the_bias_corrected_rule(weight_decay):
    params, grads = make_problem()
    start = [p.numpy().copy() for p in params]
    # eps = 0.1, large enough that eps inside the square root would show
    opt = optim.Adam(params, lr=0.01, beta1=0.8, beta2=0.95, eps=0.1, weight_decay=weight_decay)
    expected = [
        adam_reference(w, g, 0.01, 0.8, 0.95, 0.1, weight_decay)
        for w, g in zip(start, grads, strict=True)
    ]
    for step in range(STEPS):
        set_grads(params, grads, step)
        opt.step()
        for i, p in enumerate(params):
            assert_close(p, expected[i][step][0], f"parameter {i} after step {step + 1}")


def test_adam_does_not_store_bias_corrected_moments():
    params, grads = make_problem()
    start = [p.numpy().copy() for p in params]
    opt = optim.Adam(params, lr=0.01, beta1=0.9, beta2=0.999)
    expected = [
        adam_reference(w, g, 0.01, 0.9, 0.999, 1e-8, 0.0) for w, g in zip(start, grads, strict=True)
    ]
    for step in range(STEPS):
        set_grads(params, grads, step)
        opt.step()
        assert opt.t == step + 1, "t counts steps, not parameters"
        for i, p in enumerate(params):
            _, m, v = expected[i][step]
            assert_close(opt.m[p], m, f"stored m of parameter {i} after step {step + 1}")
            assert_close(opt.v[p], v, f"stored v of parameter {i} after step {step + 1}")


def test_adam_leaves_grad_untouched():
    params, grads = make_problem()
    opt = optim.Adam(params, weight_decay=0.1)
    set_grads(params, grads, 0)
    grad_tensors = [p.grad for p in params]
    opt.step()
    for p, g, grad_tensor in zip(params, grads, grad_tensors, strict=True):
        assert p.grad is grad_tensor
        np.testing.assert_array_equal(p.grad.numpy(), g[0])


def test_reset_grad_sets_every_grad_to_none():
    params, grads = make_problem()
    set_grads(params, grads, 0)
    optim.SGD(params).reset_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make_optimizer", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3),
], ids=["SGD", "Adam"])  # fmt: skip
def test_training_keeps_parameters_gradients_and_state_float32(make_optimizer):
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = make_optimizer(model.parameters())
    x = ndl.Tensor(np.random.randn(16, 6).astype(np.float32), requires_grad=False)
    y = ndl.Tensor(np.random.randint(0, 3, 16).astype(np.uint8), requires_grad=False)
    losses = []
    for _ in range(5):
        opt.reset_grad()
        loss = nn.SoftmaxLoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.numpy()))
    assert losses[-1] < losses[0], f"training did not reduce the loss: {losses}"
    for p in model.parameters():
        assert p.numpy().dtype == np.float32 and p.grad.numpy().dtype == np.float32
    states = [getattr(opt, name, {}) for name in ("u", "m", "v")]
    for state in states:
        for value in state.values():  # Tensors or numpy arrays
            array = value.numpy() if isinstance(value, ndl.Tensor) else np.asarray(value)
            assert array.dtype == np.float32


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ps: optim.SGD(ps, lr=-0.1), "lr.*-0.1"),
        (lambda ps: optim.SGD(ps, momentum=1.5), "momentum.*1.5"),
        (lambda ps: optim.SGD(ps, momentum=-0.1), "momentum.*-0.1"),
        (lambda ps: optim.SGD(ps, weight_decay=-1.0), "weight_decay.*-1.0"),
        (lambda ps: optim.Adam(ps, lr=-1.0), "lr.*-1.0"),
        (lambda ps: optim.Adam(ps, beta1=1.0), "beta1.*1.0"),
        (lambda ps: optim.Adam(ps, beta2=-0.5), "beta2.*-0.5"),
        (lambda ps: optim.Adam(ps, eps=-1e-8), "eps.*-1e-08"),
        (lambda ps: optim.Adam(ps, weight_decay=-0.1), "weight_decay.*-0.1"),
    ],
)
def test_optimizers_reject_bad_hyperparameters_naming_them(make, message):
    params, _ = make_problem()
    with pytest.raises(ValueError, match=message):
        make(params)
