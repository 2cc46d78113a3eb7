"""Probe-side stand-ins: replace a function another problem grades by a plain numpy version, so
that a bug there is not charged twice (e.g. SoftmaxLoss is graded with a correct LogSumExp)."""

from __future__ import annotations

import numpy as np


def use_numpy_logsumexp(ndl) -> None:
    """Make the student's LogSumExp compute and differentiate with the stable numpy formulas."""

    def keep(self, shape):
        axes = self.axes
        if axes is None:
            return tuple(range(len(shape)))
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        return tuple(a % len(shape) for a in axes)

    def lse(self, z):
        axes = keep(self, z.shape)
        top = np.max(z, axis=axes, keepdims=True)
        return np.log(np.sum(np.exp(z - top), axis=axes, keepdims=True)) + top, axes

    def compute(self, z):
        value, axes = lse(self, z)
        return np.squeeze(value, axis=axes).astype(z.dtype)

    def gradient(self, out_grad, node):
        z = node.inputs[0].realize_cached_data()
        value, axes = lse(self, z)
        kept = [1 if i in axes else n for i, n in enumerate(z.shape)]
        g = np.reshape(out_grad.realize_cached_data(), kept)
        return ndl.Tensor((np.exp(z - value) * g).astype(z.dtype), requires_grad=False)

    ndl.ops.LogSumExp.compute = compute
    ndl.ops.LogSumExp.gradient = gradient
