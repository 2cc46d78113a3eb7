"""The lecture's example modules: how a Module finds its parameters.

`ScaleAdd` holds two Parameters directly; `MultiPathScaleAdd` holds several ScaleAdd modules in a
list. Neither defines `parameters()`: `Module.parameters()` walks the attributes, descending into
sub-modules, lists, tuples and dicts, and collects every Parameter it meets:

    >>> model = MultiPathScaleAdd(num_paths=2)
    >>> len(model.parameters())          # paths[0].s, paths[0].b, paths[1].s, paths[1].b
    4

This is what lets `optim.SGD(model.parameters())` train every path without the model listing them.
"""

import needle as ndl
from needle import nn


class ScaleAdd(nn.Module):
    """y = x * s + b, elementwise, with learnable scalars s and b (Parameters of shape (1,)).

    s and b are broadcast explicitly to the shape of x, so their gradients are sums over x's
    elements: ds = sum(g * x), db = sum(g).
    """

    def __init__(self, init_s: float = 1.0, init_b: float = 0.0, dtype: str = "float32"):
        super().__init__()
        self.s = nn.Parameter([init_s], dtype=dtype)
        self.b = nn.Parameter([init_b], dtype=dtype)

    def forward(self, x: ndl.Tensor) -> ndl.Tensor:
        return x * self.s.broadcast_to(x.shape) + self.b.broadcast_to(x.shape)


class MultiPathScaleAdd(nn.Module):
    """y = sum_k path_k(x): the outputs of several ScaleAdd paths, summed.

    The paths are kept in a plain list, `self.paths`; `parameters()` still finds the s and b of
    every path, in list order.
    """

    def __init__(self, num_paths: int = 2, dtype: str = "float32"):
        super().__init__()
        if num_paths < 1:
            raise ValueError(f"MultiPathScaleAdd: num_paths must be >= 1, got {num_paths!r}")
        self.paths = [ScaleAdd(dtype=dtype) for _ in range(num_paths)]

    def forward(self, x: ndl.Tensor) -> ndl.Tensor:
        out = self.paths[0](x)
        for path in self.paths[1:]:
            out = out + path(x)
        return out
