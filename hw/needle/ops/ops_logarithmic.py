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
        raise NotImplementedError("LogSumExp.compute in needle/ops/ops_logarithmic.py")
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("LogSumExp.gradient in needle/ops/ops_logarithmic.py")
        ### END YOUR SOLUTION


def logsumexp(a: Tensor, axes: Axes = None) -> Tensor:
    return LogSumExp(axes=axes)(a)


class LogSoftmax(TensorOp):
    """c = z - logsumexp(z) along axis 1 of a 2-D input (one row per example).

    dz = g - softmax(z) * sum(g, axis 1), with softmax(z) = exp(c).
    """

    def compute(self, Z: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("LogSoftmax.compute in needle/ops/ops_logarithmic.py")
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("LogSoftmax.gradient in needle/ops/ops_logarithmic.py")
        ### END YOUR SOLUTION


def logsoftmax(a: Tensor) -> Tensor:
    if len(a.shape) != 2:
        raise ValueError(f"logsoftmax: expects a 2-D input (batch, classes), got shape {a.shape}")
    return LogSoftmax()(a)
