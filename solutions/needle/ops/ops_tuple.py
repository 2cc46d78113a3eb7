"""Ops with several outputs: a TensorTuple is one graph node holding a tuple of arrays."""

from __future__ import annotations

from ..autograd import NDArray, Tensor, TensorOp, TensorTuple, TensorTupleOp, Value
from .ops_mathematic import _python_scalar

__all__ = [
    "MakeTensorTuple",
    "make_tuple",
    "TupleGetItem",
    "tuple_get_item",
    "FusedAddScalars",
    "fused_add_scalars",
]


class MakeTensorTuple(TensorTupleOp):
    """c = (a_0, ..., a_n);  da_i = g[i]."""

    def compute(self, *args: NDArray) -> tuple[NDArray, ...]:
        return tuple(args)

    def gradient(self, out_grad: TensorTuple, node: TensorTuple) -> tuple[Tensor, ...]:
        return tuple(out_grad[i] for i in range(len(out_grad)))


def make_tuple(*args: Tensor) -> TensorTuple:
    return MakeTensorTuple()(*args)


class TupleGetItem(TensorOp):
    """c = a[index] of a tuple a;  da = (0, ..., g, ..., 0), g at `index`."""

    def __init__(self, index: int):
        self.index = index

    def __call__(self, a: TensorTuple, fold_const: bool = True) -> Tensor:
        if fold_const and isinstance(a.op, MakeTensorTuple):
            # Indexing a freshly made tuple is just the input it was made from.
            return a.inputs[self.index]
        return Tensor.make_from_op(self, [a])

    def compute(self, a: tuple[NDArray, ...]) -> NDArray:
        return a[self.index]

    def gradient(self, out_grad: Tensor, node: Tensor) -> TensorTuple:
        parts = []
        for i, value in enumerate(node.inputs[0].realize_cached_data()):
            if i == self.index:
                parts.append(out_grad)
            else:
                parts.append(Tensor.make_const(value * 0))
        return make_tuple(*parts)


def tuple_get_item(value: Value, index: int) -> Tensor:
    return TupleGetItem(index)(value)


class FusedAddScalars(TensorTupleOp):
    """c = (a + c0, a + c1);  da = g[0] + g[1]."""

    def __init__(self, c0: float, c1: float):
        self.c0 = _python_scalar(c0)
        self.c1 = _python_scalar(c1)

    def compute(self, a: NDArray) -> tuple[NDArray, NDArray]:
        return a + self.c0, a + self.c1

    def gradient(self, out_grad: TensorTuple, node: TensorTuple) -> Tensor:
        return out_grad[0] + out_grad[1]


def fused_add_scalars(x: Tensor, c0: float, c1: float) -> TensorTuple:
    return FusedAddScalars(c0, c1)(x)
