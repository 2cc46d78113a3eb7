"""Every op of the API page: forward against numpy, every input's gradient against numdifftools,
float32 kept end to end, and clear errors for caller mistakes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import needle as ndl
import needle.autograd as autograd
import numpy as np
import pytest
import scipy.special
from checks import check_float32_preserved, check_forward, check_gradients


def real(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    """Away from 0, for log, division and non-integer powers."""
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):
    """Either sign, at least 0.3 away from 0 (the kink of ReLU, the pole of 1/x)."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable  # needle, on Tensors
    reference: Callable  # numpy, on arrays
    inputs: tuple  # ((shape, domain), ...)

    def arrays(self) -> list[np.ndarray]:
        rng = np.random.default_rng(0)
        return [np.asarray(domain(rng, shape), dtype=np.float64) for shape, domain in self.inputs]


SHAPES = [(), (1,), (5, 4, 1), (3, 4)]

UNARY = [
    ("negate", ndl.negate, np.negative, real),
    ("log", ndl.log, np.log, positive),
    ("exp", ndl.exp, np.exp, real),
    ("relu", ndl.relu, lambda a: np.maximum(a, 0.0), nonzero),
    ("tanh", ndl.tanh, np.tanh, real),
    ("add_scalar", lambda a: ndl.add_scalar(a, 1.5), lambda a: a + 1.5, real),
    ("mul_scalar", lambda a: ndl.mul_scalar(a, -2.5), lambda a: a * -2.5, real),
    ("divide_scalar", lambda a: ndl.divide_scalar(a, 4.0), lambda a: a / 4.0, real),
    ("power_scalar_2", lambda a: ndl.power_scalar(a, 2), lambda a: a**2, real),
    ("power_scalar_3", lambda a: ndl.power_scalar(a, 3), lambda a: a**3, real),
    ("power_scalar_0.5", lambda a: ndl.power_scalar(a, 0.5), np.sqrt, positive),
    ("power_scalar_-1.5", lambda a: ndl.power_scalar(a, -1.5), lambda a: a**-1.5, positive),
    ("power_scalar_2.7", lambda a: ndl.power_scalar(a, 2.7), lambda a: a**2.7, positive),
]

BINARY = [
    ("add", ndl.add, np.add, real, real),
    ("multiply", ndl.multiply, np.multiply, real, real),
    ("divide", ndl.divide, np.divide, real, nonzero),
    ("power", ndl.power, np.power, positive, real),
]

OPERATORS = [
    ("t+t", lambda a, b: a + b, np.add, real, real),
    ("t-t", lambda a, b: a - b, np.subtract, real, real),
    ("t*t", lambda a, b: a * b, np.multiply, real, real),
    ("t/t", lambda a, b: a / b, np.divide, real, nonzero),
    ("t**t", lambda a, b: a**b, np.power, positive, real),
    ("t@t", lambda a, b: a @ b.transpose(), lambda a, b: a @ np.swapaxes(b, -1, -2), real, real),
    ("t+s", lambda a, b: (a + 2.0) * b, lambda a, b: (a + 2.0) * b, real, real),
    ("t-s", lambda a, b: (a - 2.0) * b, lambda a, b: (a - 2.0) * b, real, real),
    ("t*s", lambda a, b: (a * 2.0) * b, lambda a, b: (a * 2.0) * b, real, real),
    ("t/s", lambda a, b: (a / 2.0) * b, lambda a, b: (a / 2.0) * b, real, real),
    ("t**s", lambda a, b: (a**2.5) * b, lambda a, b: (a**2.5) * b, positive, real),
    ("s+t", lambda a, b: (2.0 + a) * b, lambda a, b: (2.0 + a) * b, real, real),
    ("s*t", lambda a, b: (2.0 * a) * b, lambda a, b: (2.0 * a) * b, real, real),
    ("-t", lambda a, b: (-a) * b, lambda a, b: -a * b, real, real),
]

SUMMATION = [
    ((), None),
    ((1,), None),
    ((1,), 0),
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), 1),
    ((5, 4, 1), None),
    ((5, 4, 1), 0),
    ((5, 4, 1), 1),
    ((5, 4, 1), 2),
    ((5, 4, 1), (0, 1)),
    ((5, 4, 1), (0, 2)),
    ((5, 4, 1), (0, 1, 2)),
    ((2, 3, 4, 5), (1, 3)),
]

BROADCAST = [
    ((), (2, 3)),
    ((1,), (3,)),
    ((3, 1), (3, 4)),
    ((1, 4), (3, 4)),
    ((4,), (2, 3, 4)),
    ((3, 4), (2, 3, 4)),
    ((3, 4), (3, 4)),
    ((5, 4, 1), (5, 4, 3)),
    ((1, 4, 1), (2, 3, 4, 5)),
]

RESHAPE = [
    ((), (1, 1)),
    ((1,), ()),
    ((3, 4), (2, 6)),
    ((3, 4), (12,)),
    ((5, 4, 1), (2, 10)),
    ((2, 3, 4), (4, 3, 2)),
]

TRANSPOSE = [
    ((3, 4), None),
    ((5, 4, 1), None),
    ((2, 3, 4, 5), None),
    ((3, 4), (0, 1)),
    ((2, 3, 4), (0, 1)),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (1, 2)),
    ((2, 3, 4, 5), (1, 3)),
]

MATMUL = [
    ((3, 4), (4, 2)),
    ((1, 4), (4, 1)),
    ((6, 5, 3, 4), (4, 2)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((2, 3, 4), (2, 4, 5)),
    ((5, 3, 4), (1, 4, 2)),
    ((1, 3, 4), (2, 1, 4, 2)),
]

LOGSUMEXP = [
    ((5,), None),
    ((5,), 0),
    ((1,), None),
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), 1),
    ((3, 4), (0, 1)),
    ((2, 3, 4), None),
    ((2, 3, 4), 1),
    ((2, 3, 4), 2),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (1, 2)),
    ((2, 3, 4), (0, 1, 2)),
    ((5, 4, 1), (2,)),
]


def swap(a: np.ndarray, axes) -> np.ndarray:
    """Reference transpose: swap the two given axes, by default the last two."""
    i, j = (-2, -1) if axes is None else axes
    return np.swapaxes(a, i, j)


def log_softmax(a: np.ndarray) -> np.ndarray:
    return a - scipy.special.logsumexp(a, axis=1, keepdims=True)


def cases() -> list[Case]:
    out = []
    for name, fn, ref, domain in UNARY:
        out += [Case(f"{name}-{s}", fn, ref, ((s, domain),)) for s in SHAPES]
    for name, fn, ref, da, db in BINARY:
        out += [Case(f"{name}-{s}", fn, ref, ((s, da), (s, db))) for s in SHAPES]
    for name, fn, ref, da, db in OPERATORS:
        out.append(Case(name, fn, ref, (((3, 4), da), ((3, 4), db))))
    for shape, axes in SUMMATION:
        out.append(Case(
            f"summation-{shape}-axes={axes}",
            lambda a, axes=axes: ndl.summation(a, axes=axes),
            lambda a, axes=axes: np.sum(a, axis=axes),
            ((shape, real),),
        ))
    out.append(Case(
        "sum_method", lambda a: a.sum((0, 2)), lambda a: a.sum((0, 2)), (((5, 4, 3), real),)
    ))
    for shape, target in BROADCAST:
        out.append(Case(
            f"broadcast_to-{shape}->{target}",
            lambda a, t=target: ndl.broadcast_to(a, t),
            lambda a, t=target: np.broadcast_to(a, t),
            ((shape, real),),
        ))
    out.append(Case(
        "broadcast_to_method",
        lambda a: a.broadcast_to((2, 3, 4)),
        lambda a: np.broadcast_to(a, (2, 3, 4)),
        (((3, 1), real),),
    ))
    for shape, target in RESHAPE:
        out.append(Case(
            f"reshape-{shape}->{target}",
            lambda a, t=target: ndl.reshape(a, t),
            lambda a, t=target: np.reshape(a, t),
            ((shape, real),),
        ))
    out.append(Case(
        "reshape_method", lambda a: a.reshape((4, 3)), lambda a: a.reshape(4, 3),
        (((3, 4), real),),
    ))
    for shape, axes in TRANSPOSE:
        out.append(Case(
            f"transpose-{shape}-axes={axes}",
            lambda a, axes=axes: ndl.transpose(a, axes),
            lambda a, axes=axes: swap(a, axes),
            ((shape, real),),
        ))
    out.append(Case(
        "transpose_default_call", ndl.transpose, lambda a: np.swapaxes(a, -1, -2),
        (((2, 3, 4), real),),
    ))
    out.append(Case(
        "transpose_method", lambda a: a.transpose(), lambda a: np.swapaxes(a, -1, -2),
        (((2, 3, 4), real),),
    ))
    for sa, sb in MATMUL:
        out.append(Case(f"matmul-{sa}@{sb}", ndl.matmul, np.matmul, ((sa, real), (sb, real))))
    for shape, axes in LOGSUMEXP:
        out.append(Case(
            f"logsumexp-{shape}-axes={axes}",
            lambda a, axes=axes: ndl.logsumexp(a, axes=axes),
            lambda a, axes=axes: np.asarray(scipy.special.logsumexp(a, axis=axes)),
            ((shape, real),),
        ))
    out.append(Case(
        "logsumexp_default_axes", ndl.logsumexp,
        lambda a: np.asarray(scipy.special.logsumexp(a)), (((3, 4), real),),
    ))
    for shape in [(4, 5), (1, 3), (6, 1)]:
        out.append(Case(f"logsoftmax-{shape}", ndl.logsoftmax, log_softmax, ((shape, real),)))
    out += [
        Case(
            "composite-tanh-matmul-logsumexp",
            lambda a, b: ndl.logsumexp(ndl.tanh(a @ b), axes=(1,)),
            lambda a, b: scipy.special.logsumexp(np.tanh(a @ b), axis=1),
            (((3, 4), real), ((4, 5), real)),
        ),
        Case(
            "composite-broadcast-multiply-sum",
            lambda a, b: (ndl.broadcast_to(a, (3, 4)) * b).sum((0,)) / ndl.exp(b).sum((0,)),
            lambda a, b: (a * b).sum(0) / np.exp(b).sum(0),
            (((3, 1), real), ((3, 4), real)),
        ),
        Case(
            "composite-shared-input",
            lambda a: ndl.log(a) * a + a**2 - ndl.relu(a) / (a + 3.0),
            lambda a: np.log(a) * a + a**2 - np.maximum(a, 0) / (a + 3.0),
            (((2, 3), positive),),
        ),
    ]
    return out


CASES = cases()
IDS = [case.id for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_matches_numpy(case: Case):
    check_forward(case.fn, case.reference, *case.arrays())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_of_every_input_matches_numerical_gradient(case: Case):
    check_gradients(case.fn, *case.arrays())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_inputs_give_float32_outputs_and_gradients(case: Case):
    check_float32_preserved(case.fn, *case.arrays())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_forward_is_accurate(case: Case):
    arrays = case.arrays()
    # float32 rounding of inputs and of every intermediate result: about 1e-7 relative per step,
    # a few steps deep, plus sums of up to 120 terms.
    check_forward(
        case.fn, case.reference, *[a.astype(np.float32) for a in arrays], rtol=2e-5, atol=2e-5
    )


SCALAR_FORMS = [
    ("add_scalar", lambda a, s: ndl.add_scalar(a, s)),
    ("mul_scalar", lambda a, s: ndl.mul_scalar(a, s)),
    ("divide_scalar", lambda a, s: ndl.divide_scalar(a, s)),
    ("power_scalar", lambda a, s: ndl.power_scalar(a, s)),
    ("t+s", lambda a, s: a + s),
    ("t-s", lambda a, s: a - s),
    ("t*s", lambda a, s: a * s),
    ("t/s", lambda a, s: a / s),
    ("t**s", lambda a, s: a**s),
]


@pytest.mark.parametrize("fn", [f for _, f in SCALAR_FORMS], ids=[n for n, _ in SCALAR_FORMS])
def test_scalar_ops_keep_float32_when_given_a_numpy_float64_scalar(fn):
    a = ndl.Tensor(np.full((2, 3), 1.5, dtype=np.float32))
    check_float32_preserved(lambda t: fn(t, np.float64(2.0)), a.numpy())


OP_NAMES = [
    ("EWiseAdd", "add"), ("AddScalar", "add_scalar"), ("EWiseMul", "multiply"),
    ("MulScalar", "mul_scalar"), ("EWisePow", "power"), ("PowerScalar", "power_scalar"),
    ("EWiseDiv", "divide"), ("DivScalar", "divide_scalar"), ("Transpose", "transpose"),
    ("Reshape", "reshape"), ("BroadcastTo", "broadcast_to"), ("Summation", "summation"),
    ("MatMul", "matmul"), ("Negate", "negate"), ("Log", "log"), ("Exp", "exp"),
    ("ReLU", "relu"), ("Tanh", "tanh"), ("LogSoftmax", "logsoftmax"),
    ("LogSumExp", "logsumexp"), ("MakeTensorTuple", "make_tuple"),
    ("TupleGetItem", "tuple_get_item"), ("FusedAddScalars", "fused_add_scalars"),
]


@pytest.mark.parametrize("class_name, function_name", OP_NAMES)
def test_every_op_is_a_class_and_a_lowercase_function(class_name, function_name):
    cls = getattr(ndl.ops, class_name)
    assert issubclass(cls, autograd.Op)
    assert callable(getattr(ndl.ops, function_name))
    assert getattr(ndl, function_name) is getattr(ndl.ops, function_name)


def test_op_classes_are_callable_like_their_functions():
    rng = np.random.default_rng(0)
    a = ndl.Tensor(rng.standard_normal((2, 3, 4)))
    np.testing.assert_array_equal(
        ndl.ops.Transpose()(a).numpy(), ndl.transpose(a).numpy()
    )
    np.testing.assert_array_equal(
        ndl.ops.Summation((0, 2))(a).numpy(), ndl.summation(a, (0, 2)).numpy()
    )
    np.testing.assert_array_equal(
        ndl.ops.LogSumExp(axes=(1,))(a).numpy(), ndl.logsumexp(a, axes=(1,)).numpy()
    )


def mentions(message: str, *shapes: tuple) -> bool:
    """Does the message name every shape (as a tuple, spaces ignored)?"""
    compact = re.sub(r"\s", "", message)
    return all(re.sub(r"\s", "", str(tuple(s))) in compact for s in shapes)


@pytest.mark.parametrize("sa, sb", [((3, 4), (5, 2)), ((2, 3, 4), (3, 2)), ((4, 3), (2, 4, 5))])
def test_matmul_with_different_inner_dimensions_raises_value_error_naming_both_shapes(sa, sb):
    a, b = ndl.Tensor(np.ones(sa)), ndl.Tensor(np.ones(sb))
    with pytest.raises(ValueError) as info:
        ndl.matmul(a, b)
    assert "matmul" in str(info.value).lower(), str(info.value)
    assert mentions(str(info.value), sa, sb), str(info.value)


@pytest.mark.parametrize("shape, target", [((3, 4), (3, 5)), ((3,), (3, 2)), ((2, 3), (3,))])
def test_broadcast_to_an_incompatible_shape_raises_value_error_naming_both_shapes(shape, target):
    a = ndl.Tensor(np.ones(shape))
    with pytest.raises(ValueError) as info:
        ndl.broadcast_to(a, target)
    assert "broadcast" in str(info.value).lower(), str(info.value)
    assert mentions(str(info.value), shape, target), str(info.value)


@pytest.mark.parametrize("shape, target", [((3, 4), (5,)), ((3, 4), (2, 5)), ((2,), ())])
def test_reshape_to_a_different_size_raises_value_error_naming_both_shapes(shape, target):
    a = ndl.Tensor(np.ones(shape))
    with pytest.raises(ValueError) as info:
        ndl.reshape(a, target)
    assert "reshape" in str(info.value).lower(), str(info.value)
    assert mentions(str(info.value), shape, target), str(info.value)
