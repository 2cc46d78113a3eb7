"""The core of needle: a graph of Values, the ops that build it, and reverse-mode differentiation.

A Tensor is either a leaf (data, no op) or the output of an op applied to input Tensors. Calling an
op computes its output at once (eager mode) and remembers the inputs only when a gradient will be
needed.
`backward()` then runs in two phases: order the graph (`find_topo_sort`) and apply the chain rule in
reverse order (`compute_gradient_of_variables`).
"""

from __future__ import annotations

from typing import Any

import numpy

from .backend_numpy import CPUDevice, Device, NDArray, all_devices, cpu, default_device

__all__ = [
    "LAZY_MODE",
    "TENSOR_COUNTER",
    "Op",
    "TensorOp",
    "TensorTupleOp",
    "Value",
    "Tensor",
    "TensorTuple",
    "find_topo_sort",
    "compute_gradient_of_variables",
    "CPUDevice",
    "Device",
    "all_devices",
    "cpu",
    "default_device",
]

# With LAZY_MODE on, an op's output is computed only when first asked for.
LAZY_MODE = False
# The number of Values alive right now: tests read it to prove that no graph is kept alive.
TENSOR_COUNTER = 0

array_api = numpy


class Op:
    """An operator: `compute` is the forward on raw arrays, `gradient` the backward in ops."""

    def __call__(self, *args: Any) -> Value:
        raise NotImplementedError()

    def compute(self, *args: NDArray) -> NDArray:
        """The forward: output array from the input arrays."""
        raise NotImplementedError()

    def gradient(self, out_grad: Value, node: Value) -> Value | tuple[Value, ...]:
        """The partial adjoint of each input, given the adjoint `out_grad` of the output `node`.

        Built only from needle ops, so that gradients are themselves differentiable.
        """
        raise NotImplementedError()

    def gradient_as_tuple(self, out_grad: Value, node: Value) -> tuple[Value, ...]:
        """`gradient`, always as a tuple with one entry per input.

        The partial adjoint of a constant input (the data, a mask) is built lazily: it is
        computed only if its `.grad` is ever read.
        """
        inputs = node.inputs
        constant_input = False
        for x in inputs:
            if not x.requires_grad:
                constant_input = True
                break
        if constant_input:
            global LAZY_MODE
            lazy = LAZY_MODE
            LAZY_MODE = True
            try:
                output = self.gradient(out_grad, node)
            finally:
                LAZY_MODE = lazy
        else:
            output = self.gradient(out_grad, node)
        output = self._checked_partials(output, node)
        if constant_input:  # the other inputs' partials are wanted now
            for x, partial in zip(inputs, output, strict=True):
                if x.requires_grad and isinstance(partial, Value):
                    partial.realize_cached_data()
        return output

    def _checked_partials(self, output: Any, node: Value) -> tuple[Value, ...]:
        """What `gradient` returned as a tuple (one Value, or a list, allowed), or a ValueError
        if it does not have one partial adjoint per input of `node`."""
        if not isinstance(output, tuple):
            output = tuple(output) if isinstance(output, list) else (output,)
        if len(output) != len(node.inputs):
            raise ValueError(
                f"{type(self).__name__}.gradient returned {len(output)} partial adjoint(s) for "
                f"{len(node.inputs)} input(s): it must return one per input"
            )
        return output


class TensorOp(Op):
    """An op whose output is a single Tensor."""

    def __call__(self, *args: Value) -> Tensor:
        return Tensor.make_from_op(self, args)


class TensorTupleOp(Op):
    """An op whose output is a tuple of Tensors."""

    def __call__(self, *args: Value) -> TensorTuple:
        return TensorTuple.make_from_op(self, args)


class Value:
    """A node of the computational graph.

    Fields: `op` (None for a leaf), `inputs`, `cached_data` (the computed array, None until
    realized) and `requires_grad`.
    """

    op: Op | None
    inputs: list[Value]
    cached_data: Any
    requires_grad: bool

    def realize_cached_data(self) -> Any:
        """The node's array, computing it from the inputs' arrays on first use."""
        if self.cached_data is None:
            self.cached_data = self.op.compute(*[x.realize_cached_data() for x in self.inputs])
        return self.cached_data

    def is_leaf(self) -> bool:
        return self.op is None

    def __del__(self) -> None:
        global TENSOR_COUNTER
        TENSOR_COUNTER -= 1

    def _init(
        self,
        op: Op | None,
        inputs: list[Value],
        num_outputs: int = 1,
        cached_data: Any = None,
        requires_grad: bool | None = None,
    ) -> None:
        # Called for leaves and lazy nodes; the engine passes the arguments by position, which
        # Python binds faster than keywords. `make_from_op` sets the same fields itself for the
        # computed outputs of ops: a field added here must be added there too.
        global TENSOR_COUNTER
        TENSOR_COUNTER += 1
        if requires_grad is None:
            requires_grad = any(x.requires_grad for x in inputs)
        self.op = op
        self.inputs = inputs
        self.num_outputs = num_outputs
        self.cached_data = cached_data
        self.requires_grad = requires_grad

    @classmethod
    def make_const(cls, data: Any, requires_grad: bool = False) -> Value:
        """A leaf holding `data` as is (no copy)."""
        value = cls.__new__(cls)
        value._init(None, [], 1, data, requires_grad)
        return value

    @classmethod
    def make_from_op(cls, op: Op, inputs: list[Value]) -> Value:
        """`op` applied to `inputs`: computed now unless LAZY_MODE, detached if no gradient."""
        # Every op call of a training step comes through here: the one- and two-input cases,
        # nearly all of them, are spelled out, without a list of arrays to build and unpack, and
        # the fields are set here rather than through `_init` (the same fields, one call less).
        global TENSOR_COUNTER
        value = cls.__new__(cls)
        if LAZY_MODE:
            value._init(op, list(inputs))
            return value
        if len(inputs) == 2:
            a, b = inputs
            data_a, data_b = a.cached_data, b.cached_data
            data = op.compute(
                a.realize_cached_data() if data_a is None else data_a,
                b.realize_cached_data() if data_b is None else data_b,
            )
            requires_grad = a.requires_grad or b.requires_grad
        elif len(inputs) == 1:
            a = inputs[0]
            data_a = a.cached_data
            data = op.compute(a.realize_cached_data() if data_a is None else data_a)
            requires_grad = a.requires_grad
        else:
            data = op.compute(*[x.realize_cached_data() for x in inputs])
            requires_grad = any(x.requires_grad for x in inputs)
        TENSOR_COUNTER += 1
        if requires_grad:
            value.op = op
            value.inputs = list(inputs)
        else:
            # Nothing will ever differentiate through it: keep no graph behind it.
            value.op = None
            value.inputs = []
        value.num_outputs = 1
        value.cached_data = data
        value.requires_grad = requires_grad
        return value


class TensorTuple(Value):
    """A tuple of Tensors as one node: the output of ops with several outputs."""

    def __len__(self) -> int:
        return len(self.realize_cached_data())

    def __getitem__(self, index: int) -> Tensor:
        from .ops import tuple_get_item

        return tuple_get_item(self, index)

    def tuple(self) -> tuple[Tensor, ...]:
        return tuple(self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return "needle.TensorTuple" + str(self.tuple())

    def __str__(self) -> str:
        return self.__repr__()

    def __add__(self, other: TensorTuple) -> TensorTuple:
        """Elementwise sum of two tuples of the same length."""
        from .ops import make_tuple

        if not isinstance(other, TensorTuple):
            raise TypeError(f"TensorTuple + {type(other).__name__}: both must be TensorTuples")
        if len(self) != len(other):
            raise ValueError(f"TensorTuple +: lengths differ: {len(self)} and {len(other)}")
        return make_tuple(*[self[i] + other[i] for i in range(len(self))])

    def detach(self) -> TensorTuple:
        """The same arrays, cut from the graph."""
        return TensorTuple.make_const(self.realize_cached_data())


class Tensor(Value):
    """An n-dimensional array that remembers how it was computed.

    `Tensor(array, dtype=None)` keeps the input's numpy dtype (a list of Python floats gives
    float64); a Tensor argument with the same device and dtype shares its data.
    """

    grad: Tensor | None = None  # set by backward() on every node it reaches

    def __init__(
        self,
        array: Any,
        *,
        device: Device | None = None,
        dtype: Any = None,
        requires_grad: bool = True,
        **kwargs: Any,
    ) -> None:
        if isinstance(array, Tensor):
            device = device if device is not None else array.device
            dtype = dtype if dtype is not None else array.dtype
            if device == array.device and dtype == array.dtype:
                cached_data = array.realize_cached_data()
            else:
                cached_data = Tensor._array_from_numpy(array.numpy(), device=device, dtype=dtype)
        else:
            device = device if device is not None else default_device()
            cached_data = Tensor._array_from_numpy(array, device=device, dtype=dtype)
        self._init(None, [], cached_data=cached_data, requires_grad=requires_grad)

    @staticmethod
    def _array_from_numpy(numpy_array: Any, device: Device, dtype: Any) -> NDArray:
        return array_api.array(numpy_array, dtype=dtype)

    @classmethod
    def make_const(cls, data: Any, requires_grad: bool = False) -> Tensor:
        """A leaf Tensor holding `data` (a Tensor's array, or an array) without copying."""
        if isinstance(data, Tensor):
            data = data.realize_cached_data()
        value = cls.__new__(cls)
        value._init(None, [], 1, data, requires_grad)
        return value

    @property
    def data(self) -> Tensor:
        """The same array, detached from the graph: read it to update weights without a graph."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__}")
        if value.dtype != self.dtype:
            raise TypeError(
                f"Tensor.data: dtype differs: tensor {self.dtype}, new data {value.dtype}"
            )
        self.cached_data = value.realize_cached_data()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's array, with no graph and no gradient."""
        data = self.cached_data
        value = Tensor.__new__(Tensor)
        value._init(None, [], 1, self.realize_cached_data() if data is None else data, False)
        return value

    @property
    def shape(self) -> tuple[int, ...]:
        data = self.cached_data
        return (data if data is not None else self.realize_cached_data()).shape

    @property
    def dtype(self) -> numpy.dtype:
        data = self.cached_data
        return (data if data is not None else self.realize_cached_data()).dtype

    @property
    def device(self) -> Device:
        return cpu()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numpy(self) -> NDArray:
        """The values as a numpy array (also for 0-d results)."""
        return array_api.asarray(self.realize_cached_data())

    def backward(self, out_grad: Tensor | None = None) -> None:
        """Set `.grad` on every node this tensor depends on; `out_grad` defaults to ones.

        The gradient of a leaf that requires one (a parameter, an input Tensor) keeps its graph,
        so it can be differentiated again; every other node's `.grad` is stored detached.
        """
        if out_grad is None:
            ones = array_api.ones(self.shape, dtype=self.dtype)
            out_grad = Tensor(ones, device=self.device, requires_grad=False)
        compute_gradient_of_variables(self, out_grad)
        _detach_inner_gradients(self)

    def __repr__(self) -> str:
        return "needle.Tensor(" + str(self.realize_cached_data()) + ")"

    def __str__(self) -> str:
        return str(self.realize_cached_data())

    # Operators. Only + and * are reflected: `1 - t` is a TypeError, as in the course.
    def __add__(self, other: Tensor | float) -> Tensor:
        if isinstance(other, Tensor):
            return ops.add(self, other)
        return ops.add_scalar(self, other)

    def __mul__(self, other: Tensor | float) -> Tensor:
        if isinstance(other, Tensor):
            return ops.multiply(self, other)
        return ops.mul_scalar(self, other)

    def __pow__(self, other: Tensor | float) -> Tensor:
        if isinstance(other, Tensor):
            return ops.power(self, other)
        return ops.power_scalar(self, other)

    def __sub__(self, other: Tensor | float) -> Tensor:
        if isinstance(other, Tensor):
            return ops.add(self, ops.negate(other))
        return ops.add_scalar(self, -other)

    def __truediv__(self, other: Tensor | float) -> Tensor:
        if isinstance(other, Tensor):
            return ops.divide(self, other)
        return ops.divide_scalar(self, other)

    def __matmul__(self, other: Tensor) -> Tensor:
        return ops.matmul(self, other)

    def matmul(self, other: Tensor) -> Tensor:
        return ops.matmul(self, other)

    def sum(self, axes: int | tuple[int, ...] | None = None) -> Tensor:
        return ops.summation(self, axes)

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def reshape(self, shape: tuple[int, ...]) -> Tensor:
        return ops.reshape(self, shape)

    def __neg__(self) -> Tensor:
        return ops.negate(self)

    def transpose(self, axes: tuple[int, int] | None = None) -> Tensor:
        return ops.transpose(self, axes)

    __radd__ = __add__
    __rmul__ = __mul__


def compute_gradient_of_variables(output_tensor: Tensor, out_grad: Tensor) -> None:
    """Reverse-mode differentiation: set `.grad` on every node `output_tensor` depends on.

    Visit the nodes in reverse topological order. A node's adjoint is the sum of the partial
    adjoints its consumers sent it; the node then sends each input `op.gradient(adjoint, node)`.
    """
    # Partial adjoints sent to each node by the nodes that consume it.
    node_to_output_grads_list: dict[Value, list[Value]] = {output_tensor: [out_grad]}
    ### BEGIN YOUR SOLUTION
    for node in reversed(find_topo_sort([output_tensor])):
        # Every consumer of the node comes before it in this order: its list is complete.
        node.grad = sum_node_list(node_to_output_grads_list.pop(node))
        if node.is_leaf():
            continue
        partial_adjoints = node.op.gradient_as_tuple(node.grad, node)
        for input_node, partial in zip(node.inputs, partial_adjoints, strict=True):
            if input_node in node_to_output_grads_list:
                node_to_output_grads_list[input_node].append(partial)
            else:
                node_to_output_grads_list[input_node] = [partial]
    ### END YOUR SOLUTION


def find_topo_sort(node_list: list[Value]) -> list[Value]:
    """The nodes `node_list` depends on, each after all of its inputs.

    A post-order depth-first search from each node of `node_list` in turn, visiting inputs left to
    right; the exact order is part of the API.
    """
    ### BEGIN YOUR SOLUTION
    visited: set[Value] = set()
    topo_order: list[Value] = []
    for node in node_list:
        topo_sort_dfs(node, visited, topo_order)
    return topo_order
    ### END YOUR SOLUTION


def topo_sort_dfs(node: Value, visited: set[Value], topo_order: list[Value]) -> None:
    """Post-order DFS: append `node` to `topo_order` after every input it has not visited yet."""
    ### BEGIN YOUR SOLUTION
    if node in visited:
        return
    visited.add(node)
    for input_node in node.inputs:
        topo_sort_dfs(input_node, visited, topo_order)
    topo_order.append(node)
    ### END YOUR SOLUTION


def _detach_inner_gradients(output: Value) -> None:
    """Replace the `.grad` of every node behind `output`, except the leaves that require a
    gradient, by the same values without a graph.

    The gradient of an inner node is built from the nodes after it (d exp(a) = g * exp(a) uses
    the output), which lead back to the node itself: a reference cycle, which would keep the
    whole step alive until Python's cycle collector runs. Without those cycles, a step's tensors
    are freed by reference counting as soon as the loss and the leaves' gradients are dropped.
    """
    visited = {output}
    stack = [output]
    while stack:
        node = stack.pop()
        grad = getattr(node, "grad", None)
        if isinstance(grad, Value) and grad.op is not None:
            if node.op is not None:
                node.grad = grad.detach()
            elif not node.requires_grad:
                node.grad = _deferred_copy(grad)
        for input_node in node.inputs:
            if input_node not in visited:
                visited.add(input_node)
                stack.append(input_node)


def _deferred_copy(value: Value) -> Value:
    """`value` detached: its array if computed, else a copy of its lazy graph whose computed
    nodes are replaced by constants holding their arrays, so that it leads back to no node of the
    step and costs nothing until read."""
    if value.cached_data is not None:
        return type(value).make_const(value.cached_data)
    copy = type(value).__new__(type(value))
    copy._init(value.op, [_deferred_copy(x) for x in value.inputs], 1, None, False)
    return copy


def sum_node_list(node_list: list[Value]) -> Value:
    """The sum of a non-empty list of nodes, as one graph node (no leading zero added)."""
    if len(node_list) == 1:
        return node_list[0]  # the usual case: a node used once
    total = node_list[0]
    for node in node_list[1:]:
        total = total + node
    return total


# The ops module builds on the classes above, so it is imported last.
from . import ops  # noqa: E402
