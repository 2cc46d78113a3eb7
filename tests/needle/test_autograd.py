"""The core of needle: graph order, adjoint accumulation, backward, Tensor semantics, operators,
TensorTuple, the live-tensor counter, and gradients of gradients."""

from __future__ import annotations

import gc

import needle as ndl
import needle.autograd as autograd
import numpy as np
import pytest
from checks import (
    assert_shape_then_values,
    check_gradient_of_gradient,
    check_gradients,
    constant,
    random_like,
)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- topological order


def test_find_topo_sort_is_a_post_order_visiting_inputs_left_to_right():
    a, b = ndl.Tensor(randn(2, 3)), ndl.Tensor(randn(2, 3, seed=1))
    c = ndl.multiply(a, b)
    d = ndl.exp(b)
    e = ndl.add(c, d)
    f = ndl.add(e, c)  # c is reached twice
    order = autograd.find_topo_sort([f])
    # Left to right gives a, b, c, d, e, f; right to left would give b, d, a, c, e, f.
    assert [id(n) for n in order] == [id(n) for n in (a, b, c, d, e, f)]


def test_find_topo_sort_lists_a_shared_node_once_after_all_its_inputs():
    x = ndl.Tensor(randn(3))
    y = ndl.exp(x)
    z = ndl.multiply(ndl.add(y, x), ndl.negate(y))
    order = autograd.find_topo_sort([z])
    ids = [id(n) for n in order]
    assert len(ids) == len(set(ids)) == 5
    assert ids[0] == id(x) and ids[1] == id(y) and ids[-1] == id(z)
    for node in order:
        for parent in node.inputs:
            assert ids.index(id(parent)) < ids.index(id(node))


# ---------------------------------------------------------------- adjoints


def test_gradient_sums_the_adjoints_of_every_path():
    xs = randn(4)
    x = ndl.Tensor(xs)
    y = x * x + ndl.exp(x) + x
    y.backward()
    assert_shape_then_values(x.grad, 2 * xs + np.exp(xs) + 1)


def test_compute_gradient_of_variables_sets_grad_on_every_node():
    xs, g = randn(2, 3), random_like((2, 3))
    x = ndl.Tensor(xs)
    c = ndl.exp(x)
    d = ndl.multiply(c, c)
    autograd.compute_gradient_of_variables(d, constant(g))
    assert_shape_then_values(d.grad, g)
    assert_shape_then_values(c.grad, 2 * np.exp(xs) * g)
    assert_shape_then_values(x.grad, 2 * np.exp(2 * xs) * g)


def test_backward_default_out_grad_is_ones():
    xs = randn(2, 3)
    x = ndl.Tensor(xs)
    y = ndl.mul_scalar(x, 3.0) * ndl.Tensor(xs, requires_grad=False)
    y.backward()
    assert_shape_then_values(x.grad, 3.0 * xs)


def test_backward_of_a_scalar_result_defaults_to_one():
    xs = randn(5)
    x = ndl.Tensor(xs)
    (x * x).sum().backward()
    assert_shape_then_values(x.grad, 2 * xs)


def test_backward_overwrites_grad_instead_of_accumulating():
    xs = randn(3)
    x = ndl.Tensor(xs)
    y = x * 2.0
    y.backward()
    y.backward()
    assert_shape_then_values(x.grad, np.full(3, 2.0))
    (x * 5.0).backward()
    assert_shape_then_values(x.grad, np.full(3, 5.0))


def test_backward_uses_the_given_out_grad():
    xs, g = randn(2, 3), random_like((2, 3))
    x = ndl.Tensor(xs)
    ndl.exp(x).backward(constant(g))
    assert_shape_then_values(x.grad, np.exp(xs) * g)


# ---------------------------------------------------------------- gradients of gradients


def test_second_derivative_of_a_cube_is_six_x():
    xs = randn(4)
    x = ndl.Tensor(xs)
    (x**3).sum().backward()
    first = x.grad
    assert_shape_then_values(first, 3 * xs**2)
    first.sum().backward()
    assert_shape_then_values(x.grad, 6 * xs)


def test_gradient_of_gradient_with_respect_to_another_input():
    xs, ws = randn(3, 4), randn(4, 2, seed=1)
    x, w = ndl.Tensor(xs), ndl.Tensor(ws)
    (x @ w).sum().backward()
    gx = x.grad  # ones(3, 2) @ w^T: depends on w only
    (gx * gx).sum().backward()
    # Every row of gx is r = w.sum(1), so sum(gx**2) = 3 * sum(r**2) and d/dw_jk = 6 r_j.
    assert_shape_then_values(w.grad, np.broadcast_to(6 * ws.sum(1, keepdims=True), (4, 2)))


SECOND_ORDER = [
    ("tanh", lambda a: ndl.tanh(a), [(3, 4)]),
    ("exp-log", lambda a: ndl.log(ndl.exp(a) + 1.0), [(3, 4)]),
    ("power_scalar", lambda a: ndl.power_scalar(a * a + 1.0, 1.5), [(5, 4, 1)]),
    ("divide", lambda a, b: a / (b * b + 1.0), [(2, 3), (2, 3)]),
    ("power", lambda a, b: ndl.power(a * a + 1.0, b), [(2, 3), (2, 3)]),
    ("matmul-tanh", lambda a, b: ndl.tanh(a @ b), [(2, 3, 4), (4, 2)]),
    ("logsumexp", lambda a: ndl.logsumexp(a, axes=(1,)), [(3, 4)]),
    ("logsoftmax", lambda a: ndl.logsoftmax(a), [(3, 4)]),
    ("broadcast-summation", lambda a: ndl.tanh(ndl.broadcast_to(a, (3, 2, 4))).sum((0, 2)),
     [(2, 1)]),
    ("reshape-transpose", lambda a: ndl.exp(ndl.transpose(ndl.reshape(a, (2, 6)))), [(3, 4)]),
]


@pytest.mark.parametrize(
    "fn, shapes", [c[1:] for c in SECOND_ORDER], ids=[c[0] for c in SECOND_ORDER]
)
def test_gradient_graph_is_differentiable(fn, shapes):
    arrays = [randn(*s, seed=k) for k, s in enumerate(shapes)]
    check_gradient_of_gradient(fn, *arrays)


def test_backward_keeps_the_graph_of_leaf_gradients_and_stores_the_others_detached():
    """Does backward() leave every .grad with the values compute_gradient_of_variables sets,
    a graph on the gradients of leaves that require one, and none on inner nodes and constants
    (whose graphs would lead back to the node itself: a reference cycle)?"""

    def graph():
        x, w = ndl.Tensor(randn(3, 4)), ndl.Tensor(randn(4, 2, seed=1))
        c = constant(randn(3, 2, seed=2))
        h = ndl.exp(x @ w)
        out = (h * c).sum()
        return x, w, c, h, out

    x, w, c, h, out = graph()
    out.backward()
    rx, rw, rc, rh, rout = graph()
    autograd.compute_gradient_of_variables(rout, constant(np.ones(())))
    for node, reference in [(x, rx), (w, rw), (c, rc), (h, rh), (out, rout)]:
        assert_shape_then_values(node.grad, reference.grad.numpy())
    assert x.grad.op is not None and w.grad.op is not None
    assert h.grad.op is None and not h.grad.requires_grad
    assert out.grad.op is None
    assert not c.grad.requires_grad


def _reachable(node):
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(n.inputs)
    return seen


def test_the_gradient_of_a_constant_is_computed_only_when_read_and_leads_back_to_nothing():
    """Is the partial adjoint of a constant input (the data X of x @ W) left uncomputed by
    backward(), with no path from it back to the step's nodes (which would be a reference
    cycle), and computed right when read, even after the weights have been replaced?"""
    xs, ws = randn(5, 4), randn(4, 3, seed=1)
    x, w = constant(xs), ndl.Tensor(ws)
    out = ndl.relu(x @ w).sum()
    out.backward()
    assert x.grad.cached_data is None  # not computed by backward()
    step = _reachable(out) | _reachable(w.grad)
    assert not _reachable(x.grad) & step
    w.data = ndl.Tensor(np.zeros_like(ws))  # an optimizer step replaces the weights' array
    expected = ((xs @ ws) > 0).astype(xs.dtype) @ ws.T
    assert_shape_then_values(x.grad, expected)


class _OnePartialForTwoInputs:
    def compute(self, a, b):
        return a + b

    def gradient(self, out_grad, node):
        return out_grad  # a mistake: b gets no partial adjoint


class _OnePartialTupleForTwoInputs(_OnePartialForTwoInputs):
    def gradient(self, out_grad, node):
        return (out_grad,)  # the same mistake, as a tuple


@pytest.mark.parametrize("as_tuple", [False, True], ids=["one-value", "one-tuple"])
@pytest.mark.parametrize("constant_b", [False, True], ids=["both-variables", "b-constant"])
@pytest.mark.parametrize("elementwise", [False, True], ids=["TensorOp", "ElementwiseBinaryOp"])
def test_a_gradient_with_a_partial_missing_is_named_not_silently_cut_short(
    elementwise, constant_b, as_tuple
):
    """Does backward() name the op whose gradient returns fewer partial adjoints than it has
    inputs, instead of zipping them short and leaving an input without its adjoint? (Both
    paths: every input a variable, and one constant input, whose partial is deferred.)"""
    base = ndl.ops.ElementwiseBinaryOp if elementwise else autograd.TensorOp
    mistake = _OnePartialTupleForTwoInputs if as_tuple else _OnePartialForTwoInputs
    op = type("OnePartialForTwoInputs", (mistake, base), {})()
    a = ndl.Tensor(randn(2, 3))
    b = ndl.Tensor(randn(2, 3, seed=1), requires_grad=not constant_b)
    out = op(a, b).sum()
    with pytest.raises(ValueError, match="OnePartialForTwoInputs.gradient returned 1 partial"):
        out.backward()


# ---------------------------------------------------------------- Tensor semantics


def test_tensor_keeps_the_numpy_dtype_when_dtype_is_none():
    assert np.dtype(ndl.Tensor(np.random.randn(3)).dtype) == np.float64
    assert np.dtype(ndl.Tensor(np.ones(3, dtype=np.float32)).dtype) == np.float32
    assert np.dtype(ndl.Tensor([1.0, 2.0]).dtype) == np.float64
    assert ndl.Tensor(np.ones(3, dtype=np.float32)).numpy().dtype == np.float32


def test_tensor_converts_to_an_explicit_dtype():
    t = ndl.Tensor(np.random.randn(3), dtype="float32")
    assert np.dtype(t.dtype) == np.float32
    assert t.numpy().dtype == np.float32


def test_tensor_of_a_tensor_with_the_same_dtype_shares_its_data():
    t = ndl.Tensor(np.ones(3, dtype=np.float32))
    u = ndl.Tensor(t)
    assert np.shares_memory(u.realize_cached_data(), t.realize_cached_data())


def test_data_getter_returns_a_detached_tensor_with_the_same_values():
    xs = randn(2, 3)
    y = ndl.Tensor(xs) * 2.0
    d = y.data
    assert isinstance(d, ndl.Tensor) and d is not y
    assert d.is_leaf() and d.op is None and len(d.inputs) == 0
    assert not d.requires_grad
    assert_shape_then_values(d, 2.0 * xs)


def test_data_setter_replaces_the_values_in_place():
    t = ndl.Tensor(np.zeros(3, dtype=np.float32))
    before = id(t)
    t.data = ndl.Tensor(np.arange(3, dtype=np.float32))
    assert id(t) == before and t.requires_grad
    assert np.dtype(t.dtype) == np.float32
    assert_shape_then_values(t, np.arange(3.0))


def test_data_setter_rejects_a_different_dtype():
    t = ndl.Tensor(np.zeros(3, dtype=np.float32))
    with pytest.raises((TypeError, ValueError)):
        t.data = ndl.Tensor(np.zeros(3, dtype=np.float64))
    assert t.numpy().dtype == np.float32


def test_detach_has_no_graph():
    xs = randn(3)
    y = ndl.exp(ndl.Tensor(xs))
    d = y.detach()
    assert d.op is None and len(d.inputs) == 0 and d.is_leaf()
    assert not d.requires_grad
    assert_shape_then_values(d, np.exp(xs))


def test_numpy_of_a_zero_dimensional_result_is_a_numpy_array():
    s = ndl.Tensor(randn(3)).sum()
    out = s.numpy()
    assert isinstance(out, np.ndarray), type(out)
    assert out.shape == ()
    assert s.shape == ()


def test_result_that_needs_no_gradient_is_detached():
    assert autograd.LAZY_MODE is False
    a = ndl.Tensor(randn(3), requires_grad=False)
    b = ndl.exp(a) * 2.0 + a
    assert not b.requires_grad
    assert b.op is None and len(b.inputs) == 0
    assert_shape_then_values(b, np.exp(a.numpy()) * 2.0 + a.numpy())


def test_result_that_needs_a_gradient_keeps_its_graph():
    a = ndl.Tensor(randn(3), requires_grad=False)
    w = ndl.Tensor(randn(3, seed=1))
    b = a * w
    assert b.requires_grad
    assert b.op is not None and len(b.inputs) == 2


def test_tensor_counter_counts_live_values():
    gc.collect()
    start = autograd.TENSOR_COUNTER
    t = ndl.Tensor(randn(3))
    assert autograd.TENSOR_COUNTER == start + 1
    del t
    gc.collect()
    assert autograd.TENSOR_COUNTER == start


def test_tensor_counter_returns_to_its_start_when_a_graph_is_dropped():
    gc.collect()
    start = autograd.TENSOR_COUNTER
    x = ndl.Tensor(randn(3, 4))
    w = ndl.Tensor(randn(4, 2, seed=1))
    y = ndl.logsumexp(ndl.tanh(x @ w), axes=(1,)).sum()
    y.backward()
    assert autograd.TENSOR_COUNTER > start + 2
    del x, w, y
    gc.collect()
    assert autograd.TENSOR_COUNTER == start


# ---------------------------------------------------------------- operators


def test_operators_with_tensors_and_scalars_match_numpy():
    xs, ys = np.abs(randn(2, 3)) + 0.5, randn(2, 3, seed=1)
    x, y = ndl.Tensor(xs), ndl.Tensor(ys)
    pairs = [
        (x + y, xs + ys), (x - y, xs - ys), (x * y, xs * ys), (x / y, xs / ys),
        (x**y, xs**ys), (x + 2.0, xs + 2.0), (x - 2.0, xs - 2.0), (x * 2.0, xs * 2.0),
        (x / 2.0, xs / 2.0), (x**2.0, xs**2.0), (2.0 + x, 2.0 + xs), (2.0 * x, 2.0 * xs),
        (-x, -xs), (x @ y.transpose(), xs @ ys.T), (x.sum(1), xs.sum(1)),
        (x.reshape((3, 2)), xs.reshape(3, 2)), (x.broadcast_to((4, 2, 3)),
                                                np.broadcast_to(xs, (4, 2, 3))),
    ]
    for out, expected in pairs:
        assert isinstance(out, ndl.Tensor)
        assert_shape_then_values(out, expected)


@pytest.mark.parametrize("op", ["sub", "truediv", "pow", "matmul"])
def test_only_add_and_mul_are_reflected(op):
    t = ndl.Tensor(randn(2, 2))
    expressions = {
        "sub": lambda: 1 - t, "truediv": lambda: 1 / t, "pow": lambda: 2**t,
        "matmul": lambda: np.ones((2, 2)).tolist() @ t,
    }
    with pytest.raises(TypeError):
        expressions[op]()


def test_tensor_has_no_len_or_indexing():
    t = ndl.Tensor(randn(3))
    with pytest.raises(TypeError):
        len(t)
    with pytest.raises(TypeError):
        t[0]
    assert {t: 1}[t] == 1  # hashable by identity, usable as a dict key in autograd


# ---------------------------------------------------------------- TensorTuple


def test_tensor_tuple_supports_len_indexing_tuple_add_and_detach():
    a, b = randn(2, 3), randn(4, seed=1)
    t = ndl.make_tuple(ndl.Tensor(a), ndl.Tensor(b))
    assert isinstance(t, autograd.TensorTuple)
    assert len(t) == 2
    assert isinstance(t[1], ndl.Tensor)
    assert_shape_then_values(t[0], a)
    assert_shape_then_values(t[1], b)
    items = t.tuple()
    assert isinstance(items, tuple) and len(items) == 2
    assert_shape_then_values(items[1], b)
    s = t + t
    assert isinstance(s, autograd.TensorTuple) and len(s) == 2
    assert_shape_then_values(s[0], 2 * a)
    assert_shape_then_values(s[1], 2 * b)
    d = t.detach()
    assert isinstance(d, autograd.TensorTuple)
    assert d.op is None and len(d.inputs) == 0 and not d.requires_grad
    assert_shape_then_values(d[0], a)


def test_fused_add_scalars_returns_both_sums():
    a = randn(2, 3)
    t = ndl.fused_add_scalars(ndl.Tensor(a), 1.5, -0.5)
    assert len(t) == 2
    assert_shape_then_values(t[0], a + 1.5)
    assert_shape_then_values(t[1], a - 0.5)


def test_gradient_of_a_tuple_output_reaches_each_input_from_its_own_slot():
    a, b = randn(2, 3), randn(4, seed=1)
    g0, g1 = random_like((2, 3), seed=2), random_like((4,), seed=3)
    x, y = ndl.Tensor(a), ndl.Tensor(b)
    out = ndl.make_tuple(x * 2.0, ndl.exp(y))
    autograd.compute_gradient_of_variables(out, ndl.make_tuple(constant(g0), constant(g1)))
    assert_shape_then_values(x.grad, 2.0 * g0)
    assert_shape_then_values(y.grad, np.exp(b) * g1)


def test_gradient_of_fused_add_scalars_sums_both_slots():
    a = randn(2, 3)
    g0, g1 = random_like((2, 3), seed=2), random_like((2, 3), seed=3)
    x = ndl.Tensor(a)
    out = ndl.fused_add_scalars(ndl.exp(x), 1.0, 2.0)
    autograd.compute_gradient_of_variables(out, ndl.make_tuple(constant(g0), constant(g1)))
    assert_shape_then_values(x.grad, np.exp(a) * (g0 + g1))


TUPLE_GRADIENTS = [
    ("get_item_1", lambda a, b: ndl.tuple_get_item(ndl.make_tuple(a, b), 1) * 3.0,
     [(2, 3), (2, 3)]),
    ("both_items", lambda a, b: ndl.make_tuple(a, b)[0] * ndl.make_tuple(a, b)[1], [(3,), (3,)]),
    ("unused_item", lambda a, b: ndl.exp(ndl.make_tuple(a, b)[0]), [(2,), (4,)]),
    ("tuple_add", lambda a, b: (ndl.make_tuple(a, b) + ndl.make_tuple(b, a))[1] * a, [(3,), (3,)]),
    ("fused_add_scalars",
     lambda a: ndl.fused_add_scalars(a, 1.5, -0.5)[0] * ndl.fused_add_scalars(a, 1.5, -0.5)[1],
     [(2, 3)]),
    ("fused_one_item", lambda a: ndl.exp(ndl.fused_add_scalars(a, 1.0, 2.0)[1]), [(4,)]),
]


@pytest.mark.parametrize(
    "fn, shapes", [c[1:] for c in TUPLE_GRADIENTS], ids=[c[0] for c in TUPLE_GRADIENTS]
)
def test_gradients_flow_through_tuple_ops(fn, shapes):
    check_gradients(fn, *[randn(*s, seed=k) for k, s in enumerate(shapes)])
