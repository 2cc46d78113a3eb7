"""Numerically stable log-sum-exp and log-softmax.

exp overflows float32 beyond about 88, so both subtract the maximum first:
    logsumexp(z) = log(sum(exp(z - m))) + m,  m = max(z),
which is exact for any m and keeps every exponent <= 0.
"""

from __future__ import annotations

import numpy

from ..autograd import NDArray, Tensor, TensorOp
from .ops_mathematic import Axes, _axes_tuple, broadcast_to, exp, reshape, summation

__all__ = [
    "LogSumExp",
    "logsumexp",
    "LogSoftmax",
    "logsoftmax",
]

array_api = numpy


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> list[int]:
    """`shape` with the reduced `axes` (all when None) kept as size 1."""
    reduced = range(len(shape)) if axes is None else axes
    kept = list(shape)
    for axis in reduced:
        kept[axis] = 1
    return kept


class LogSumExp(TensorOp):
    """c = log(sum(exp(z), axes)), the reduced axes dropped (the Summation convention).

    As in Summation, the constructor stores `self.axes` as a tuple of ints or None (`axes=1`
    becomes `(1,)`).

    dz = g * softmax(z) along the reduced axes, g broadcast back to z's shape. softmax(z) is
    computed as exp(z - m) / sum(exp(z - m)) with the constant m = max(z): the same function, but
    exact even where c itself is too large to hold z - c to full precision.
    """

    def __init__(self, axes: Axes = None):
        self.axes = _axes_tuple(axes)

    def compute(self, Z: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        z_max = array_api.max(Z, axis=self.axes, keepdims=True)
        sum_exp = array_api.sum(array_api.exp(Z - z_max), axis=self.axes, keepdims=True)
        out = array_api.log(sum_exp) + z_max
        return array_api.reshape(out, array_api.sum(out, axis=self.axes).shape)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        Z = node.inputs[0]
        kept = _keepdims_shape(Z.shape, self.axes)
        z_max = array_api.max(Z.realize_cached_data(), axis=self.axes, keepdims=True)
        shifted_exp = exp(Z - Tensor.make_const(array_api.broadcast_to(z_max, Z.shape)))
        sum_exp = broadcast_to(reshape(summation(shifted_exp, self.axes), kept), Z.shape)
        grad = broadcast_to(reshape(out_grad, kept), Z.shape)
        return grad * shifted_exp / sum_exp
        ### END YOUR SOLUTION


def logsumexp(a: Tensor, axes: Axes = None) -> Tensor:
    return LogSumExp(axes=axes)(a)


class LogSoftmax(TensorOp):
    """c = z - logsumexp(z) along axis 1 of a 2-D input (one row per example).

    dz = g - softmax(z) * sum(g, axis 1), with softmax(z) = exp(c).
    """

    def compute(self, Z: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        z_max = array_api.max(Z, axis=1, keepdims=True)
        shifted = Z - z_max
        return shifted - array_api.log(array_api.sum(array_api.exp(shifted), axis=1, keepdims=True))
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        rows = node.shape[0]
        grad_sum = broadcast_to(reshape(summation(out_grad, axes=1), (rows, 1)), node.shape)
        return out_grad - exp(node) * grad_sum
        ### END YOUR SOLUTION


def logsoftmax(a: Tensor) -> Tensor:
    if len(a.shape) != 2:
        raise ValueError(f"logsoftmax: expects a 2-D input (batch, classes), got shape {a.shape}")
    return LogSoftmax()(a)
