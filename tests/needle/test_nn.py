"""needle.nn against numpy transcriptions of the formulas in the API page.

For each module: shape, then values (float32, against numpy), then the gradients of every input
and parameter (float64, against numdifftools, with a random output gradient).
"""

import math

import needle as ndl
import numpy as np
import pytest
from checks import assert_shape_then_values, check_float32_preserved, check_gradients
from needle import nn

# float32 forward passes against float64 numpy: a few ulps of float32 per operation.
F32_RTOL, F32_ATOL = 1e-5, 1e-6


def tensor(array, dtype="float32", requires_grad=False):
    return ndl.Tensor(np.asarray(array), dtype=dtype, requires_grad=requires_grad)


def random_array(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def check_module_forward(module, expected, *inputs):
    """module(*float32 Tensors of inputs) has the shape, values and dtype of `expected`."""
    out = module(*[tensor(x) for x in inputs])
    assert_shape_then_values(out, expected, rtol=F32_RTOL, atol=F32_ATOL, what="forward")
    assert out.numpy().dtype == np.float32, f"forward dtype {out.dtype}, expected float32"


# numpy transcriptions of the API page
def linear_ref(x, w, b):
    return x @ w + b


def batchnorm_ref(x, w, b, mean, var, eps):
    return w * (x - mean) / np.sqrt(var + eps) + b


def layernorm_ref(x, w, b, eps):
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return w * (x - mean) / np.sqrt(var + eps) + b


def softmax_loss_ref(z, y):
    z = np.asarray(z, dtype=np.float64)
    zmax = z.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
    return np.mean(logsumexp - z[np.arange(len(y)), y])


def kaiming_uniform_ref(fan_in, fan_out):
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    return np.random.rand(fan_in, fan_out) * 2 * bound - bound


# Module: parameter discovery and training mode
class Leaf(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.zeros(2, dtype=np.float32))
        self.statistic = ndl.Tensor(np.zeros(2, dtype=np.float32), requires_grad=False)


class Tree(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(np.zeros(1, dtype=np.float32))
        self.leaf = Leaf()
        self.by_name = {"x": Leaf(), "y": nn.Parameter(np.zeros(3, dtype=np.float32))}
        self.in_list = [Leaf(), [Leaf(), {"deep": Leaf()}]]
        self.in_tuple = (Leaf(), nn.Parameter(np.zeros(4, dtype=np.float32)))
        self.count = 3
        self.plain_tensor = ndl.Tensor(np.zeros(5, dtype=np.float32))
        self.nested = nn.Sequential(nn.Residual(Leaf()))

    def leaves(self):
        return [
            self.leaf, self.by_name["x"], self.in_list[0], self.in_list[1][0],
            self.in_list[1][1]["deep"], self.in_tuple[0], self.nested.modules[0].fn,
        ]  # fmt: skip

    def submodules(self):
        return self.leaves() + [self.nested, self.nested.modules[0]]


def test_parameters_are_found_through_modules_dicts_lists_and_tuples_in_order():
    tree = Tree()
    leaves = tree.leaves()
    expected = [tree.a, leaves[0].w, leaves[1].w, tree.by_name["y"]]
    expected += [leaves[2].w, leaves[3].w, leaves[4].w, leaves[5].w, tree.in_tuple[1]]
    expected += [leaves[6].w]
    found = tree.parameters()
    assert [id(p) for p in found] == [id(p) for p in expected]
    assert all(isinstance(p, nn.Parameter) for p in found)


def test_plain_tensors_are_not_parameters():
    tree = Tree()
    ids = {id(p) for p in tree.parameters()}
    assert id(tree.plain_tensor) not in ids
    assert all(id(leaf.statistic) not in ids for leaf in tree.leaves())


def test_a_shared_parameter_is_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(model.parameters()) == 2


def test_children_are_every_submodule_below():
    tree = Tree()
    children = tree._children()
    assert len(children) == len(tree.submodules())
    assert {id(m) for m in children} == {id(m) for m in tree.submodules()}


def test_train_and_eval_reach_every_submodule_and_return_the_module():
    tree = Tree()
    assert tree.eval() is tree
    assert not tree.training
    assert not any(module.training for module in tree.submodules())
    assert tree.train() is tree
    assert tree.training and all(module.training for module in tree.submodules())
    tree.train(False)
    assert not any(module.training for module in tree.submodules())


def test_calling_a_module_calls_forward_with_its_arguments():
    class Recorder(nn.Module):
        def forward(self, *args, **kwargs):
            return args, kwargs

    assert Recorder()(1, 2, k=3) == ((1, 2), {"k": 3})


# Linear
def test_linear_initialises_weight_then_bias_with_kaiming_uniform():
    np.random.seed(3)
    layer = nn.Linear(7, 4)
    np.random.seed(3)
    weight = kaiming_uniform_ref(7, 4)
    bias = kaiming_uniform_ref(4, 1).reshape(1, 4)
    assert isinstance(layer.weight, nn.Parameter) and isinstance(layer.bias, nn.Parameter)
    assert_shape_then_values(layer.weight, weight.astype(np.float32), rtol=1e-7, atol=0)
    assert_shape_then_values(layer.bias, bias.astype(np.float32), rtol=1e-7, atol=0)
    assert layer.weight.numpy().dtype == np.float32 and layer.bias.numpy().dtype == np.float32
    assert [id(p) for p in layer.parameters()] == [id(layer.weight), id(layer.bias)]


@pytest.mark.parametrize("shape", [(5, 7), (1, 7), (1, 3, 7), (2, 3, 7)])
def test_linear_forward_is_x_at_w_plus_b(shape):
    layer = nn.Linear(7, 4)
    x = random_array(*shape)
    check_module_forward(layer, linear_ref(x, layer.weight.numpy(), layer.bias.numpy()), x)


def test_linear_without_bias_has_only_a_weight():
    layer = nn.Linear(7, 4, bias=False)
    assert len(layer.parameters()) == 1
    x = random_array(5, 7)
    check_module_forward(layer, x @ layer.weight.numpy(), x)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_linear_gradients(shape):
    layer = nn.Linear(3, 2, dtype="float64")

    def fn(x, w, b):
        layer.weight, layer.bias = w, b
        return layer(x)

    w, b = random_array(3, 2, seed=1), random_array(1, 2, seed=2)
    check_gradients(fn, random_array(*shape), w, b)


def test_linear_rejects_nonpositive_sizes():
    with pytest.raises(ValueError, match="in_features.*0"):
        nn.Linear(0, 3)


# Flatten, ReLU, Identity, Sequential, Residual
def test_flatten_keeps_the_batch_axis():
    x = random_array(2, 3, 4, 5)
    check_module_forward(nn.Flatten(), x.reshape(2, 60), x)


def test_relu_identity_sequential_residual_forward():
    x = random_array(4, 3)
    check_module_forward(nn.ReLU(), np.maximum(x, 0), x)
    check_module_forward(nn.Identity(), x, x)
    layer = nn.Linear(3, 3)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    check_module_forward(nn.Sequential(layer, nn.ReLU()), np.maximum(linear_ref(x, w, b), 0), x)
    check_module_forward(nn.Residual(layer), linear_ref(x, w, b) + x, x)


def test_sequential_keeps_its_modules_in_a_tuple():
    modules = (nn.ReLU(), nn.Identity())
    assert nn.Sequential(*modules).modules == modules


def test_sequential_and_residual_gradients():
    layer = nn.Linear(3, 3, dtype="float64")
    model = nn.Residual(nn.Sequential(layer, nn.ReLU()))

    def fn(x, w, b):
        layer.weight, layer.bias = w, b
        return model(x)

    x = random_array(4, 3)
    check_gradients(fn, x, random_array(3, 3, seed=1), random_array(1, 3, seed=2))


# SoftmaxLoss and L2Loss
def test_softmax_loss_is_the_batch_mean_of_logsumexp_minus_the_true_logit():
    z = random_array(6, 5) * 3
    y = np.array([0, 4, 2, 2, 1, 3])
    out = nn.SoftmaxLoss()(tensor(z), tensor(y, dtype="uint8"))
    assert_shape_then_values(out, softmax_loss_ref(z, y), rtol=F32_RTOL, atol=F32_ATOL)
    assert out.numpy().dtype == np.float32


def test_softmax_loss_gradient():
    y = np.array([0, 4, 2, 2, 1, 3])
    labels = tensor(y, dtype="uint8")
    check_gradients(lambda z: nn.SoftmaxLoss()(z, labels), random_array(6, 5) * 3)


@pytest.mark.parametrize("scale, dtype", [(1e5, "float32"), (1e10, "float64")])
def test_softmax_loss_is_finite_for_large_logits(scale, dtype):
    z = random_array(4, 3) * scale
    y = np.array([0, 1, 2, 1])
    out = nn.SoftmaxLoss()(tensor(z, dtype=dtype), tensor(y, dtype="uint8"))
    assert np.isfinite(out.numpy())
    # relative to the size of the loss (~scale), float32 rounding of the logits
    np.testing.assert_allclose(out.numpy(), softmax_loss_ref(z.astype(dtype), y), rtol=1e-6)


def test_l2_loss_is_the_mean_squared_error():
    a, b = random_array(4, 3), random_array(4, 3, seed=1)
    check_module_forward(nn.L2Loss(), np.mean((a - b) ** 2), a, b)
    check_gradients(nn.L2Loss(), a, b)


# BatchNorm1d
def test_batchnorm_training_normalises_with_the_biased_batch_statistics():
    bn = nn.BatchNorm1d(3, eps=1e-3)
    bn.weight.data = tensor(random_array(3, seed=1))
    bn.bias.data = tensor(random_array(3, seed=2))
    x = random_array(8, 3) * 2 + 1
    expected = batchnorm_ref(
        x, bn.weight.numpy(), bn.bias.numpy(), x.mean(axis=0), x.var(axis=0), 1e-3
    )
    check_module_forward(bn, expected, x)


def test_batchnorm_running_statistics_follow_the_momentum_rule_over_several_steps():
    momentum = 0.3
    bn = nn.BatchNorm1d(4, momentum=momentum)
    running_mean, running_var = np.zeros(4), np.ones(4)
    for step in range(4):
        x = random_array(10, 4, seed=step) * (step + 1) + step
        bn(tensor(x, requires_grad=True))
        running_mean = (1 - momentum) * running_mean + momentum * x.mean(axis=0)
        running_var = (1 - momentum) * running_var + momentum * x.var(axis=0)  # biased
    assert_shape_then_values(bn.running_mean, running_mean, rtol=F32_RTOL, atol=F32_ATOL)
    assert_shape_then_values(bn.running_var, running_var, rtol=F32_RTOL, atol=F32_ATOL)
    for stat in (bn.running_mean, bn.running_var):
        assert stat.numpy().dtype == np.float32
        # updated from detached values: no graph hangs off the running statistics
        assert stat.is_leaf() and not stat.requires_grad


def test_batchnorm_eval_uses_the_running_statistics_and_does_not_update_them():
    bn = nn.BatchNorm1d(4, eps=1e-2)
    for step in range(3):
        bn(tensor(random_array(10, 4, seed=step) * 3 + 1))
    running_mean, running_var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    bn.eval()
    x = random_array(5, 4, seed=9)
    expected = batchnorm_ref(
        x, bn.weight.numpy(), bn.bias.numpy(), running_mean, running_var, 1e-2
    )
    check_module_forward(bn, expected, x)
    np.testing.assert_array_equal(bn.running_mean.numpy(), running_mean)
    np.testing.assert_array_equal(bn.running_var.numpy(), running_var)


def test_batchnorm_parameters_are_weight_and_bias_not_the_running_statistics():
    bn = nn.BatchNorm1d(5)
    assert [id(p) for p in bn.parameters()] == [id(bn.weight), id(bn.bias)]
    assert_shape_then_values(bn.weight, np.ones(5))
    assert_shape_then_values(bn.bias, np.zeros(5))
    assert_shape_then_values(bn.running_mean, np.zeros(5))
    assert_shape_then_values(bn.running_var, np.ones(5))
    assert not isinstance(bn.running_mean, nn.Parameter)
    assert not isinstance(bn.running_var, nn.Parameter)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(training):
    bn = nn.BatchNorm1d(3, dtype="float64")
    bn.running_mean.data = tensor(random_array(3, seed=5), dtype="float64")
    bn.running_var.data = tensor(np.exp(random_array(3, seed=6)), dtype="float64")
    bn.train(training)

    def fn(x, w, b):
        bn.weight, bn.bias = w, b
        return bn(x)

    x = random_array(6, 3) * 2 + 1
    check_gradients(fn, x, random_array(3, seed=1), random_array(3, seed=2))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"eps": -1e-5}, "eps.*-1e-05"), ({"momentum": 1.5}, "momentum.*1.5"), ({"dim": 0}, "dim")],
)
def test_batchnorm_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.BatchNorm1d(**{"dim": 3, **kwargs})


def test_normalisation_layers_reject_inputs_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"\(N, 3\).*\(4, 5\)"):
        nn.BatchNorm1d(3)(tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match=r"\(N, 3\).*\(4, 5\)"):
        nn.LayerNorm1d(3)(tensor(np.zeros((4, 5))))


# LayerNorm1d
def test_layernorm_normalises_each_row_with_eps_inside_the_square_root():
    # a large eps and rows of small variance make eps-outside-the-sqrt visibly wrong
    ln = nn.LayerNorm1d(5, eps=0.1)
    ln.weight.data = tensor(random_array(5, seed=1))
    ln.bias.data = tensor(random_array(5, seed=2))
    x = random_array(4, 5) * np.array([[0.1], [1], [3], [0.5]]) + 2
    check_module_forward(ln, layernorm_ref(x, ln.weight.numpy(), ln.bias.numpy(), 0.1), x)


def test_layernorm_gradients():
    ln = nn.LayerNorm1d(4, dtype="float64")

    def fn(x, w, b):
        ln.weight, ln.bias = w, b
        return ln(x)

    x = random_array(3, 4) * 2 + 1
    check_gradients(fn, x, random_array(4, seed=1), random_array(4, seed=2))


def test_layernorm_rejects_negative_eps():
    with pytest.raises(ValueError, match="eps.*-1"):
        nn.LayerNorm1d(3, eps=-1)


# Dropout
def test_dropout_keeps_with_probability_one_minus_p_and_rescales():
    p = 0.3
    x = random_array(20, 30)
    np.random.seed(11)
    out = nn.Dropout(p)(tensor(x))
    after_forward = np.random.get_state()[2]
    np.random.seed(11)
    mask = np.random.rand(20, 30) <= 1 - p
    assert np.random.get_state()[2] == after_forward, "Dropout must make exactly one rand call"
    check_values = mask * x / (1 - p)
    assert_shape_then_values(out, check_values, rtol=F32_RTOL, atol=F32_ATOL)
    assert out.numpy().dtype == np.float32


def test_dropout_is_the_identity_in_eval_mode_and_draws_nothing():
    x = random_array(5, 6)
    drop = nn.Dropout(0.5).eval()
    np.random.seed(0)
    check_module_forward(drop, x, x)
    assert np.random.get_state()[2] == 624, "eval-mode Dropout must not draw random numbers"


def test_dropout_with_p_zero_keeps_everything():
    x = random_array(5, 6)
    check_module_forward(nn.Dropout(0.0), x, x)


def test_dropout_gradient_is_the_mask_over_one_minus_p():
    drop = nn.Dropout(0.4)

    def fn(x):
        np.random.seed(2)  # the same mask at every evaluation
        return drop(x)

    check_gradients(fn, random_array(6, 5))


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5])
def test_dropout_rejects_a_drop_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=str(p)):
        nn.Dropout(p)


# float32 end to end
@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Linear(4, 3),
        lambda: nn.BatchNorm1d(4),
        lambda: nn.LayerNorm1d(4),
        lambda: nn.Dropout(0.2),
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.ReLU(), nn.Residual(nn.Identity())),
    ],
    ids=["Linear", "BatchNorm1d", "LayerNorm1d", "Dropout", "Sequential"],
)
def test_modules_keep_float32(make):
    module = make()
    check_float32_preserved(module, random_array(5, 4))
    for param in module.parameters():
        assert param.grad.numpy().dtype == np.float32
