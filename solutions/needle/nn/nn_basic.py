"""The Module base class and the basic layers, normalisations and losses.

A `Module` is a plain Python object whose attributes may be `Parameter`s, other Modules, or dicts,
lists and tuples of them; `parameters()` finds them all by walking the attributes. Shapes below use
N for the batch size, D for the number of features.
"""

import math
from typing import Any

from .. import init, ops
from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor that a Module reports through `parameters()`: the values an optimizer trains."""


def _unpack_params(value: object) -> list[Tensor]:
    """Every Parameter reachable from `value` through Modules, dicts, lists and tuples, in order."""
    if isinstance(value, Parameter):
        return [value]
    if isinstance(value, Module):
        return value.parameters()
    if isinstance(value, dict):
        params = []
        for item in value.values():
            params += _unpack_params(item)
        return params
    if isinstance(value, (list, tuple)):
        params = []
        for item in value:
            params += _unpack_params(item)
        return params
    return []


def _child_modules(value: object) -> list["Module"]:
    """Every Module reachable from `value` (itself included) through dicts, lists and tuples."""
    if isinstance(value, Module):
        return [value] + _child_modules(value.__dict__)
    if isinstance(value, dict):
        modules = []
        for item in value.values():
            modules += _child_modules(item)
        return modules
    if isinstance(value, (list, tuple)):
        modules = []
        for item in value:
            modules += _child_modules(item)
        return modules
    return []


class Module:
    """Base class of every layer.

    Subclasses assign Parameters and sub-Modules as attributes in `__init__` and implement
    `forward`; calling the module calls `forward`. `training` switches layers whose behaviour
    differs between training and evaluation (Dropout, BatchNorm1d); `train()` and `eval()` set it
    on the whole tree of sub-modules.
    """

    training: bool = True

    def __init__(self):
        self.training = True

    def parameters(self) -> list[Tensor]:
        """The Parameters of this module and all its sub-modules, each listed once, in
        attribute order (depth first)."""
        unique = {}
        for param in _unpack_params(self.__dict__):
            unique.setdefault(id(param), param)
        return list(unique.values())

    def _children(self) -> list["Module"]:
        """Every sub-module below this one (recursively), not including this module."""
        return _child_modules(self.__dict__)

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (`mode=True`) or evaluation mode on this module and every
        sub-module; returns self so that `model = Model().train()` works."""
        self.training = mode
        for module in self._children():
            module.training = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode: the same as `train(False)`."""
        return self.train(False)

    def forward(self, *args, **kwargs) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args, **kwargs) -> Any:
        return self.forward(*args, **kwargs)


def _check_positive_int(module: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{module}: {name} must be a positive integer, got {value!r}")


def _check_features(module: str, x: Tensor, dim: int) -> None:
    """A normalisation layer takes (N, dim) input."""
    if len(x.shape) != 2 or x.shape[1] != dim:
        raise ValueError(f"{module}: expected input of shape (N, {dim}), got {x.shape}")


class Identity(Module):
    """y = x."""

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return x
        ### END YOUR SOLUTION


class Linear(Module):
    """Affine map y = x @ W + b.

    Shapes: x (..., in_features) -> y (..., out_features); W (in_features, out_features);
    b (1, out_features).
    Initialisation, in this order (the seeded values depend on it): W = kaiming_uniform(in, out),
    then b = kaiming_uniform(out, 1) reshaped to (1, out).
    `+ b` may broadcast b implicitly (elementwise ops sum its gradient back to (1, out)); writing
    `b.broadcast_to(y.shape)` says the same thing explicitly.
    Usual mistakes: storing b as (out,) or (out, 1); creating b before W.
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype="float32"):
        super().__init__()
        _check_positive_int("Linear", "in_features", in_features)
        _check_positive_int("Linear", "out_features", out_features)
        self.in_features = in_features
        self.out_features = out_features
        ### BEGIN YOUR SOLUTION
        self.weight = Parameter(
            init.kaiming_uniform(in_features, out_features, device=device, dtype=dtype)
        )
        if bias:
            b = init.kaiming_uniform(out_features, 1, device=device, dtype=dtype)
            self.bias = Parameter(b.reshape((1, out_features)))
        else:
            self.bias = None
        ### END YOUR SOLUTION

    def forward(self, X: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        y = X @ self.weight
        if self.bias is not None:
            y = y + self.bias
        return y
        ### END YOUR SOLUTION


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def forward(self, X: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return X.reshape((X.shape[0], math.prod(X.shape[1:])))
        ### END YOUR SOLUTION


class ReLU(Module):
    """y = max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return ops.relu(x)
        ### END YOUR SOLUTION


class Sequential(Module):
    """Applies the modules in order: y = m_k(... m_2(m_1(x))); they are kept in the tuple
    `modules`."""

    def __init__(self, *modules):
        super().__init__()
        self.modules = modules

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        for module in self.modules:
            x = module(x)
        return x
        ### END YOUR SOLUTION


class SoftmaxLoss(Module):
    """Softmax cross-entropy, averaged over the batch:

        loss = (1/N) * sum_i [ logsumexp_j(z_ij) - z_{i, y_i} ]

    Shapes: logits z (N, k); labels y (N,) integers in [0, k); result 0-d.
    z_{i, y_i} is picked with `init.one_hot(k, y)`: sum_j z_ij * onehot_ij.
    Usual mistakes: log(sum(exp(z))) without subtracting the max (overflows; `ops.logsumexp` is
    stable); summing instead of averaging over the batch; returning shape (1,) instead of ().
    """

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        batch_size, num_classes = logits.shape
        y_one_hot = init.one_hot(num_classes, y, device=logits.device, dtype=logits.dtype)
        z_y = (logits * y_one_hot).sum(axes=(1,))
        losses = ops.logsumexp(logits, axes=(1,)) - z_y
        return losses.sum() / batch_size
        ### END YOUR SOLUTION


class L2Loss(Module):
    """Mean squared error over all elements: loss = mean((prediction - target)^2); result 0-d."""

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        if prediction.shape != target.shape:
            raise ValueError(
                f"L2Loss: prediction shape {prediction.shape} differs from target shape "
                f"{target.shape}"
            )
        ### BEGIN YOUR SOLUTION
        diff = prediction - target
        return (diff**2).sum() / math.prod(diff.shape)
        ### END YOUR SOLUTION


class BatchNorm1d(Module):
    """Batch normalisation over the batch axis (Ioffe & Szegedy 2015).

    Training, for x of shape (N, D), statistics over axis 0:
        mean = (1/N) sum_i x_i                       (D,)
        var  = (1/N) sum_i (x_i - mean)^2            (D,)  biased: divide by N, not N - 1
        y    = w * (x - mean) / sqrt(var + eps) + b
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var
    Evaluation:
        y    = w * (x - running_mean) / sqrt(running_var + eps) + b

    w (weight, ones) and b (bias, zeros) are Parameters of shape (D,); running_mean (zeros) and
    running_var (ones) are plain Tensors, not Parameters: no optimizer must touch them.
    Usual mistakes: momentum on the wrong side of the average (momentum weighs the NEW batch
    statistic); updating the running statistics from tensors still attached to the graph (the graph
    is then kept alive across steps: use `.data`); the unbiased variance; using the batch statistics
    in eval mode.
    """

    def __init__(self, dim, eps=1e-5, momentum=0.1, device=None, dtype="float32"):
        super().__init__()
        _check_positive_int("BatchNorm1d", "dim", dim)
        if eps < 0:
            raise ValueError(f"BatchNorm1d: eps must be >= 0, got {eps!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1], got {momentum!r}")
        self.dim = dim
        self.eps = float(eps)
        self.momentum = float(momentum)
        ### BEGIN YOUR SOLUTION
        self.weight = Parameter(init.ones(dim, device=device, dtype=dtype))
        self.bias = Parameter(init.zeros(dim, device=device, dtype=dtype))
        self.running_mean = init.zeros(dim, device=device, dtype=dtype)
        self.running_var = init.ones(dim, device=device, dtype=dtype)
        ### END YOUR SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        _check_features("BatchNorm1d", x, self.dim)
        ### BEGIN YOUR SOLUTION
        batch_size = x.shape[0]
        if self.training:
            mean = x.sum(axes=(0,)) / batch_size
            centered = x - mean
            var = (centered**2).sum(axes=(0,)) / batch_size
            m = self.momentum
            self.running_mean.data = (1 - m) * self.running_mean + m * mean.data
            self.running_var.data = (1 - m) * self.running_var + m * var.data
        else:
            centered = x - self.running_mean
            var = self.running_var
        inv_std = (var + self.eps) ** -0.5
        return centered * (self.weight * inv_std) + self.bias
        ### END YOUR SOLUTION


class LayerNorm1d(Module):
    """Layer normalisation over the feature axis (Ba et al. 2016).

    For x of shape (N, D), statistics per row (axis 1):
        mean_i = (1/D) sum_j x_ij                    (N, 1)
        var_i  = (1/D) sum_j (x_ij - mean_i)^2       (N, 1)  biased
        y      = w * (x - mean) / sqrt(var + eps) + b
    w (weight, ones) and b (bias, zeros) are Parameters of shape (D,). The same computation in
    training and evaluation, no running statistics.
    Usual mistakes: eps outside the square root; normalising over axis 0 (that is BatchNorm);
    broadcasting the (N,) statistics directly to (N, D) (reshape them to (N, 1) first).
    """

    def __init__(self, dim, eps=1e-5, device=None, dtype="float32"):
        super().__init__()
        _check_positive_int("LayerNorm1d", "dim", dim)
        if eps < 0:
            raise ValueError(f"LayerNorm1d: eps must be >= 0, got {eps!r}")
        self.dim = dim
        self.eps = float(eps)
        ### BEGIN YOUR SOLUTION
        self.weight = Parameter(init.ones(dim, device=device, dtype=dtype))
        self.bias = Parameter(init.zeros(dim, device=device, dtype=dtype))
        ### END YOUR SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        _check_features("LayerNorm1d", x, self.dim)
        ### BEGIN YOUR SOLUTION
        batch_size, dim = x.shape
        mean = (x.sum(axes=(1,)) / dim).reshape((batch_size, 1))
        centered = x - mean.broadcast_to(x.shape)
        var = ((centered**2).sum(axes=(1,)) / dim).reshape((batch_size, 1))
        std = (var + self.eps) ** 0.5
        x_hat = centered / std.broadcast_to(x.shape)
        return self.weight.broadcast_to(x.shape) * x_hat + self.bias.broadcast_to(x.shape)
        ### END YOUR SOLUTION


class Dropout(Module):
    """Inverted dropout. p is the probability to DROP an element.

    Training: mask ~ Bernoulli(1 - p) (one `init.randb` call, i.e. one `np.random.rand` call),
        y = x * mask / (1 - p)        so that E[y] = x;
    evaluation: y = x.
    Usual mistakes: using p as the keep probability; forgetting the 1 / (1 - p) scaling (or
    applying it in eval mode instead); dropping in eval mode.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p (drop probability) must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        if not self.training:
            return x
        mask = init.randb(*x.shape, p=1 - self.p, device=x.device, dtype=x.dtype)
        return x * mask / (1 - self.p)
        ### END YOUR SOLUTION


class Residual(Module):
    """y = fn(x) + x; fn must preserve the shape of x."""

    def __init__(self, fn: Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return self.fn(x) + x
        ### END YOUR SOLUTION
