"""Correct alternatives: implementations that differ from solutions/ in form but not in
mathematics (another variance formula, another stable LogSumExp, a rearranged Adam, an iterative
topological sort, ...) must keep full marks on every problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from grader import problems as registry

pytestmark = pytest.mark.slow

FULL = {pid: registry.load(pid).PROBLEM.points for pid in registry.PROBLEM_IDS}

OPS = "needle/ops/ops_mathematic.py"
LOG = "needle/ops/ops_logarithmic.py"
AUTOGRAD = "needle/autograd.py"
INIT = "needle/init/init_initializers.py"
NN = "needle/nn/nn_basic.py"
OPTIM = "needle/optim.py"


@dataclass(frozen=True)
class Alternative:
    """Replace `old` (exactly one occurrence) by `new` in `path`; the result is still correct."""

    id: str
    path: str
    old: str
    new: str


ALTERNATIVES = [
    Alternative(
        "batchnorm_variance_as_mean_of_squares_minus_squared_mean",
        NN,
        "var = (centered**2).sum(axes=(0,)) / batch_size",
        "var = (x**2).sum(axes=(0,)) / batch_size - mean**2",
    ),
    Alternative(
        "layernorm_variance_as_mean_of_squares_minus_squared_mean",
        NN,
        "var = ((centered**2).sum(axes=(1,)) / dim).reshape((batch_size, 1))",
        "var = ((x**2).sum(axes=(1,)) / dim).reshape((batch_size, 1)) - mean**2",
    ),
    Alternative(
        # log(s) = log1p(s - 1), and s = sum(exp(z - max)) >= 1: as stable as the reference.
        "logsumexp_via_log1p",
        LOG,
        "out = array_api.log(sum_exp) + z_max",
        "out = array_api.log1p(sum_exp - 1) + z_max",
    ),
    Alternative(
        # The course's usual gradient: softmax as exp(z - logsumexp(z)), from the output node.
        "logsumexp_gradient_from_the_output",
        LOG,
        "return grad * shifted_exp / sum_exp",
        "return grad * exp(Z - broadcast_to(reshape(node, kept), Z.shape))",
    ),
    Alternative(
        # softmax as exp(z - logsumexp(z)), logsumexp recomputed from the input: at 1e5 in float32
        # z - logsumexp(z) loses digits, but the stability checks are forwards (and the gradient
        # one is float64), so this common form keeps full marks.
        "logsumexp_gradient_as_exp_of_input_minus_logsumexp",
        LOG,
        "return grad * shifted_exp / sum_exp",
        "return grad * exp(Z - broadcast_to(reshape(logsumexp(Z, self.axes), kept), Z.shape))",
    ),
    Alternative(
        "softmax_loss_via_logsoftmax",
        NN,
        "z_y = (logits * y_one_hot).sum(axes=(1,))\n"
        "        losses = ops.logsumexp(logits, axes=(1,)) - z_y\n"
        "        return losses.sum() / batch_size",
        "return -(ops.logsoftmax(logits) * y_one_hot).sum() / batch_size",
    ),
    Alternative(
        # lr * m_hat / (sqrt(v_hat) + eps)
        #   = [lr / (1 - b1^t)] * m / (sqrt(v) / sqrt(1 - b2^t) + eps): the same eps placement.
        "adam_with_corrections_folded_into_step_size",
        OPTIM,
        "m_hat = m / (1 - self.beta1**self.t)\n"
        "            v_hat = v / (1 - self.beta2**self.t)\n"
        "            w.data = w.data - self.lr * m_hat / (v_hat**0.5 + self.eps)",
        "step_size = self.lr / (1 - self.beta1**self.t)\n"
        "            root = (1 - self.beta2**self.t) ** 0.5\n"
        "            w.data = w.data - step_size * m / (v**0.5 / root + self.eps)",
    ),
    Alternative(
        # beta * m + (1 - beta) * g = m + (1 - beta) * (g - m), the same for v with g^2
        "adam_moments_as_moving_average_increments",
        OPTIM,
        "m = self.beta1 * self.m.get(w, 0.0) + (1 - self.beta1) * g\n"
        "            v = self.beta2 * self.v.get(w, 0.0) + (1 - self.beta2) * g**2",
        "m_old, v_old = self.m.get(w, 0.0), self.v.get(w, 0.0)\n"
        "            m = m_old + (1 - self.beta1) * (g - m_old)\n"
        "            v = v_old + (1 - self.beta2) * (g * g - v_old)",
    ),
    Alternative(
        # momentum * u + (1 - momentum) * g = u + (1 - momentum) * (g - u)
        "sgd_momentum_as_moving_average_increment",
        OPTIM,
        "u = self.momentum * self.u.get(w, 0.0) + (1 - self.momentum) * g",
        "previous = self.u.get(w, 0.0)\n"
        "            u = previous + (1 - self.momentum) * (g - previous)",
    ),
    Alternative(
        "find_topo_sort_iterative_with_the_same_order",
        AUTOGRAD,
        "    visited: set[Value] = set()\n"
        "    topo_order: list[Value] = []\n"
        "    for node in node_list:\n"
        "        topo_sort_dfs(node, visited, topo_order)\n"
        "    return topo_order",
        "    visited: set[Value] = set()\n"
        "    topo_order: list[Value] = []\n"
        "    for root in node_list:\n"
        "        stack = [(root, False)]\n"
        "        while stack:\n"
        "            node, inputs_done = stack.pop()\n"
        "            if inputs_done:\n"
        "                topo_order.append(node)\n"
        "            elif node not in visited:\n"
        "                visited.add(node)\n"
        "                stack.append((node, True))\n"
        "                stack.extend((child, False) for child in reversed(node.inputs))\n"
        "    return topo_order",
    ),
    Alternative(
        "relu_as_multiplication_by_a_mask",
        OPS,
        "return array_api.maximum(a, 0)",
        "return a * (a > 0)",
    ),
    Alternative(
        "kaiming_uniform_bound_as_sqrt_six_over_fan_in",
        INIT,
        "gain = math.sqrt(2.0)\n    bound = gain * math.sqrt(3.0 / fan_in)",
        "bound = math.sqrt(6.0 / fan_in)",
    ),
    Alternative(
        "dropout_scales_the_mask_first",
        NN,
        "return x * mask / (1 - self.p)",
        "return x * (mask / (1 - self.p))",
    ),
]


def test_alternatives_are_distinct():
    ids = [alternative.id for alternative in ALTERNATIVES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 6


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda alternative: alternative.id)
def test_correct_alternative_keeps_full_marks(grade_edited, alternative):
    scores = grade_edited(alternative.path, alternative.old, alternative.new)
    lost = {pid: score for pid, score in scores.items() if score < FULL[pid]}
    assert lost == {}, f"{alternative.id} loses points in {lost}"
