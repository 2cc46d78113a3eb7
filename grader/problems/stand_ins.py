"""Probe-side stand-ins: replace a function another problem grades by a plain numpy version, so
that a bug there is not charged twice (e.g. SoftmaxLoss is graded with a correct LogSumExp).

Every stand-in is installed inside the probe process, before the probe's steps run, by `install`:
on the module attribute the student's code looks up at call time (`init.ones`, `nn.SoftmaxLoss`,
...) and on every name of the submission's modules already bound to the original object (a
module-level `from needle.data import MNISTDataset` in apps/mlp_resnet.py included).
The reference runs the same probe with the same stand-ins, so both sides see the same values.
Stand-ins only compute what the docstrings of the skeleton already state as formulas; where a
dependency cannot be replaced without handing out another problem's solution (the op computes,
backward()), the problem's declaration says that it relies on it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

# The submission's packages, also under the course layout's names (`python.needle`).
SUBMISSION_PACKAGES = ("needle", "apps", "python")


def install(owner: Any, name: str, replacement: Any) -> None:
    """Set `owner.name = replacement`, and rebind every global of the submission's modules that
    is the original object (so `from needle.init import ones` sees the stand-in too)."""
    original = getattr(owner, name, None)
    setattr(owner, name, replacement)
    if original is None:
        return
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".", 1)[0] not in SUBMISSION_PACKAGES:
            continue
        namespace = getattr(module, "__dict__", {})
        for key, value in list(namespace.items()):
            if value is original:
                namespace[key] = replacement


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


def use_numpy_constructors(ndl, names: tuple[str, ...]) -> None:
    """Replace the init constructors named in `names` (ones, zeros, randb, one_hot) by numpy
    versions with the documented behaviour: randb is one np.random.rand call, True where <= p."""

    def leaf(values, device, dtype, requires_grad):
        return ndl.Tensor(values, device=device, dtype=dtype, requires_grad=requires_grad)

    def ones(*shape, device=None, dtype="float32", requires_grad=False):
        return leaf(np.ones(shape), device, dtype, requires_grad)

    def zeros(*shape, device=None, dtype="float32", requires_grad=False):
        return leaf(np.zeros(shape), device, dtype, requires_grad)

    def randb(*shape, p=0.5, device=None, dtype="bool", requires_grad=False):
        uniform = np.random.rand(*shape)
        return leaf(uniform <= p, device, dtype, requires_grad)

    def one_hot(n, i, device=None, dtype="float32", requires_grad=False):
        labels = np.asarray(i.numpy() if isinstance(i, ndl.Tensor) else i).astype(np.int64)
        rows = (labels[..., None] == np.arange(n)).astype(np.float64)
        return leaf(rows, device, dtype, requires_grad)

    known = {"ones": ones, "zeros": zeros, "randb": randb, "one_hot": one_hot}
    for name in names:
        install(ndl.init, name, known[name])


def use_plain_weights(ndl) -> None:
    """Replace kaiming_uniform (graded in `init`) by a seeded draw with a fixed, different bound:
    modules that create Linear layers get deterministic weights whatever the student's gain."""

    def plain_uniform(fan_in, fan_out, shape=None, device=None, dtype="float32", **kwargs):
        shape = (fan_in, fan_out) if shape is None else tuple(shape)
        values = (2 * np.random.rand(*shape) - 1) / np.sqrt(fan_in)
        return ndl.Tensor(values, device=device, dtype=dtype, requires_grad=False)

    install(ndl.init, "kaiming_uniform", plain_uniform)


def softmax_loss_module(ndl):
    """An nn.Module computing the batch-mean softmax cross-entropy with numpy, forward and
    backward, as one op of the logits (the labels are held by the op)."""

    class _SoftmaxLossOp(ndl.autograd.TensorOp):
        def __init__(self, labels: np.ndarray):
            self.targets = labels

        def probabilities(self, z):
            z = np.asarray(z, np.float64)
            shifted = z - np.max(z, axis=1, keepdims=True)
            return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))

        def compute(self, z):
            log_p = self.probabilities(z)
            picked = log_p[np.arange(len(self.targets)), self.targets]
            return np.array(-np.mean(picked), dtype=z.dtype)

        def gradient(self, out_grad, node):
            z = node.inputs[0].realize_cached_data()
            grad = np.exp(self.probabilities(z))
            grad[np.arange(len(self.targets)), self.targets] -= 1.0
            scale = np.asarray(out_grad.realize_cached_data(), np.float64) / len(self.targets)
            return ndl.Tensor((grad * scale).astype(z.dtype), requires_grad=False)

    class SoftmaxLoss(ndl.nn.Module):
        def forward(self, logits, y):
            labels = np.asarray(y.numpy() if isinstance(y, ndl.Tensor) else y).astype(np.int64)
            return _SoftmaxLossOp(labels.reshape(-1))(logits)

    return SoftmaxLoss


class _Arrays:
    """A dataset of aligned arrays (the spec's NDArrayDataset, without the student's code)."""

    def __init__(self, *arrays: np.ndarray):
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)


def dataset_loader(ndl, dataset, batch_size: int, base: type | None = None):
    """A DataLoader as the spec describes one, serving `dataset` in order: `.dataset`,
    `.batch_size`, `len()` (the number of batches) and iteration over tuples of Tensors built
    from `dataset[index_array]`. It is an instance of `base` (the student's DataLoader class,
    whose __init__ is not called) when that is a class."""
    if base is None or not isinstance(base, type):
        base = object

    class DataLoader(base):
        def __init__(self):
            self.dataset, self.batch_size, self.shuffle = dataset, int(batch_size), False

        def __len__(self) -> int:
            return -(-len(self.dataset) // self.batch_size)

        def __iter__(self):
            for start in range(0, len(self.dataset), self.batch_size):
                rows = np.arange(start, min(start + self.batch_size, len(self.dataset)))
                images, labels = self.dataset[rows]
                yield (
                    ndl.Tensor(images, requires_grad=False),
                    ndl.Tensor(labels, requires_grad=False),
                )

    return DataLoader()


def batches_loader(ndl, batches_x: np.ndarray, batches_y: np.ndarray, base: type | None = None):
    """A DataLoader (see dataset_loader) whose batches are batches_x[k], batches_y[k] in order."""
    count, size = batches_x.shape[:2]
    dataset = _Arrays(batches_x.reshape(count * size, -1), batches_y.reshape(count * size))
    return dataset_loader(ndl, dataset, size, base)
