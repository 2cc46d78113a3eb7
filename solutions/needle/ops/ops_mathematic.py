"""Elementwise, scalar, shape, reduction, matrix and activation ops.

Each op states its forward and the adjoint of each input, where `g` is the adjoint of the output
(`out_grad`). Gradients are written in needle ops, so they can be differentiated again.
"""

from __future__ import annotations

import numpy

from ..autograd import NDArray, Tensor, TensorOp

__all__ = [
    "unbroadcast",
    "ElementwiseBinaryOp",
    "EWiseAdd",
    "add",
    "AddScalar",
    "add_scalar",
    "EWiseMul",
    "multiply",
    "MulScalar",
    "mul_scalar",
    "EWisePow",
    "power",
    "PowerScalar",
    "power_scalar",
    "EWiseDiv",
    "divide",
    "DivScalar",
    "divide_scalar",
    "Transpose",
    "transpose",
    "Reshape",
    "reshape",
    "BroadcastTo",
    "broadcast_to",
    "Summation",
    "summation",
    "MatMul",
    "matmul",
    "Negate",
    "negate",
    "Log",
    "log",
    "Exp",
    "exp",
    "ReLU",
    "relu",
    "Tanh",
    "tanh",
]

array_api = numpy

Shape = tuple[int, ...]
Axes = int | tuple[int, ...] | None


def _axes_tuple(axes: Axes) -> tuple[int, ...] | None:
    """`axes` as a tuple of Python ints (an int `k` becomes `(k,)`), or None for every axis."""
    if axes is None:
        return None
    if isinstance(axes, (int, numpy.integer)):
        return (int(axes),)
    if type(axes) is tuple and all(type(axis) is int for axis in axes):
        return axes  # the usual case, already in the form wanted
    return tuple([int(axis) for axis in axes])


def _python_scalar(scalar: float) -> float:
    """A numpy scalar as the Python number it holds: numpy float64 scalars would promote float32."""
    return scalar.item() if isinstance(scalar, numpy.generic) else scalar


def unbroadcast(grad: Tensor, shape: Shape) -> Tensor:
    """Undo broadcasting in a gradient: sum `grad` down to `shape`.

    A value broadcast from `shape` to `grad.shape` was used once per copy, so its adjoint is the sum
    of the copies' adjoints: sum over the leading axes broadcasting added and over the axes where
    `shape` has size 1, then reshape to `shape`.
    """
    ### BEGIN YOUR SOLUTION
    if grad.shape == tuple(shape):
        return grad
    leading = len(grad.shape) - len(shape)
    stretched = [i + leading for i, size in enumerate(shape) if size == 1]
    axes = tuple(range(leading)) + tuple(i for i in stretched if grad.shape[i] != 1)
    if axes:
        grad = summation(grad, axes)
    if grad.shape != tuple(shape):
        grad = reshape(grad, shape)
    return grad
    ### END YOUR SOLUTION


class ElementwiseBinaryOp(TensorOp):
    """An elementwise op of two operands whose shapes broadcast under numpy's rules.

    c = f(a, b) with a (3, 1) and b (1, 4) gives c (3, 4); `compute` lets numpy broadcast.
    `gradient` may return each partial adjoint in the OUTPUT's shape, written as if nothing was
    broadcast (`return out_grad, out_grad` for a + b): `gradient_as_tuple` then sums each one down
    to its input's shape with `unbroadcast` (an operand broadcast along an axis was used once per
    copy, so its adjoint is the sum of the copies' adjoints).

    Only a partial in the output's shape, for an input of another shape, is summed: any other
    shape is passed on as it is, so that a wrong shape made elsewhere (a BroadcastTo or Summation
    gradient that forgot to sum) is not repaired here.
    """

    def gradient_as_tuple(self, out_grad: Tensor, node: Tensor) -> tuple[Tensor, ...]:
        a, b = node.inputs
        if a.requires_grad and b.requires_grad:
            # Most calls: no constant input whose partial is to be deferred (see
            # Op.gradient_as_tuple), so the gradient is called directly.
            output = self.gradient(out_grad, node)
            if type(output) is not tuple or len(output) != 2:
                output = self._checked_partials(output, node)
            grad_a, grad_b = output
        else:
            grad_a, grad_b = super().gradient_as_tuple(out_grad, node)
        shape = node.shape
        a_shape, b_shape = a.shape, b.shape
        if a_shape == shape and b_shape == shape:
            return grad_a, grad_b  # nothing was broadcast (most calls)
        if a_shape != shape and isinstance(grad_a, Tensor) and grad_a.shape == shape:
            grad_a = unbroadcast(grad_a, a_shape)
        if b_shape != shape and isinstance(grad_b, Tensor) and grad_b.shape == shape:
            grad_b = unbroadcast(grad_b, b_shape)
        return grad_a, grad_b


class EWiseAdd(ElementwiseBinaryOp):
    """c = a + b;  da = g,  db = g (each summed to its input's shape by ElementwiseBinaryOp)."""

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        return a + b

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        return out_grad, out_grad


def add(a: Tensor, b: Tensor) -> Tensor:
    _check_broadcastable("add", a, b)
    return EWiseAdd()(a, b)


class AddScalar(TensorOp):
    """c = a + s;  da = g."""

    def __init__(self, scalar: float):
        self.scalar = _python_scalar(scalar)

    def compute(self, a: NDArray) -> NDArray:
        return a + self.scalar

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        return out_grad


def add_scalar(a: Tensor, scalar: float) -> Tensor:
    return AddScalar(scalar)(a)


class EWiseMul(ElementwiseBinaryOp):
    """c = a * b;  da = g * b,  db = g * a (summed to the inputs' shapes as in EWiseAdd)."""

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        return a * b

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        a, b = node.inputs
        return out_grad * b, out_grad * a


def multiply(a: Tensor, b: Tensor) -> Tensor:
    _check_broadcastable("multiply", a, b)
    return EWiseMul()(a, b)


class MulScalar(TensorOp):
    """c = a * s;  da = g * s."""

    def __init__(self, scalar: float):
        self.scalar = _python_scalar(scalar)

    def compute(self, a: NDArray) -> NDArray:
        return a * self.scalar

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        return out_grad * self.scalar


def mul_scalar(a: Tensor, scalar: float) -> Tensor:
    return MulScalar(scalar)(a)


class EWisePow(ElementwiseBinaryOp):
    """c = a ** b (elementwise);  da = g * b * a ** (b - 1),  db = g * a ** b * log(a).

    Each adjoint may be returned in the output's shape: ElementwiseBinaryOp sums it to its input's.
    """

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return array_api.power(a, b)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        ### BEGIN YOUR SOLUTION
        a, b = node.inputs
        grad_a = out_grad * b * power(a, b - 1)
        grad_b = out_grad * node * log(a)
        return grad_a, grad_b
        ### END YOUR SOLUTION


def power(a: Tensor, b: Tensor) -> Tensor:
    _check_broadcastable("power", a, b)
    return EWisePow()(a, b)


class PowerScalar(TensorOp):
    """c = a ** s for any real s;  da = g * s * a ** (s - 1)."""

    def __init__(self, scalar: float):
        self.scalar = _python_scalar(scalar)

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return a**self.scalar
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        (a,) = node.inputs
        return out_grad * self.scalar * power_scalar(a, self.scalar - 1)
        ### END YOUR SOLUTION


def power_scalar(a: Tensor, scalar: float) -> Tensor:
    return PowerScalar(scalar)(a)


class EWiseDiv(ElementwiseBinaryOp):
    """c = a / b;  da = g / b,  db = -g * a / b ** 2.

    Each adjoint may be returned in the output's shape: ElementwiseBinaryOp sums it to its input's.
    """

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return a / b
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        ### BEGIN YOUR SOLUTION
        a, b = node.inputs
        grad_a = out_grad / b
        grad_b = -(out_grad * node) / b  # -g * a / b^2, with a / b = c
        return grad_a, grad_b
        ### END YOUR SOLUTION


def divide(a: Tensor, b: Tensor) -> Tensor:
    _check_broadcastable("divide", a, b)
    return EWiseDiv()(a, b)


class DivScalar(TensorOp):
    """c = a / s;  da = g / s."""

    def __init__(self, scalar: float):
        self.scalar = _python_scalar(scalar)

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return a / self.scalar
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return out_grad / self.scalar
        ### END YOUR SOLUTION


def divide_scalar(a: Tensor, scalar: float) -> Tensor:
    return DivScalar(scalar)(a)


class Transpose(TensorOp):
    """Swap two axes: the last two by default, else the two in `axes`.

    c = swapaxes(a, i, j);  da = swapaxes(g, i, j) (a swap is its own inverse).
    """

    def __init__(self, axes: tuple[int, int] | None = None):
        self.axes = axes

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        first, second = self.axes if self.axes is not None else (-1, -2)
        return a.swapaxes(first, second)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return transpose(out_grad, self.axes)
        ### END YOUR SOLUTION


def transpose(a: Tensor, axes: tuple[int, int] | None = None) -> Tensor:
    if axes is not None and len(axes) != 2:
        raise ValueError(f"transpose: axes must name exactly two axes, got {axes}")
    if axes is None and len(a.shape) < 2:
        raise ValueError(f"transpose: needs at least 2 dimensions, got shape {a.shape}")
    return Transpose(axes)(a)


class Reshape(TensorOp):
    """c = a viewed with a new shape of the same size;  da = reshape(g, a.shape)."""

    def __init__(self, shape: Shape):
        self.shape = tuple(shape)

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return a.reshape(self.shape)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return reshape(out_grad, node.inputs[0].shape)
        ### END YOUR SOLUTION


def reshape(a: Tensor, shape: Shape) -> Tensor:
    shape = tuple(shape)
    if -1 not in shape:
        size = _size(a.shape)
        if _size(shape) != size:
            raise ValueError(f"reshape: cannot reshape {a.shape} (size {size}) to {shape}")
    return Reshape(shape)(a)


class BroadcastTo(TensorOp):
    """c = a repeated along new leading axes and along its size-1 axes to `shape`.

    da = g summed over every repeated axis, back to a.shape (this is summation in reverse).
    """

    def __init__(self, shape: Shape):
        self.shape = tuple(shape)

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        # A new array holding the copies. numpy's broadcast_to would return a view without
        # copying, but it builds that view in Python-level code, which costs more than copying
        # the small arrays a training step broadcasts.
        out = array_api.empty(self.shape, dtype=a.dtype)
        out[...] = a
        return out
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return unbroadcast(out_grad, node.inputs[0].shape)
        ### END YOUR SOLUTION


def broadcast_to(a: Tensor, shape: Shape) -> Tensor:
    shape = tuple(shape)
    if not _broadcastable(a.shape, shape):
        raise ValueError(f"broadcast_to: cannot broadcast {a.shape} to {shape}")
    return BroadcastTo(shape)(a)


class Summation(TensorOp):
    """c = sum of a over `axes` (an int, a tuple, or None for all), the summed axes dropped.

    da = g with the summed axes put back as size 1, broadcast to a.shape (broadcasting in reverse).
    The constructor (given code) stores `self.axes` as a tuple or None: `summation(a, axes=1)`
    has `self.axes == (1,)`, so compute() and gradient() only ever see a tuple of ints or None.
    """

    def __init__(self, axes: Axes = None):
        self.axes = _axes_tuple(axes)

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return a.sum(axis=self.axes)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        input_shape = node.inputs[0].shape
        if self.axes is None or self.axes == tuple(range(len(self.axes))):
            # Only leading axes summed: g's shape is already the trailing part of a's, which
            # broadcasting lines up from the last axis.
            return broadcast_to(out_grad, input_shape)
        kept_shape = list(input_shape)
        for axis in self.axes:
            kept_shape[axis] = 1
        return broadcast_to(reshape(out_grad, kept_shape), input_shape)
        ### END YOUR SOLUTION


def summation(a: Tensor, axes: Axes = None) -> Tensor:
    return Summation(axes)(a)


class MatMul(TensorOp):
    """c = a @ b, batched over leading axes that broadcast against each other.

    da = g @ b^T,  db = a^T @ g, each summed over the batch axes its input was broadcast along.
    """

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return array_api.matmul(a, b)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        ### BEGIN YOUR SOLUTION
        a, b = node.inputs
        grad_a = matmul(out_grad, transpose(b))
        grad_b = matmul(transpose(a), out_grad)
        if len(a.shape) == 2 and len(b.shape) == 2:
            return grad_a, grad_b  # no batch axes: nothing to sum
        return unbroadcast(grad_a, a.shape), unbroadcast(grad_b, b.shape)
        ### END YOUR SOLUTION


def matmul(a: Tensor, b: Tensor) -> Tensor:
    a_shape, b_shape = a.shape, b.shape
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError(f"matmul: needs at least 2 dimensions on each side: {a_shape} @ {b_shape}")
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: {a_shape} @ {b_shape}")
    if len(a_shape) > 2 or len(b_shape) > 2:
        if _broadcast_shape(a_shape[:-2], b_shape[:-2]) is None:
            raise ValueError(f"matmul: batch dimensions do not broadcast: {a_shape} @ {b_shape}")
    return MatMul()(a, b)


class Negate(TensorOp):
    """c = -a;  da = -g."""

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return -a
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return negate(out_grad)
        ### END YOUR SOLUTION


def negate(a: Tensor) -> Tensor:
    return Negate()(a)


class Log(TensorOp):
    """c = log(a) (natural);  da = g / a."""

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return array_api.log(a)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return out_grad / node.inputs[0]
        ### END YOUR SOLUTION


def log(a: Tensor) -> Tensor:
    return Log()(a)


class Exp(TensorOp):
    """c = exp(a);  da = g * exp(a) = g * c."""

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return array_api.exp(a)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return out_grad * node
        ### END YOUR SOLUTION


def exp(a: Tensor) -> Tensor:
    return Exp()(a)


class ReLU(TensorOp):
    """c = max(a, 0);  da = g * [a > 0] (the mask is a constant: its own derivative is zero)."""

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return array_api.maximum(a, 0)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        a = node.inputs[0].realize_cached_data()
        mask = Tensor.make_const((a > 0).astype(a.dtype))
        return out_grad * mask
        ### END YOUR SOLUTION


def relu(a: Tensor) -> Tensor:
    return ReLU()(a)


class Tanh(TensorOp):
    """c = tanh(a);  da = g * (1 - c ** 2)."""

    def compute(self, a: NDArray) -> NDArray:
        ### BEGIN YOUR SOLUTION
        return array_api.tanh(a)
        ### END YOUR SOLUTION

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor:
        ### BEGIN YOUR SOLUTION
        return out_grad * add_scalar(negate(node * node), 1.0)
        ### END YOUR SOLUTION


def tanh(a: Tensor) -> Tensor:
    return Tanh()(a)


def _size(shape: Shape) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _broadcastable(source: Shape, target: Shape) -> bool:
    """Whether numpy's rules broadcast `source` to exactly `target`."""
    return source == target or _broadcast_shape(source, target) == tuple(target)


def _broadcast_shape(first: Shape, second: Shape) -> Shape | None:
    """The shape numpy's rules broadcast `first` and `second` to, or None if they do not: aligned
    from the last axis, each pair of sizes equal or one of them 1 (a missing axis counts as 1)."""
    if len(first) < len(second):
        first, second = second, first
    shape = list(first)
    offset = len(first) - len(second)
    for i, size in enumerate(second):
        other = shape[offset + i]
        if other == 1:
            shape[offset + i] = size
        elif size != 1 and size != other:
            return None
    return tuple(shape)


def _check_broadcastable(name: str, a: Tensor, b: Tensor) -> None:
    """Elementwise operands must broadcast under numpy's rules: aligned from the last axis, each
    pair of sizes equal or one of them 1."""
    data_a, data_b = a.cached_data, b.cached_data
    if data_a is not None and data_b is not None and data_a.shape == data_b.shape:
        return  # the usual case, read without the `shape` properties
    a_shape, b_shape = a.shape, b.shape
    if a_shape != b_shape and _broadcast_shape(a_shape, b_shape) is None:
        raise ValueError(
            f"{name}: shapes {a_shape} and {b_shape} do not broadcast (aligned from the last "
            "axis, each pair of sizes must be equal or one of them 1)"
        )
