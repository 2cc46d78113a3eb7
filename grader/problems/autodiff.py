"""autodiff: topological order and reverse-mode accumulation (find_topo_sort, backward).

The graphs use only ops given in the skeleton (add, add_scalar, multiply, mul_scalar and the tuple
ops), so this problem does not depend on the op problems. Relies on no other problem.
"""

from __future__ import annotations

import numpy as np

from grader.compare import equal, gradient
from grader.problems.base import Problem

_AUTOGRAD = "needle/autograd.py"
PROBLEM = Problem(
    id="autodiff",
    title="Topological sort and reverse-mode autodiff",
    points=8,
    regions=(
        (_AUTOGRAD, "compute_gradient_of_variables"),
        (_AUTOGRAD, "find_topo_sort"),
        (_AUTOGRAD, "topo_sort_dfs"),
    ),
    hint="post-order DFS, inputs left to right; sum the partial adjoints in reverse order",
)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "x1": rng.uniform(-2, 2, (3, 4)),
        "x2": rng.uniform(-2, 2, (3, 4)),
        "g": rng.standard_normal((3, 4)),
    }


def _graph(ndl, x1, x2):
    """h = 2 (x1 x2 + x1) (x1 x2) + 1: x1 used three times, c = x1 x2 twice."""
    c = ndl.multiply(x1, x2)
    d = ndl.add(c, x1)
    e = ndl.mul_scalar(d, 2.0)
    f = ndl.multiply(e, c)
    h = ndl.add_scalar(f, 1.0)
    return [x1, x2, c, d, e, f, h]


def probe(p) -> None:
    import needle as ndl
    from needle import autograd

    from grader.probe import numeric_gradient

    x1, x2, g = p.inputs["x1"], p.inputs["x2"], p.inputs["g"]

    def order(roots, nodes):
        index = {id(node): k for k, node in enumerate(nodes)}
        return [index.get(id(node), -1) for node in autograd.find_topo_sort(roots)]

    with p.step("topo"):
        nodes = _graph(ndl, ndl.Tensor(x1), ndl.Tensor(x2))
        p.put("topo", order([nodes[-1]], nodes))
    with p.step("topo_roots"):
        a, b = ndl.Tensor(x1), ndl.Tensor(x2)
        first = ndl.multiply(b, a)
        second = ndl.add(ndl.add_scalar(a, 1.0), first)
        p.put("topo_roots", order([first, second], [a, b, first, None, second]))
    with p.step("grad"):
        nodes = _graph(ndl, ndl.Tensor(x1), ndl.Tensor(x2))
        nodes[-1].backward(ndl.Tensor(g))
        p.put("grad/x1", p.array(nodes[0].grad))
        p.put("grad/x2", p.array(nodes[1].grad))
        p.put("grad/c", p.array(nodes[2].grad))
    with p.step("ones"):
        nodes = _graph(ndl, ndl.Tensor(x1), ndl.Tensor(x2))
        nodes[-1].backward()
        p.put("ones/x1", p.array(nodes[0].grad))
    with p.step("tuple"):
        a = ndl.Tensor(x1)
        pair = ndl.fused_add_scalars(a, 1.0, -2.0)
        ndl.multiply(pair[0], pair[1]).backward(ndl.Tensor(g))
        p.put("tuple/x", p.array(a.grad))
    with p.step("num"):
        p.put(
            "num/x1",
            numeric_gradient(
                lambda x: p.array(_graph(ndl, ndl.Tensor(x), ndl.Tensor(x2))[-1]), x1, g
            ),
        )
        p.put(
            "num/x2",
            numeric_gradient(
                lambda x: p.array(_graph(ndl, ndl.Tensor(x1), ndl.Tensor(x))[-1]), x2, g
            ),
        )


CHECKS = [
    equal("topological order", "topo", "order of find_topo_sort([h]) (node numbers)"),
    equal("order with two roots", "topo_roots", "order of find_topo_sort([first, second])"),
    gradient("gradient of a leaf used three times", "grad/x1", "num/x1", "x1.grad"),
    gradient("gradient of a second leaf", "grad/x2", "num/x2", "x2.grad"),
    gradient("gradient of an inner node", "grad/c", "", "c.grad (inner node)"),
    gradient("backward() with no argument uses ones", "ones/x1", "", "x1.grad"),
    gradient("gradient through a tuple op", "tuple/x", "", "x.grad through fused_add_scalars"),
]
