"""Elementwise binary ops on operands whose shapes broadcast under numpy's rules.

`add`, `multiply`, `divide`, `power` (and `-` through add and negate) broadcast in the forward as
numpy does; each input's adjoint comes back in that input's shape, summed over the axes it was
broadcast along, by `unbroadcast` applied in the given `ElementwiseBinaryOp.gradient_as_tuple`.
No other op is summed for: a BroadcastTo or Summation gradient that forgets to sum stays wrong.
"""

from __future__ import annotations

import needle as ndl
import numpy as np
import pytest
from checks import (
    assert_shape_then_values,
    check_float32_preserved,
    check_forward,
    check_gradient_of_gradient,
    check_gradients,
    constant,
    random_like,
)
from needle import ops


def real(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


# (name, needle, numpy, domain of a, domain of b)
BINARY = [
    ("add", ndl.add, np.add, real, real),
    ("multiply", ndl.multiply, np.multiply, real, real),
    ("divide", ndl.divide, np.divide, real, nonzero),
    ("power", ndl.power, np.power, positive, real),
    ("t-t", lambda a, b: a - b, np.subtract, real, real),
    ("t+t", lambda a, b: a + b, np.add, real, real),
    ("t*t", lambda a, b: a * b, np.multiply, real, real),
    ("t/t", lambda a, b: a / b, np.divide, real, nonzero),
    ("t**t", lambda a, b: a**b, np.power, positive, real),
]

# Pairs of shapes that broadcast: one side, both sides, a scalar-like (1,), a 0-d, ranks differing.
PAIRS = [
    ((4, 5), (4, 1)),
    ((4, 1), (4, 5)),
    ((4, 1), (1, 5)),
    ((3, 4), (1,)),
    ((1,), (3, 4)),
    ((3, 4), ()),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((2, 1, 4), (3, 1)),
    ((1, 3), (3,)),
]

CASES = [
    pytest.param(fn, ref, ((sa, da), (sb, db)), id=f"{name}-{sa}-{sb}")
    for name, fn, ref, da, db in BINARY
    for sa, sb in PAIRS
]


def arrays_of(inputs, seed=0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.asarray(domain(rng, shape), dtype=np.float64) for shape, domain in inputs]


@pytest.mark.parametrize("fn, reference, inputs", CASES)
def test_broadcast_forward_matches_numpy(fn, reference, inputs):
    check_forward(fn, reference, *arrays_of(inputs))


@pytest.mark.parametrize("fn, reference, inputs", CASES)
def test_broadcast_gradient_of_every_input_matches_numerical_gradient_in_its_shape(
    fn, reference, inputs
):
    check_gradients(fn, *arrays_of(inputs))


@pytest.mark.parametrize("fn, reference, inputs", CASES)
def test_broadcast_float32_stays_float32(fn, reference, inputs):
    check_float32_preserved(fn, *arrays_of(inputs))


@pytest.mark.parametrize(
    "fn, inputs",
    [
        (lambda a, b: a * b * a, (((4, 1), real), ((1, 5), real))),
        (lambda a, b: a / b, (((3, 4), real), ((4,), nonzero))),
        (lambda a, b: a**b, (((2, 3), positive), ((1,), real))),
        (lambda a, b: (a - b) * (a - b), (((2, 1, 4), real), ((3, 1), real))),
    ],
    ids=["a*b*a-(4,1)-(1,5)", "a/b-(3,4)-(4,)", "a**b-(2,3)-(1,)", "(a-b)^2-(2,1,4)-(3,1)"],
)
def test_gradient_of_gradient_on_a_broadcast_pair(fn, inputs):
    check_gradient_of_gradient(fn, *arrays_of(inputs))


def test_gradient_as_tuple_sums_each_partial_to_its_input_shape():
    """Does `gradient()` written as if nothing was broadcast (`out_grad, out_grad`) come back in
    the inputs' shapes through gradient_as_tuple, the path backward() and the grader use?"""
    rng = np.random.default_rng(0)
    a, b = ndl.Tensor(rng.standard_normal((4, 1))), ndl.Tensor(rng.standard_normal((1, 5)))
    g = rng.standard_normal((4, 5))
    node = a + b
    raw = node.op.gradient(ndl.Tensor(g), node)
    assert [x.shape for x in raw] == [(4, 5), (4, 5)]  # the op's own rule: output-shaped
    grad_a, grad_b = node.op.gradient_as_tuple(ndl.Tensor(g), node)
    assert_shape_then_values(grad_a, g.sum(axis=1, keepdims=True), what="adjoint of a")
    assert_shape_then_values(grad_b, g.sum(axis=0, keepdims=True), what="adjoint of b")


@pytest.mark.parametrize(
    "grad_shape, shape",
    [((3, 4), (3, 4)), ((3, 4), (3, 1)), ((3, 4), (1, 4)), ((3, 4), (4,)), ((3, 4), ()),
     ((3, 4), (1,)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (2, 1, 4)), ((5, 1, 3), (1, 1))],
)  # fmt: skip
def test_unbroadcast_sums_over_the_broadcast_axes(grad_shape, shape):
    g = random_like(grad_shape)
    leading = len(grad_shape) - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, n in enumerate(shape) if n == 1 and grad_shape[leading + i] != 1
    )
    expected = g.sum(axis=axes).reshape(shape)
    assert_shape_then_values(ops.unbroadcast(ndl.Tensor(g), shape), expected, what="unbroadcast")


@pytest.mark.parametrize(
    "call, name",
    [
        (ndl.add, "add"),
        (ndl.multiply, "multiply"),
        (ndl.divide, "divide"),
        (ndl.power, "power"),
        (lambda a, b: a + b, "add"),
        (lambda a, b: a - b, "add"),
        (lambda a, b: a * b, "multiply"),
        (lambda a, b: a / b, "divide"),
        (lambda a, b: a**b, "power"),
    ],
    ids=["add", "multiply", "divide", "power", "t+t", "t-t", "t*t", "t/t", "t**t"],
)
@pytest.mark.parametrize("sa, sb", [((3, 4), (5,)), ((4, 3), (3, 4)), ((2, 3, 4), (2, 4))])
def test_shapes_that_do_not_broadcast_raise_value_error_naming_the_op_and_both_shapes(
    call, name, sa, sb
):
    a, b = ndl.Tensor(np.ones(sa)), ndl.Tensor(np.ones(sb))
    with pytest.raises(ValueError) as info:
        call(a, b)
    message = str(info.value)
    assert message.startswith(f"{name}:"), message
    assert str(sa) in message and str(sb) in message, message
    assert "broadcast" in message, message


# ----- what the lecture writes ----------------------------------------------------------------


class LectureLogSumExp(ops.LogSumExp):
    """LogSumExp with the lecture's gradient: the reshaped output broadcast implicitly,
    `out_grad.reshape(shape) * exp(Z - node.reshape(shape))`."""

    def gradient(self, out_grad, node):
        Z = node.inputs[0]
        axes = range(len(Z.shape)) if self.axes is None else self.axes
        shape = [1 if i in axes else n for i, n in enumerate(Z.shape)]
        return out_grad.reshape(shape) * ops.exp(Z - node.reshape(shape))


@pytest.mark.parametrize(
    "shape, axes", [((4, 5), (1,)), ((4, 5), (0,)), ((4, 5), None), ((2, 3, 4), (0, 2))]
)
def test_lecture_logsumexp_gradient_through_implicit_broadcast(shape, axes):
    import scipy.special

    x = arrays_of([(shape, real)])[0]

    def fn(z):
        return LectureLogSumExp(axes)(z)

    check_forward(fn, lambda z: np.asarray(scipy.special.logsumexp(z, axis=axes)), x)
    check_gradients(fn, x)
    check_gradient_of_gradient(fn, x)
    # and the same adjoint as the library's own LogSumExp
    z1, z2 = ndl.Tensor(x), ndl.Tensor(x)
    g = random_like(fn(constant(x)).shape)
    fn(z1).backward(constant(g))
    ndl.logsumexp(z2, axes=axes).backward(constant(g))
    assert_shape_then_values(z1.grad, z2.grad.numpy(), rtol=1e-12, atol=1e-12, what="z.grad")


def lecture_batchnorm_eval(x, running_mean, running_var, weight, bias, eps=1e-5):
    """The lecture's eval branch, (n, d) against (d,) without an explicit broadcast_to."""
    return weight * (x - running_mean) / (running_var + eps) ** 0.5 + bias


def test_lecture_batchnorm_eval_without_explicit_broadcast():
    n, d = 6, 4
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d))
    mean, var = rng.standard_normal(d), rng.uniform(0.5, 2.0, d)
    weight, bias = rng.standard_normal(d), rng.standard_normal(d)
    inputs = (x, mean, var, weight, bias)

    def reference(x, mean, var, weight, bias):
        return weight * (x - mean) / np.sqrt(var + 1e-5) + bias

    check_forward(lecture_batchnorm_eval, reference, *inputs)
    check_gradients(lecture_batchnorm_eval, *inputs)
    # The library's BatchNorm1d in eval mode, given the same statistics, agrees.
    module = ndl.nn.BatchNorm1d(d, dtype="float64")
    module.running_mean.data = ndl.Tensor(mean)
    module.running_var.data = ndl.Tensor(var)
    module.weight.data = ndl.Tensor(weight)
    module.bias.data = ndl.Tensor(bias)
    module.eval()
    assert_shape_then_values(module(ndl.Tensor(x)), reference(*inputs), what="BatchNorm1d eval")


def test_course_public_power_case_broadcasts_a_row_against_a_vector():
    a = ndl.Tensor([[1.0, 2.0, 3.0]])
    b = ndl.Tensor(np.ones(3) * 2)
    out = ndl.power(a, b)
    assert_shape_then_values(out, np.array([[1.0, 4.0, 9.0]]), what="power")
    out.backward()
    assert_shape_then_values(a.grad, 2 * a.numpy(), what="a.grad")
    assert_shape_then_values(b.grad, (a.numpy() ** 2 * np.log(a.numpy())).ravel(), what="b.grad")


# ----- what must stay wrong --------------------------------------------------------------------


def test_a_broadcast_to_gradient_that_forgets_to_sum_is_not_repaired(monkeypatch):
    """Does a BroadcastTo.gradient returning out_grad unsummed give a wrongly shaped .grad, also
    when the broadcast input is the output of an elementwise op of inputs of its shape?"""
    monkeypatch.setattr(ops.BroadcastTo, "gradient", lambda self, out_grad, node: out_grad)
    a, b = ndl.Tensor(np.ones((3, 1))), ndl.Tensor(np.full((3, 1), 2.0))
    (a * b).broadcast_to((3, 4)).backward()
    assert a.grad.shape == (3, 4), a.grad.shape
    assert b.grad.shape == (3, 4), b.grad.shape


def test_a_summation_gradient_that_forgets_the_axes_stays_wrong(monkeypatch):
    """A Summation.gradient that broadcasts out_grad (shape (4,)) straight to (4, 4) for axes=(1,)
    puts g[j] where g[i] belongs; an elementwise op before the sum must not hide that."""

    def forgets_the_axes(self, out_grad, node):
        return ops.broadcast_to(out_grad, node.inputs[0].shape)

    x = np.arange(16.0).reshape(4, 4)
    g = np.array([1.0, 10.0, 100.0, 1000.0])
    right = g[:, None] * np.ones((4, 4))
    monkeypatch.setattr(ops.Summation, "gradient", forgets_the_axes)
    a, b = ndl.Tensor(x), ndl.Tensor(np.ones((1, 4)))
    (a + b).sum(axes=(1,)).backward(constant(g))
    assert a.grad.shape == (4, 4)
    assert not np.allclose(a.grad.numpy(), right)
    assert not np.allclose(b.grad.numpy(), right.sum(axis=0, keepdims=True))


def test_only_output_shaped_partials_are_summed():
    """A partial of a shape other than the output's is passed on unchanged."""

    class WrongShape(ops.EWiseMul):
        def gradient(self, out_grad, node):
            return ndl.Tensor(np.ones((7,))), out_grad

    a, b = ndl.Tensor(np.ones((3, 1))), ndl.Tensor(np.ones((1, 4)))
    node = WrongShape()(a, b)
    grad_a, grad_b = node.op.gradient_as_tuple(ndl.Tensor(np.ones((3, 4))), node)
    assert grad_a.shape == (7,)
    assert grad_b.shape == (1, 4)


# ----- Summation's axes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "axes, stored", [(1, (1,)), (np.int64(1), (1,)), ((0, 1), (0, 1)), ([0], (0,)), (None, None)]
)
def test_summation_stores_its_axes_as_a_tuple_before_gradient_runs(axes, stored):
    assert ops.Summation(axes).axes == stored
    assert ops.LogSumExp(axes).axes == stored
    node = ndl.summation(ndl.Tensor(np.ones((3, 4)), requires_grad=True), axes=axes)
    assert node.op.axes == stored
    assert type(node.op.axes) is type(stored)


def test_summation_gradient_written_for_tuples_works_with_an_int_axis():
    """A gradient that loops over `self.axes` (as course students write it) runs for axes=1."""

    class LoopingSummation(ops.Summation):
        def gradient(self, out_grad, node):
            shape = list(node.inputs[0].shape)
            for axis in self.axes:
                shape[axis] = 1
            return ops.broadcast_to(out_grad.reshape(shape), node.inputs[0].shape)

    x = arrays_of([((3, 4), real)])[0]
    check_gradients(lambda a: LoopingSummation(1)(a), x)


SMALL_SHAPES = [(), (1,), (3,), (5,), (1, 1), (2, 1), (1, 3), (2, 3), (3, 1), (4, 1, 3), (4, 2, 3)]


def test_the_shape_checks_follow_numpys_broadcasting_rules():
    """The engine's shape checks (plain Python, for speed) agree with numpy on every pair."""
    from itertools import product

    from needle.ops.ops_mathematic import _broadcast_shape, _broadcastable

    for first, second in product(SMALL_SHAPES, SMALL_SHAPES):
        try:
            expected = np.broadcast_shapes(first, second)
        except ValueError:
            expected = None
        assert _broadcast_shape(first, second) == expected, (first, second)
        try:
            np.broadcast_to(np.zeros(first), second)
            to_exactly = True
        except ValueError:
            to_exactly = False
        assert _broadcastable(first, second) == to_exactly, (first, second)
