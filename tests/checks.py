"""Check helpers shared by the library tests: one helper per kind of check.

Every helper checks the shape first, then the values, so that a wrong shape is reported as such
instead of as a broadcasting accident inside `assert_allclose`.

Gradients are checked against numdifftools on the scalar function

    s(x_1, ..., x_n) = sum(f(x_1, ..., x_n) * G)

for a random, fixed output gradient G (not all ones, so that a backward pass that ignores or
misplaces `out_grad` fails). Its gradient with respect to x_i is exactly what
`f(...).backward(G)` must store in `x_i.grad`. The check runs in float64, where central
differences with a fixed step of 1e-5 are accurate to about 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import needle as ndl
import numdifftools as nd
import numpy as np

# Central differences with this step: truncation error ~ STEP**2 * |f'''|, rounding error
# ~ eps * |s| / STEP, both about 1e-10 for the functions tested here.
NUMERICAL_STEP = 1e-5
GRAD_RTOL = 1e-5
GRAD_ATOL = 1e-6


def to_numpy(x) -> np.ndarray:
    """The value of a Tensor (or anything array-like) as a numpy array."""
    if isinstance(x, ndl.Tensor):
        return x.numpy()
    return np.asarray(x)


def assert_shape_then_values(
    actual, expected, *, rtol: float = 1e-7, atol: float = 1e-9, what: str = "value"
) -> None:
    """Assert `actual` (Tensor or array) has the shape of `expected`, then the same values."""
    actual = to_numpy(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}"
    )
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def random_like(shape: Sequence[int], seed: int = 1, dtype=np.float64) -> np.ndarray:
    """A fixed random array (the output gradient G) of `shape` and `dtype`."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.standard_normal(tuple(shape)), dtype=dtype)


def constant(array: np.ndarray) -> ndl.Tensor:
    """A Tensor that takes no part in differentiation."""
    return ndl.Tensor(array, requires_grad=False)


def grad_or_zeros(tensor: ndl.Tensor) -> np.ndarray:
    """`tensor.grad`, or zeros when backward did not reach the tensor (its derivative is 0)."""
    grad = getattr(tensor, "grad", None)
    return np.zeros(tensor.shape) if grad is None else to_numpy(grad)


def check_forward(
    fn: Callable, reference: Callable, *arrays: np.ndarray, rtol: float = 1e-7, atol: float = 1e-9
) -> None:
    """needle's `fn` on Tensors of `arrays` equals numpy's `reference` on the arrays."""
    out = fn(*[ndl.Tensor(a) for a in arrays])
    expected = reference(*[a.copy() for a in arrays])
    assert isinstance(out, ndl.Tensor), f"forward returned {type(out).__name__}, not a Tensor"
    assert_shape_then_values(out, expected, rtol=rtol, atol=atol, what="forward")


def numerical_gradient(
    fn: Callable, arrays: Sequence[np.ndarray], index: int, out_grad: np.ndarray
) -> np.ndarray:
    """numdifftools' gradient of sum(fn(*arrays) * out_grad) with respect to arrays[index].

    `fn` is evaluated with needle on Tensors that need no gradient (so no graph is kept).
    """
    shape = arrays[index].shape

    def scalar(flat: np.ndarray) -> float:
        inputs = list(arrays)
        inputs[index] = np.reshape(flat, shape)
        out = fn(*[constant(x) for x in inputs])
        return float(np.sum(to_numpy(out) * out_grad))

    x0 = np.array(arrays[index], dtype=np.float64).ravel()
    grad = nd.Gradient(scalar, step=NUMERICAL_STEP)(x0)
    return np.reshape(grad, shape)


def check_gradients(
    fn: Callable,
    *arrays: np.ndarray,
    seed: int = 1,
    rtol: float = GRAD_RTOL,
    atol: float = GRAD_ATOL,
) -> None:
    """Every input's `.grad` after `fn(...).backward(G)` equals the numerical gradient.

    The arrays must be float64 (the numerical gradient needs the precision).
    """
    for a in arrays:
        assert a.dtype == np.float64, f"gradient checks run in float64, got {a.dtype}"
    tensors = [ndl.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out_grad = random_like(out.shape, seed)
    out.backward(constant(out_grad))
    for i, tensor in enumerate(tensors):
        expected = numerical_gradient(fn, arrays, i, out_grad)
        assert_shape_then_values(
            grad_or_zeros(tensor), expected, rtol=rtol, atol=atol, what=f"gradient of input {i}"
        )


def check_float32_preserved(fn: Callable, *arrays: np.ndarray, seed: int = 1) -> None:
    """float32 inputs give a float32 output and float32 gradients (no float64 promotion)."""
    tensors = [ndl.Tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    assert np.dtype(out.dtype) == np.float32, f"output dtype {out.dtype}, expected float32"
    assert to_numpy(out).dtype == np.float32, f"output array dtype {to_numpy(out).dtype}"
    out.backward(constant(random_like(out.shape, seed, dtype=np.float32)))
    for i, tensor in enumerate(tensors):
        if getattr(tensor, "grad", None) is None:
            continue  # not reached by backward: nothing to promote
        grad = to_numpy(tensor.grad)
        assert grad.dtype == np.float32, f"gradient of input {i} has dtype {grad.dtype}"
        assert grad.shape == tensor.shape, f"gradient of input {i}: shape {grad.shape}"


def needle_gradient(
    fn: Callable, arrays: Sequence[np.ndarray], index: int, out_grad: np.ndarray
) -> np.ndarray:
    """needle's gradient of sum(fn(*arrays) * out_grad) with respect to arrays[index]."""
    tensors = [ndl.Tensor(a, requires_grad=True) for a in arrays]
    fn(*tensors).backward(constant(out_grad))
    return to_numpy(tensors[index].grad)


def check_gradient_of_gradient(
    fn: Callable,
    *arrays: np.ndarray,
    seed: int = 1,
    rtol: float = GRAD_RTOL,
    atol: float = GRAD_ATOL,
) -> None:
    """The graph of each `.grad` is differentiable, and its derivative is right.

    For each input i: g_i = d sum(fn * G) / d x_i is computed by backward (a Tensor with a graph);
    then sum(g_i * V).backward() for a random V must give, on every input j, the numerical
    gradient of x_j -> sum(g_i(x) * V), where g_i(x) is needle's own first gradient (checked
    separately against numdifftools). An input the second pass does not reach has zero derivative.
    """
    shape = fn(*[constant(a) for a in arrays]).shape
    out_grad = random_like(shape, seed)
    for i in range(len(arrays)):
        tensors = [ndl.Tensor(a, requires_grad=True) for a in arrays]
        fn(*tensors).backward(constant(out_grad))
        first = tensors[i].grad
        v = random_like(first.shape, seed + 1 + i)
        for tensor in tensors:
            tensor.grad = None
        (first * constant(v)).sum().backward()
        for j, tensor in enumerate(tensors):
            actual = grad_or_zeros(tensor)

            def projected_first_gradient(*inputs, i=i, v=v):
                grad = needle_gradient(fn, [to_numpy(x) for x in inputs], i, out_grad)
                return constant(np.asarray(grad * v))

            expected = numerical_gradient(projected_first_gradient, arrays, j, np.ones(()))
            assert_shape_then_values(
                actual, expected, rtol=rtol, atol=atol,
                what=f"derivative of the gradient of input {i} with respect to input {j}",
            )
