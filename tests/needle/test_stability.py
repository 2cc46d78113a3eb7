"""logsumexp, logsoftmax and SoftmaxLoss stay finite and correct for huge inputs: 1e5 in float32
(exp overflows past 88) and 1e10 in float64 (exp overflows past 709), forward and gradient.

The reference is the max-shifted formula evaluated in float64 on the very same input values.
"""

from __future__ import annotations

import needle as ndl
import numpy as np
import pytest
import scipy.special
from checks import assert_shape_then_values, constant, random_like

SCALES = [pytest.param(np.float32, 1e5, id="float32-1e5"),
          pytest.param(np.float64, 1e10, id="float64-1e10")]

# How the inputs sit around the scale: all huge and close together (a naive exp overflows to
# inf), all hugely negative (a naive exp underflows to 0 and its log is -inf), spread over
# many orders of magnitude on both signs.
LAYOUTS = ["positive", "negative", "spread"]


def huge(shape, dtype, scale, layout, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if layout == "positive":
        x = scale + rng.uniform(-3.0, 3.0, shape)
    elif layout == "negative":
        x = -scale + rng.uniform(-3.0, 3.0, shape)
    else:
        x = scale * rng.standard_normal(shape)
    return x.astype(dtype)


def tolerance(dtype, scale) -> dict:
    """A result of size ~scale carries a rounding error of a few ulps of scale in its dtype."""
    eps = np.finfo(dtype).eps
    return {"rtol": 8 * eps, "atol": 8 * eps * scale}


def grad_tolerance(dtype, scale) -> dict:
    """Gradients are softmax-like, entries of size ~1. A backward-stable computation (for example
    exp(x - logsumexp(x)), with logsumexp rounded to the dtype at size ~scale) returns the exact
    gradient of inputs moved by a few ulps of scale, that is a relative error of a few
    eps * scale: about 1e-2 in float32 at 1e5, 2e-6 in float64 at 1e10. A wrong or unstable
    formula is off by O(1) or not finite."""
    eps = np.finfo(dtype).eps
    return {"rtol": 4 * eps * scale, "atol": 4 * eps * scale}


def softmax(x: np.ndarray, axes) -> np.ndarray:
    shifted = x - np.max(x, axis=axes, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axes, keepdims=True)


def keep_dims(g: np.ndarray, shape, axes) -> np.ndarray:
    """Reinsert the reduced axes of `g` as size-1 axes so that it broadcasts against `shape`."""
    if axes is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axes, int):
        axes = (axes,)
    return np.expand_dims(g, tuple(a % len(shape) for a in axes))


def check_finite(t) -> None:
    values = t.numpy() if isinstance(t, ndl.Tensor) else t
    assert np.all(np.isfinite(values)), f"non-finite values: {values}"


LSE_CASES = [((7,), None), ((7,), 0), ((3, 5), None), ((3, 5), 1), ((3, 5), 0),
             ((2, 3, 4), (0, 2)), ((2, 3, 4), 1)]


@pytest.mark.parametrize("dtype, scale", SCALES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape, axes", LSE_CASES)
def test_logsumexp_of_huge_inputs_is_finite_and_correct(dtype, scale, layout, shape, axes):
    x = huge(shape, dtype, scale, layout)
    x64 = x.astype(np.float64)
    t = ndl.Tensor(x)
    out = ndl.logsumexp(t, axes=axes)
    check_finite(out)
    assert out.numpy().dtype == dtype
    expected = np.asarray(scipy.special.logsumexp(x64, axis=axes))
    assert_shape_then_values(out, expected, **tolerance(dtype, scale), what="logsumexp")

    g = random_like(expected.shape, dtype=np.float64)
    out.backward(constant(g.astype(dtype)))
    check_finite(t.grad)
    expected_grad = keep_dims(g, shape, axes) * softmax(x64, axes)
    assert_shape_then_values(
        t.grad, expected_grad, **grad_tolerance(dtype, scale), what="gradient"
    )


@pytest.mark.parametrize("dtype, scale", SCALES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_logsoftmax_of_huge_inputs_is_finite_and_correct(dtype, scale, layout):
    x = huge((4, 6), dtype, scale, layout)
    x64 = x.astype(np.float64)
    t = ndl.Tensor(x)
    out = ndl.logsoftmax(t)
    check_finite(out)
    assert out.numpy().dtype == dtype
    expected = x64 - scipy.special.logsumexp(x64, axis=1, keepdims=True)
    # Entries are differences of two numbers of size ~scale: absolute error a few ulps of scale.
    assert_shape_then_values(out, expected, **tolerance(dtype, scale), what="logsoftmax")

    g = random_like(expected.shape, dtype=np.float64)
    out.backward(constant(g.astype(dtype)))
    check_finite(t.grad)
    expected_grad = g - softmax(x64, 1) * g.sum(axis=1, keepdims=True)
    # The softmax term is multiplied by the row sums of G: its error grows with them.
    tol = grad_tolerance(dtype, scale)
    tol["atol"] *= np.abs(g.sum(axis=1)).max()
    assert_shape_then_values(t.grad, expected_grad, **tol, what="gradient")


@pytest.mark.parametrize("dtype, scale", SCALES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_loss_of_huge_logits_is_finite_and_correct(dtype, scale, layout):
    batch, classes = 5, 4
    z = huge((batch, classes), dtype, scale, layout)
    z64 = z.astype(np.float64)
    y = np.random.default_rng(1).integers(0, classes, batch).astype(np.uint8)
    logits = ndl.Tensor(z)
    loss = ndl.nn.SoftmaxLoss()(logits, ndl.Tensor(y))
    check_finite(loss)
    assert loss.numpy().dtype == dtype
    expected = np.mean(
        scipy.special.logsumexp(z64, axis=1) - z64[np.arange(batch), y]
    )
    assert_shape_then_values(loss, expected, **tolerance(dtype, scale), what="loss")

    loss.backward()
    check_finite(logits.grad)
    expected_grad = (softmax(z64, 1) - np.eye(classes)[y]) / batch
    assert_shape_then_values(
        logits.grad, expected_grad, **grad_tolerance(dtype, scale), what="gradient"
    )
