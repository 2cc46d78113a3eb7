"""Cross-check of needle's modules, loss and optimizers against PyTorch (skipped without torch).

Weights are copied from needle to torch (a needle Linear weight is (in, out), torch's is (out, in);
a needle bias is (1, out), torch's is (out,)), both run in float32 on the same inputs, and outputs,
gradients, running statistics and optimizer trajectories are compared.

Where torch's conventions differ from needle's (API page), the test translates:
- BatchNorm1d: torch updates running_var with the UNBIASED batch variance; needle with the biased
  one. The biased value is recovered from torch's update: observed = (new - (1 - m) old) / m,
  biased = observed * (N - 1) / N.
- SGD: torch's momentum is u = momentum u + (1 - dampening) g, so dampening=momentum gives
  needle's rule; but torch starts u at g (undampened) when it has no buffer yet, so the buffers are
  pre-set to zeros, which makes every step, the first included, follow needle's rule.
"""

import needle as ndl
import numpy as np
import pytest
from needle import nn, optim

torch = pytest.importorskip("torch")

# Both sides compute in float32, with different summation orders.
RTOL, ATOL = 1e-5, 1e-6


def random_array(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def assert_matches(needle_value, torch_value, what):
    actual = needle_value.numpy() if isinstance(needle_value, ndl.Tensor) else needle_value
    expected = torch_value.detach().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, torch {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def needle_input(array):
    return ndl.Tensor(array, dtype="float32", requires_grad=True)


def torch_input(array):
    return torch.tensor(array, requires_grad=True)


def torch_linear(layer: nn.Linear) -> "torch.nn.Linear":
    """A torch Linear with the weights of a needle Linear."""
    copy = torch.nn.Linear(layer.in_features, layer.out_features)
    with torch.no_grad():
        copy.weight.copy_(torch.tensor(layer.weight.numpy().T))
        copy.bias.copy_(torch.tensor(layer.bias.numpy().reshape(-1)))
    return copy


def assert_linear_matches(layer, copy, what):
    assert_matches(layer.weight, copy.weight.T, f"{what} weight")
    assert_matches(layer.bias, copy.bias.reshape(1, -1), f"{what} bias")


def test_linear_forward_and_gradients_match_torch():
    layer = nn.Linear(7, 5)
    copy = torch_linear(layer)
    x, g = random_array(4, 7), random_array(4, 5, seed=1)
    xn, xt = needle_input(x), torch_input(x)
    out_n, out_t = layer(xn), copy(xt)
    assert_matches(out_n, out_t, "output")
    out_n.backward(ndl.Tensor(g, requires_grad=False))
    out_t.backward(torch.tensor(g))
    assert_matches(xn.grad, xt.grad, "input gradient")
    assert_matches(layer.weight.grad, copy.weight.grad.T, "weight gradient")
    assert_matches(layer.bias.grad, copy.bias.grad.reshape(1, -1), "bias gradient")


def check_normalisation_step(ours, theirs, x, g, what):
    """Forward and backward of one batch through both; outputs and all gradients match."""
    xn, xt = needle_input(x), torch_input(x)
    out_n, out_t = ours(xn), theirs(xt)
    assert_matches(out_n, out_t, f"{what} output")
    out_n.backward(ndl.Tensor(g, requires_grad=False))
    out_t.backward(torch.tensor(g))
    assert_matches(xn.grad, xt.grad, f"{what} input gradient")
    assert_matches(ours.weight.grad, theirs.weight.grad, f"{what} weight gradient")
    assert_matches(ours.bias.grad, theirs.bias.grad, f"{what} bias gradient")
    theirs.zero_grad()


def copy_affine(ours, theirs, seed):
    ours.weight.data = ndl.Tensor(random_array(ours.dim, seed=seed))
    ours.bias.data = ndl.Tensor(random_array(ours.dim, seed=seed + 1))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))


def test_batchnorm_training_eval_and_running_statistics_match_torch():
    dim, n, momentum, eps = 4, 10, 0.2, 1e-3
    ours = nn.BatchNorm1d(dim, eps=eps, momentum=momentum)
    theirs = torch.nn.BatchNorm1d(dim, eps=eps, momentum=momentum)
    copy_affine(ours, theirs, seed=10)
    for step in range(3):
        old_var = ours.running_var.numpy().copy()
        with torch.no_grad():
            theirs.running_var.copy_(torch.tensor(old_var))
        x = random_array(n, dim, seed=step) * (step + 1) + step
        check_normalisation_step(ours, theirs, x, random_array(n, dim, seed=20 + step), "train")
        assert_matches(ours.running_mean, theirs.running_mean, f"running_mean, step {step}")
        observed = (theirs.running_var - (1 - momentum) * torch.tensor(old_var)) / momentum
        expected_var = (1 - momentum) * old_var + momentum * observed.numpy() * (n - 1) / n
        np.testing.assert_allclose(ours.running_var.numpy(), expected_var, rtol=RTOL, atol=ATOL)
    with torch.no_grad():
        theirs.running_var.copy_(torch.tensor(ours.running_var.numpy()))
    ours.eval()
    theirs.eval()
    x = random_array(5, dim, seed=30) * 2
    check_normalisation_step(ours, theirs, x, random_array(5, dim, seed=31), "eval")


def test_layernorm_matches_torch():
    ours = nn.LayerNorm1d(6, eps=1e-2)
    theirs = torch.nn.LayerNorm(6, eps=1e-2)
    copy_affine(ours, theirs, seed=3)
    x = random_array(5, 6) * 3 + 1
    check_normalisation_step(ours, theirs, x, random_array(5, 6, seed=1), "LayerNorm1d")


def test_softmax_loss_matches_torch_cross_entropy():
    z = random_array(8, 5) * 4
    y = np.array([0, 4, 1, 1, 3, 2, 0, 4], dtype=np.uint8)
    zn, zt = needle_input(z), torch_input(z)
    loss_n = nn.SoftmaxLoss()(zn, ndl.Tensor(y, requires_grad=False))
    loss_t = torch.nn.functional.cross_entropy(zt, torch.tensor(y, dtype=torch.long))
    assert_matches(loss_n, loss_t, "loss")
    loss_n.backward()
    loss_t.backward()
    assert_matches(zn.grad, zt.grad, "logits gradient")


def make_models(seed=0):
    """The same MLP in needle and in torch: Linear(6, 8), ReLU, Linear(8, 3)."""
    np.random.seed(seed)
    layers = [nn.Linear(6, 8), nn.Linear(8, 3)]
    ours = nn.Sequential(layers[0], nn.ReLU(), layers[1])
    copies = [torch_linear(layer) for layer in layers]
    theirs = torch.nn.Sequential(copies[0], torch.nn.ReLU(), copies[1])
    return ours, theirs, list(zip(layers, copies, strict=True))


def run_trajectories(make_ours, make_theirs, check_state=None, steps=5):
    ours, theirs, pairs = make_models()
    opt_n = make_ours(ours.parameters())
    opt_t = make_theirs(theirs.parameters())
    x = random_array(16, 6, seed=1)
    y = np.random.default_rng(2).integers(0, 3, 16).astype(np.uint8)
    for step in range(steps):
        opt_n.reset_grad()
        loss_n = nn.SoftmaxLoss()(ours(ndl.Tensor(x, requires_grad=False)), ndl.Tensor(y))
        loss_n.backward()
        opt_n.step()
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(
            theirs(torch.tensor(x)), torch.tensor(y, dtype=torch.long)
        )
        loss_t.backward()
        opt_t.step()
        assert_matches(loss_n, loss_t, f"loss at step {step}")
        for i, (layer, copy) in enumerate(pairs):
            assert_linear_matches(layer, copy, f"layer {i} after step {step + 1}")
            if check_state is not None:
                check_state(opt_n, opt_t, layer, copy, f"layer {i} after step {step + 1}")


def test_sgd_momentum_trajectory_matches_torch_with_dampening_equal_to_momentum():
    def make_theirs(params):
        params = list(params)
        opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, dampening=0.9, weight_decay=0.01)
        for p in params:
            opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
        return opt

    run_trajectories(
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01), make_theirs
    )


def test_adam_trajectory_and_moments_match_torch():
    def check_moments(opt_n, opt_t, layer, copy, what):
        pairs = [(layer.weight, copy.weight, True), (layer.bias, copy.bias, False)]
        for ours, theirs, transpose in pairs:
            state = opt_t.state[theirs]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m, v = (m.T, v.T) if transpose else (m.reshape(1, -1), v.reshape(1, -1))
            assert_matches(opt_n.m[ours], m, f"{what}: m")
            assert_matches(opt_n.v[ours], v, f"{what}: v")

    run_trajectories(
        lambda ps: optim.Adam(ps, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.01),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
        check_state=check_moments,
    )
