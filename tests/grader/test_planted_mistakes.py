"""Planted mistakes: each common student mistake, planted alone in a copy of solutions/, must cost
points on its own problem, and nowhere else except in the problems that genuinely run the edited
code (say a wrong ReLU forward, which Linear + ReLU networks use).

Each mistake states exactly which other problems lose points, with the reason (the dependency
stated in their declarations); the test demands that set, no more and no fewer: a problem that
stops losing points (a new stand-in) or starts losing them (a lost one) both show up. A problem
that runs the edited code but is not affected by this edit (BatchNorm sums over axis 0, where a
gradient that forgets the axes still broadcasts right) is not in the set. All problems are graded
for every mistake, so collateral damage anywhere is caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from grader import problems as registry

pytestmark = pytest.mark.slow

FULL = {pid: registry.load(pid).PROBLEM.points for pid in registry.PROBLEM_IDS}

OPS = "needle/ops/ops_mathematic.py"
LOG = "needle/ops/ops_logarithmic.py"
AUTOGRAD = "needle/autograd.py"
INIT = "needle/init/init_initializers.py"
INIT_BASIC = "needle/init/init_basic.py"
NN = "needle/nn/nn_basic.py"
OPTIM = "needle/optim.py"
DATA = "needle/data/data_basic.py"
TRANSFORMS = "needle/data/data_transforms.py"
APP = "apps/mlp_resnet.py"

# Problems whose probes call backward() through the student's autodiff (and so through the
# gradients of the ops their modules are built from).
BACKWARD_USERS = frozenset(
    {"softmax_loss", "nn_basic", "layernorm", "batchnorm", "dropout", "mlp_resnet"}
)
# Linear.__init__'s solution: weight first, then bias.
LINEAR_INIT = (
    "        self.weight = Parameter(\n"
    "            init.kaiming_uniform(in_features, out_features, device=device, dtype=dtype)\n"
    "        )\n"
    "        if bias:\n"
    "            b = init.kaiming_uniform(out_features, 1, device=device, dtype=dtype)\n"
    "            self.bias = Parameter(b.reshape((1, out_features)))\n"
    "        else:\n"
    "            self.bias = None\n"
)


@dataclass(frozen=True)
class Mistake:
    """One planted mistake: replace `old` (exactly one occurrence) by `new` in `path`.

    `own` must lose points, and so must `collateral` (`why` says which code of theirs runs the
    edit); every other problem must keep full marks.
    """

    id: str
    path: str
    old: str
    new: str
    own: str
    collateral: frozenset[str] = frozenset()
    why: str = ""


MISTAKES = [
    # ----- ops ------------------------------------------------------------------------------------
    Mistake(
        "relu_forward_leaky",
        OPS,
        "return array_api.maximum(a, 0)",
        "return array_api.maximum(a, 0.01 * a)",
        "ops_forward",
        frozenset({"nn_basic", "mlp_resnet"}),
        "nn.ReLU and the MLPResNet forward call ops.relu",
    ),
    Mistake(
        "transpose_default_swaps_first_two_axes",
        OPS,
        "first, second = self.axes if self.axes is not None else (-1, -2)",
        "first, second = self.axes if self.axes is not None else (0, 1)",
        "ops_forward",
        frozenset({"ops_backward"}),
        "MatMul.gradient transposes 3-d operands with the default axes",
    ),
    Mistake(
        "log_gradient_ignores_out_grad",
        OPS,
        "return out_grad / node.inputs[0]",
        "return power_scalar(node.inputs[0], -1)",
        "ops_backward",
    ),
    Mistake(
        "divide_gradient_ignores_out_grad",
        OPS,
        "grad_a = out_grad / b\n        grad_b = -out_grad * a / (b * b)",
        "grad_a = power_scalar(b, -1)\n        grad_b = -a / (b * b)",
        "ops_backward",
        frozenset({"layernorm", "batchnorm"}),
        "both normalise with x_hat = centered / std and are differentiated through it",
    ),
    Mistake(
        "power_gradient_wrt_exponent_without_log",
        OPS,
        "grad_b = out_grad * node * log(a)",
        "grad_b = out_grad * node",
        "ops_backward",
    ),
    Mistake(
        "tanh_gradient_from_input_not_output",
        OPS,
        "return out_grad * add_scalar(negate(node * node), 1.0)",
        "return out_grad * add_scalar(negate(node.inputs[0] * node.inputs[0]), 1.0)",
        "ops_backward",
    ),
    Mistake(
        "matmul_gradient_not_summed_over_broadcast_batch",
        OPS,
        "return unbroadcast(grad_a, a.shape), unbroadcast(grad_b, b.shape)",
        "return grad_a, grad_b",
        "ops_backward",
    ),
    Mistake(
        "summation_gradient_ignores_axes",
        OPS,
        "kept_shape = list(input_shape)\n"
        "        for axis in axes:\n"
        "            kept_shape[axis] = 1\n"
        "        return broadcast_to(reshape(out_grad, kept_shape), input_shape)",
        "return broadcast_to(out_grad, input_shape)",
        "ops_backward",
        frozenset({"softmax_loss", "layernorm"}),
        "SoftmaxLoss and LayerNorm sum over axis 1 and are differentiated through the sum",
    ),
    # ----- logsumexp ------------------------------------------------------------------------------
    Mistake(
        "logsumexp_without_max_shift",
        LOG,
        "z_max = array_api.max(Z, axis=self.axes, keepdims=True)\n"
        "        sum_exp = array_api.sum(array_api.exp(Z - z_max), axis=self.axes, keepdims=True)\n"
        "        out = array_api.log(sum_exp) + z_max",
        "out = array_api.log(array_api.sum(array_api.exp(Z), axis=self.axes, keepdims=True))",
        "logsumexp",
    ),
    Mistake(
        "logsumexp_gradient_ignores_out_grad",
        LOG,
        "grad = broadcast_to(reshape(out_grad, kept), Z.shape)\n"
        "        return grad * shifted_exp / sum_exp",
        "return shifted_exp / sum_exp",
        "logsumexp",
    ),
    Mistake(
        "logsoftmax_without_max_shift",
        LOG,
        "shifted = Z - z_max\n",
        "shifted = Z\n",
        "logsumexp",
    ),
    # ----- autodiff -------------------------------------------------------------------------------
    Mistake(
        "topo_sort_pre_order",
        AUTOGRAD,
        "    visited.add(node)\n"
        "    for input_node in node.inputs:\n"
        "        topo_sort_dfs(input_node, visited, topo_order)\n"
        "    topo_order.append(node)",
        "    visited.add(node)\n"
        "    topo_order.append(node)\n"
        "    for input_node in node.inputs:\n"
        "        topo_sort_dfs(input_node, visited, topo_order)",
        "autodiff",
        BACKWARD_USERS,
        "every backward() runs through find_topo_sort",
    ),
    Mistake(
        "topo_sort_reversed",
        AUTOGRAD,
        "        topo_sort_dfs(node, visited, topo_order)\n    return topo_order",
        "        topo_sort_dfs(node, visited, topo_order)\n    return topo_order[::-1]",
        "autodiff",
        BACKWARD_USERS,
        "every backward() runs through find_topo_sort",
    ),
    Mistake(
        "adjoints_overwritten_not_summed",
        AUTOGRAD,
        "node_to_output_grads_list.setdefault(input_node, []).append(partial)",
        "node_to_output_grads_list[input_node] = [partial]",
        "autodiff",
        frozenset({"softmax_loss", "layernorm", "batchnorm", "mlp_resnet"}),
        "their graphs use a value twice (z in logsumexp(z) - z_y, x in x - mean(x), the skip of a "
        "residual block); the graphs of Linear and Dropout use each value once",
    ),
    # ----- softmax loss ---------------------------------------------------------------------------
    Mistake(
        "softmax_loss_sums_over_batch",
        NN,
        "return losses.sum() / batch_size",
        "return losses.sum()",
        "softmax_loss",
    ),
    # ----- init -----------------------------------------------------------------------------------
    Mistake(
        "xavier_uniform_fan_in_only",
        INIT,
        "a = gain * math.sqrt(6.0 / (fan_in + fan_out))",
        "a = gain * math.sqrt(6.0 / fan_in)",
        "init",
    ),
    Mistake(
        "kaiming_normal_fan_out",
        INIT,
        "std = gain / math.sqrt(fan_in)",
        "std = gain / math.sqrt(fan_out)",
        "init",
    ),
    Mistake(
        "kaiming_uniform_gain_two",
        INIT,
        "gain = math.sqrt(2.0)\n    bound = gain * math.sqrt(3.0 / fan_in)",
        "gain = 2.0\n    bound = gain * math.sqrt(3.0 / fan_in)",
        "init",
    ),
    Mistake(
        "randb_true_with_probability_one_minus_p",
        INIT_BASIC,
        "array = device.rand(*shape) <= p",
        "array = device.rand(*shape) >= p",
        "init",
    ),
    # ----- nn_basic -------------------------------------------------------------------------------
    Mistake(
        "linear_bias_shape_out",
        NN,
        "self.bias = Parameter(b.reshape((1, out_features)))",
        "self.bias = Parameter(b.reshape((out_features,)))",
        "nn_basic",
    ),
    Mistake(
        "linear_bias_drawn_before_weight",
        NN,
        LINEAR_INIT,
        LINEAR_INIT[LINEAR_INIT.index("        if bias:") :]
        + LINEAR_INIT[: LINEAR_INIT.index("        if bias:")],
        "nn_basic",
        frozenset({"mlp_resnet"}),
        "MLPResNet is built from Linear: its seeded weights and parameter order follow Linear's",
    ),
    Mistake(
        "residual_forgets_the_skip",
        NN,
        "return self.fn(x) + x",
        "return self.fn(x)",
        "nn_basic",
        frozenset({"mlp_resnet"}),
        "ResidualBlock is built on nn.Residual",
    ),
    # ----- layernorm ------------------------------------------------------------------------------
    Mistake(
        "layernorm_over_axis_0",
        NN,
        "mean = (x.sum(axes=(1,)) / dim).reshape((batch_size, 1))\n"
        "        centered = x - mean.broadcast_to(x.shape)\n"
        "        var = ((centered**2).sum(axes=(1,)) / dim).reshape((batch_size, 1))",
        "mean = (x.sum(axes=(0,)) / batch_size).reshape((1, dim))\n"
        "        centered = x - mean.broadcast_to(x.shape)\n"
        "        var = ((centered**2).sum(axes=(0,)) / batch_size).reshape((1, dim))",
        "layernorm",
    ),
    Mistake(
        "layernorm_eps_outside_sqrt",
        NN,
        "var = ((centered**2).sum(axes=(1,)) / dim).reshape((batch_size, 1))\n"
        "        std = (var + self.eps) ** 0.5",
        "var = ((centered**2).sum(axes=(1,)) / dim).reshape((batch_size, 1))\n"
        "        std = var**0.5 + self.eps",
        "layernorm",
    ),
    Mistake(
        "layernorm_unbiased_variance",
        NN,
        "var = ((centered**2).sum(axes=(1,)) / dim)",
        "var = ((centered**2).sum(axes=(1,)) / (dim - 1))",
        "layernorm",
    ),
    # ----- batchnorm ------------------------------------------------------------------------------
    Mistake(
        "batchnorm_unbiased_variance",
        NN,
        "var = (centered**2).sum(axes=(0,)) / batch_size",
        "var = (centered**2).sum(axes=(0,)) / (batch_size - 1)",
        "batchnorm",
    ),
    Mistake(
        "batchnorm_batch_statistics_in_eval",
        NN,
        "        if self.training:\n            mean = x.sum(axes=(0,)) / batch_size",
        "        if True:\n            mean = x.sum(axes=(0,)) / batch_size",
        "batchnorm",
    ),
    Mistake(
        "batchnorm_running_stats_are_parameters",
        NN,
        "self.running_mean = init.zeros(dim, device=device, dtype=dtype)\n"
        "        self.running_var = init.ones(dim, device=device, dtype=dtype)",
        "self.running_mean = Parameter(init.zeros(dim, device=device, dtype=dtype))\n"
        "        self.running_var = Parameter(init.ones(dim, device=device, dtype=dtype))",
        "batchnorm",
    ),
    Mistake(
        "batchnorm_running_stats_keep_the_graph",
        NN,
        "self.running_mean.data = (1 - m) * self.running_mean.data + m * mean.data\n"
        "            self.running_var.data = (1 - m) * self.running_var.data + m * var.data",
        "self.running_mean = (1 - m) * self.running_mean + m * mean\n"
        "            self.running_var = (1 - m) * self.running_var + m * var",
        "batchnorm",
    ),
    Mistake(
        "batchnorm_momentum_on_the_wrong_side",
        NN,
        "self.running_mean.data = (1 - m) * self.running_mean.data + m * mean.data",
        "self.running_mean.data = m * self.running_mean.data + (1 - m) * mean.data",
        "batchnorm",
    ),
    Mistake(
        "batchnorm_eps_outside_sqrt",
        NN,
        "var = self.running_var\n        std = (var + self.eps) ** 0.5",
        "var = self.running_var\n        std = var**0.5 + self.eps",
        "batchnorm",
    ),
    # ----- dropout --------------------------------------------------------------------------------
    Mistake(
        "dropout_without_rescaling",
        NN,
        "return x * mask / (1 - self.p)",
        "return x * mask",
        "dropout",
    ),
    Mistake(
        "dropout_p_as_keep_probability",
        NN,
        "mask = init.randb(*x.shape, p=1 - self.p, device=x.device, dtype=x.dtype)",
        "mask = init.randb(*x.shape, p=self.p, device=x.device, dtype=x.dtype)",
        "dropout",
    ),
    Mistake(
        "dropout_drops_in_eval_mode",
        NN,
        "if not self.training:\n            return x\n        mask",
        "mask",
        "dropout",
    ),
    # ----- sgd ------------------------------------------------------------------------------------
    Mistake(
        "sgd_without_one_minus_momentum",
        OPTIM,
        "u = self.momentum * self.u.get(w, 0.0) + (1 - self.momentum) * g",
        "u = self.momentum * self.u.get(w, 0.0) + g",
        "sgd",
    ),
    Mistake(
        "sgd_modifies_grad_in_place",
        OPTIM,
        "g = w.grad.data + self.weight_decay * w.data\n            u = ",
        "w.grad.data = w.grad.data + self.weight_decay * w.data\n"
        "            g = w.grad.data\n"
        "            u = ",
        "sgd",
    ),
    Mistake(
        "sgd_ignores_weight_decay",
        OPTIM,
        "g = w.grad.data + self.weight_decay * w.data\n            u =",
        "g = w.grad.data\n            u =",
        "sgd",
    ),
    Mistake(
        "sgd_velocity_not_stored",
        OPTIM,
        "            self.u[w] = u\n",
        "",
        "sgd",
    ),
    # ----- adam -----------------------------------------------------------------------------------
    Mistake(
        "adam_stores_bias_corrected_moments",
        OPTIM,
        "self.m[w] = m\n"
        "            self.v[w] = v\n"
        "            m_hat = m / (1 - self.beta1**self.t)\n"
        "            v_hat = v / (1 - self.beta2**self.t)",
        "m_hat = m / (1 - self.beta1**self.t)\n"
        "            v_hat = v / (1 - self.beta2**self.t)\n"
        "            self.m[w] = m_hat\n"
        "            self.v[w] = v_hat",
        "adam",
    ),
    Mistake(
        "adam_without_bias_correction",
        OPTIM,
        "m_hat = m / (1 - self.beta1**self.t)\n            v_hat = v / (1 - self.beta2**self.t)",
        "m_hat = m\n            v_hat = v",
        "adam",
    ),
    Mistake(
        "adam_increments_t_per_parameter",
        OPTIM,
        "self.t += 1\n        for w in self.params:",
        "for w in self.params:\n            self.t += 1",
        "adam",
    ),
    Mistake(
        "adam_eps_inside_sqrt",
        OPTIM,
        "(v_hat**0.5 + self.eps)",
        "(v_hat + self.eps) ** 0.5",
        "adam",
    ),
    # ----- data -----------------------------------------------------------------------------------
    Mistake(
        "dataloader_shuffles_only_once",
        DATA,
        "if self.shuffle:\n",
        "if self.shuffle and not hasattr(self, 'batch_number'):\n",
        "data",
    ),
    Mistake(
        "mnist_images_not_normalised",
        DATA,
        ".astype(np.float32) / 255",
        ".astype(np.float32)",
        "data",
    ),
    Mistake(
        "random_crop_shift_x_along_axis_1",
        TRANSFORMS,
        "top = pad + shift_x\n        left = pad + shift_y",
        "top = pad + shift_y\n        left = pad + shift_x",
        "data",
    ),
    Mistake(
        "random_flip_horizontal_flips_axis_0",
        TRANSFORMS,
        "return np.flip(img, axis=1)",
        "return np.flip(img, axis=0)",
        "data",
    ),
    # ----- mlp_resnet -----------------------------------------------------------------------------
    Mistake(
        "residual_block_relu_before_norm",
        APP,
        "norm(hidden_dim),\n        nn.ReLU(),",
        "nn.ReLU(),\n        norm(hidden_dim),",
        "mlp_resnet",
    ),
    Mistake(
        "epoch_without_optimizer_stays_in_train_mode",
        APP,
        "if opt is None:\n        model.eval()",
        "if opt is None:\n        pass",
        "mlp_resnet",
    ),
]

# Mistakes whose own problem's failure message must say something specific:
# mistake id -> (check name, words that must appear in its message).
MESSAGES = {
    "logsumexp_without_max_shift": (
        "logsumexp stays finite and correct at 1e5 (float32)",
        ("inf",),
    ),
    "log_gradient_ignores_out_grad": (
        "log gradient wrt input 0",
        ("disagrees with finite differences of your own forward",),
    ),
    "relu_forward_leaky": ("relu", ("relu forward", "expected")),
    "batchnorm_unbiased_variance": ("training forward, step 1", ("max abs error", "expected")),
    "batchnorm_eps_outside_sqrt": (
        "forward on a nearly constant feature (variance below eps)",
        ("only the nearly constant feature", "eps belongs inside the square root"),
    ),
    "batchnorm_batch_statistics_in_eval": (
        "eval mode uses the running statistics",
        ("expected",),
    ),
    "batchnorm_running_stats_are_parameters": (
        "two parameters (running stats are not Parameters)",
        ("len(parameters())", "expected"),
    ),
    "batchnorm_running_stats_keep_the_graph": (
        "no graph kept alive across steps",
        ("live tensors grow",),
    ),
    "adam_stores_bias_corrected_moments": (
        "first moment m stored without bias correction",
        ("expected",),
    ),
    "sgd_modifies_grad_in_place": ("leaves .grad untouched", ("p.grad",)),
    "xavier_uniform_fan_in_only": ("xavier_uniform distribution", ("sample std", "expected")),
    "dropout_p_as_keep_probability": (
        "drops a fraction p and rescales by 1/(1-p)",
        ("DROP probability",),
    ),
    "topo_sort_pre_order": ("topological order", ("differs", "expected")),
    "topo_sort_reversed": (
        "gradient of a leaf used three times",
        ("KeyError (needle/autograd.py:", "topological order (inputs before outputs)"),
    ),
    "residual_block_relu_before_norm": (
        "forward with given weights, training mode (a fixed Dropout mask)",
        (
            "expected ... ReLU, Residual, Linear, norm, ReLU",
            "yours ... ReLU, Residual, Linear, ReLU, norm",
        ),
    ),
    "randb_true_with_probability_one_minus_p": (
        "randb (seeded values)",
        ("at index (0, 0): expected 0, got 1",),
    ),
    "logsumexp_gradient_ignores_out_grad": (
        "logsumexp gradient, axes (1,)",
        ("your forward is right", "disagrees with finite differences of your own forward"),
    ),
    "linear_bias_shape_out": ("Linear bias shape (1, out)", ("expected [1, 3], got [3]",)),
}


def test_mistakes_are_distinct_and_name_real_problems():
    ids = [mistake.id for mistake in MISTAKES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 25
    for mistake in MISTAKES:
        assert mistake.own in FULL, mistake.id
        assert mistake.collateral <= set(FULL) - {mistake.own}, mistake.id
        assert bool(mistake.collateral) == bool(mistake.why), mistake.id
    assert set(MESSAGES) <= set(ids)


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda mistake: mistake.id)
def test_planted_mistake_loses_points_on_its_own_problem_only(grade_edited, mistake):
    scores = grade_edited(mistake.path, mistake.old, mistake.new)
    assert scores[mistake.own] < FULL[mistake.own], (
        f"{mistake.id} is not caught: {mistake.own} scores full marks"
    )
    losing = {pid for pid, score in scores.items() if pid != mistake.own and score < FULL[pid]}
    assert losing == set(mistake.collateral), (
        f"{mistake.id}: other problems losing points {sorted(losing)}, "
        f"declared {sorted(mistake.collateral)}"
    )


@pytest.mark.parametrize("mistake_id", sorted(MESSAGES))
def test_planted_mistake_message_names_the_failure(grade_edited, mistake_id):
    mistake = next(m for m in MISTAKES if m.id == mistake_id)
    check_name, words = MESSAGES[mistake_id]
    result = grade_edited(mistake.path, mistake.old, mistake.new, [mistake.own], full=True)
    (problem,) = result.problems
    assert problem.error == ""
    failed = {check.name: check.message for check in problem.checks if not check.passed}
    assert check_name in failed, f"{check_name!r} passed; failed checks: {sorted(failed)}"
    for message in failed.values():
        assert message.strip() and "Traceback" not in message, message
    for word in words:
        assert word in failed[check_name], failed[check_name]
    # A relative error next to an expected 0 (a division by ~0, 1e+298) tells a student nothing.
    for message in failed.values():
        for relative in re.findall(r"relative ([-+.e\d]+)\)", message):
            assert float(relative) < 1e6, message


@pytest.mark.parametrize(
    "mistake_id", ["batchnorm_unbiased_variance", "batchnorm_batch_statistics_in_eval"]
)
def test_nearly_constant_feature_check_names_both_causes_when_all_features_are_off(
    grade_edited, mistake_id
):
    """Does a wrong variance (not eps) get a message that does not blame eps alone?"""
    mistake = next(m for m in MISTAKES if m.id == mistake_id)
    result = grade_edited(mistake.path, mistake.old, mistake.new, [mistake.own], full=True)
    checks = {check.name: check for check in result.problems[0].checks}
    check = checks["forward on a nearly constant feature (variance below eps)"]
    if mistake_id == "batchnorm_batch_statistics_in_eval":
        assert check.passed  # a training-mode check: eval mode does not enter it
        return
    assert not check.passed
    assert "other features are off too" in check.message, check.message
    assert "biased" in check.message and "sqrt(var + eps)" in check.message, check.message


# Mistakes whose diagnostic check must be visible in the short terminal report:
# mistake id -> words of the failed check that names the cause.
VISIBLE = {
    "adam_stores_bias_corrected_moments": "FAIL first moment m stored without bias correction",
    "batchnorm_unbiased_variance": "FAIL normalised batch has mean 0 and variance 1",
}


@pytest.mark.parametrize("mistake_id", sorted(VISIBLE))
def test_terminal_report_shows_the_check_that_names_the_cause(grade_edited, mistake_id):
    """Does the short report show the diagnostic check, with trajectories folded into one line?"""
    from grader import report

    mistake = next(m for m in MISTAKES if m.id == mistake_id)
    result = grade_edited(mistake.path, mistake.old, mistake.new, [mistake.own], full=True)
    lines = report.problem_lines(result.problems[0])
    assert any(line.strip().startswith(VISIBLE[mistake_id]) for line in lines), lines
    assert len(lines) <= 1 + report.MAX_FAILURES_SHOWN + 1, lines
    assert not any("more failed checks" in line for line in lines), lines
