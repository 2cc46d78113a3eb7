# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] deletable=false editable=false
# # Part 0: ops and reverse-mode automatic differentiation
#
# needle represents a computation as a graph. Every `Tensor` is either a *leaf* (data you made) or
# the output of an *op* applied to input Tensors; it remembers `op` and `inputs`. Each op has two
# methods:
#
# - `compute(*arrays)`: the forward, on raw numpy arrays;
# - `gradient(out_grad, node)`: the backward. Given the adjoint
#   $\bar y = \partial \ell / \partial y$ of the op's output $y$, it returns the *partial
#   adjoint* $\bar y\, \partial y / \partial x$ of every input $x$, written with needle ops (so
#   that gradients can be differentiated again).
#
# `Tensor.backward()` then orders the graph and applies the chain rule from the output back to the
# leaves. This notebook has three problems: `ops_forward`, `ops_backward` and `autodiff`.

# %% [markdown] deletable=false editable=false
# **How this notebook works.** Run the cells from top to bottom. The first code cell imports
# `needle` from your `hw/` folder. Every problem ends with a check cell, `_ = check("<problem>")`,
# that grades that one problem of your code in a separate process and prints a report whose last
# line is your score. Cells whose first line is `# DO NOT EDIT` (set-up, demonstrations, checks)
# are locked; cells that start with `# YOUR EXPERIMENTS` are yours. You write your code in the
# files under `hw/needle/` (and `hw/apps/`), not in this notebook; after an edit, just re-run the
# cells: `autoreload` reloads every changed file before each cell runs, so there is no need to
# restart the kernel. Until you implement a function, the demonstrations that need it (they run
# `with demonstration():`) stop at it with one line, `Not implemented yet: <the function> in <its
# file>`, so that Run All still reaches every check cell. A file that cannot be loaded (a syntax
# error, say) is reported with its file and line: above a cell's output if autoreload met it (the
# previous version stays in use until you fix the line), or by the set-up cell if needle could not
# be imported at all (then fix the line and re-run the set-up cell). The check cells grade your
# work in any case.

# %% deletable=false editable=false tags=["setup"]
# DO NOT EDIT: set-up. Imports needle from hw/ (NEEDLEWORK_SOLUTIONS=1: from solutions/).
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


def find_kit_root(start: Path) -> Path:
    """The first folder at or above `start` that holds both grader/ and notebooks/."""
    for folder in (start, *start.parents):
        if (folder / "grader").is_dir() and (folder / "notebooks").is_dir():
            return folder
    raise FileNotFoundError(f"no folder with grader/ and notebooks/ at or above {start}")


KIT_ROOT = find_kit_root(Path.cwd().resolve())
LIBRARY = KIT_ROOT / ("solutions" if os.environ.get("NEEDLEWORK_SOLUTIONS") == "1" else "hw")
if not (LIBRARY / "needle").is_dir():
    raise FileNotFoundError(f"needle is not in {LIBRARY}")
for path in (str(KIT_ROOT), str(LIBRARY)):  # LIBRARY ends up first on sys.path
    if path not in sys.path:
        sys.path.insert(0, path)

# %matplotlib inline

from grader.graph_view import show_graph, show_module_tree  # pictures of graphs and modules

# check grades in a separate process; demonstration: see "How this notebook works" above
from grader.notebook import check, demonstration, load_needle, start_autoreload

start_autoreload()  # %autoreload 2: the files you edit are reloaded before each cell runs
ndl, data, init, nn, optim = load_needle(LIBRARY, KIT_ROOT)  # if needle is broken: what to fix

# %% [markdown] deletable=false editable=false
# ## The graph needle records
#
# `show_graph(y)` (from the kit, not from needle) draws the graph behind a Tensor: one box per
# Tensor with its op, shape and dtype (and its values when there are few), an arrow from each
# input to the op that uses it, numbered in input order. Below, `LAZY_MODE` makes the ops only
# record their node and compute nothing until a value is asked for, so the graph exists even
# before any `compute` is written: on the untouched skeleton the boxes say which `compute` is
# missing; once the forward works they show the values.

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the graph of y = sum(exp(a * b) / 2), recorded in LAZY_MODE.
with demonstration():
    a = ndl.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype="float32"))
    b = ndl.Tensor(np.array([[0.5, -1.0], [2.0, 0.0]], dtype="float32"))
    ndl.autograd.LAZY_MODE = True  # ops record their node; compute runs when a value is needed
    try:
        y = (ndl.exp(a * b) / 2.0).sum()
    finally:
        ndl.autograd.LAZY_MODE = False
    show_graph(y, titles="y = sum(exp(a * b) / 2)")

# %% [markdown] deletable=false editable=false
# ## 0.1 The forward of every op (problem `ops_forward`)
#
# | op (class / function) | forward $y = f(a, b)$ |
# |---|---|
# | `EWiseAdd` / `add`, `AddScalar` / `add_scalar` | $a + b$, $a + c$ |
# | `EWiseMul` / `multiply`, `MulScalar` / `mul_scalar` | $a \odot b$, $c\,a$ |
# | `EWisePow` / `power`, `PowerScalar` / `power_scalar` | $a^{b}$, $a^{c}$ elementwise |
# | `EWiseDiv` / `divide`, `DivScalar` / `divide_scalar` | $a / b$, $a / c$ elementwise |
# | `Negate`, `Log`, `Exp`, `ReLU`, `Tanh` | $-a$, $\ln a$, $e^{a}$, $\max(a, 0)$, $\tanh a$ |
# | `MatMul` / `matmul` | $a\,b$ (batched: over the leading axes, with broadcasting) |
# | `Summation(axes)` | $\sum$ over `axes` (all axes when `None`); the summed axes are dropped |
# | `BroadcastTo(shape)`, `Reshape(shape)` | numpy's `broadcast_to`, `reshape` |
# | `Transpose(axes)` | swaps the two axes in `axes`; by default the **last two** |
#
# Watch the dtypes: a `float32` input must give a `float32` output. A numpy `float64` scalar
# multiplied into a `float32` array promotes the result to `float64`.
#
# > **Your task:** the `compute` method of every op class in `hw/needle/ops/ops_mathematic.py`.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration of the forward of a few ops.
with demonstration():
    a = ndl.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype="float32"))
    b = ndl.Tensor(np.array([[0.5, -1.0], [2.0, 0.0]], dtype="float32"))
    print("a + b =\n", (a + b).numpy())
    print("a @ b =\n", (a @ b).numpy())
    print("a.sum(axes=(0,)) =", a.sum(axes=(0,)).numpy())
    print("a.transpose() =\n", a.transpose().numpy())
    print("dtype of (a * 2.0) ** 0.5:", ((a * 2.0) ** 0.5).dtype)

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "ops_forward" of the folder needle was imported from.
_ = check("ops_forward")

# %% [markdown] deletable=false editable=false
# ## 0.2 The backward of every op (problem `ops_backward`)
#
# For $y = f(a, b)$ with output adjoint $\bar y$ (same shape as $y$), `gradient` returns
# $(\bar a, \bar b)$, each with the shape of its input:
#
# | op | $\bar a$ | $\bar b$ |
# |---|---|---|
# | $a + b$ | $\bar y$ | $\bar y$ |
# | $a \odot b$ | $\bar y \odot b$ | $\bar y \odot a$ |
# | $a / b$ | $\bar y / b$ | $-\bar y \odot a / b^{2}$ |
# | $a^{b}$ | $\bar y \odot b\, a^{b-1}$ | $\bar y \odot a^{b} \ln a$ |
# | $a^{c}$ | $\bar y \odot c\, a^{c-1}$ | |
# | $\ln a$, $e^{a}$ | $\bar y / a$, $\bar y \odot e^{a}$ | |
# | $\max(a, 0)$, $\tanh a$ | $\bar y \odot \mathbb{1}[a > 0]$, $\bar y \odot (1 - \tanh^2 a)$ | |
# | $a\,b$ | $\bar y\, b^{\top}$ | $a^{\top} \bar y$ |
# | $\sum_{\text{axes}} a$ | $\bar y$ reshaped (summed axes as size 1), broadcast to $a$'s shape | |
# | `broadcast_to` | $\bar y$ summed over the broadcast axes ("sum is broadcast in reverse") | |
# | `reshape`, `transpose` | $\bar y$ reshaped / transposed back | |
#
# A value that was broadcast was used once per copy, so its adjoint is the **sum** of the copies'
# adjoints. The helper `unbroadcast(grad, shape)` does this bookkeeping once, for every op that
# broadcasts (batched `matmul` too: sum over the batch axes that an input did not have).
#
# > **Your task:** `unbroadcast` and the `gradient` method of every op class in
# > `hw/needle/ops/ops_mathematic.py`.
#
# The demonstration below checks one op the way the grader does: it compares `gradient` with the
# central difference $\big(\phi(a + \epsilon e_k) - \phi(a - \epsilon e_k)\big) / 2\epsilon$ of
# $\phi(a) = \sum \bar y \odot f(a, b)$, in float64.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, the gradient of matmul against central differences.
with demonstration():
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    out_grad_np = rng.standard_normal((3, 2))

    def phi(a_values: np.ndarray) -> float:
        """sum(out_grad * (a @ b)) as a function of a, computed with needle's forward."""
        product = ndl.matmul(ndl.Tensor(a_values), ndl.Tensor(b_np)).numpy()
        return float((out_grad_np * product).sum())

    numerical = np.zeros_like(a_np)
    for k in np.ndindex(a_np.shape):
        step = np.zeros_like(a_np)
        step[k] = 1e-6
        numerical[k] = (phi(a_np + step) - phi(a_np - step)) / 2e-6

    node = ndl.matmul(ndl.Tensor(a_np), ndl.Tensor(b_np))
    grad_a, grad_b = node.op.gradient(ndl.Tensor(out_grad_np), node)
    largest = np.abs(grad_a.numpy() - numerical).max()
    print("largest |gradient - central difference| for a:", largest)

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "ops_backward" of the folder needle was imported from.
_ = check("ops_backward")

# %% [markdown] deletable=false editable=false
# ## 0.3 Reverse-mode automatic differentiation (problem `autodiff`)
#
# For the output $\ell$, the adjoint of a node $v_i$ is $\bar v_i = \partial \ell / \partial v_i$.
# A node can feed several consumers; the chain rule sums over them:
#
# $$\bar v_i = \sum_{j \in \mathrm{next}(i)} \bar v_{i \to j},
# \qquad \bar v_{i \to j} = \bar v_j \, \frac{\partial v_j}{\partial v_i},$$
#
# where $\bar v_{i \to j}$ is the partial adjoint that `gradient` of node $j$ returns for input
# $i$. So a node's adjoint is complete once every consumer has sent its part, which holds if the
# nodes are visited in **reverse topological order**:
#
# ```
# node_to_grads = {output: [out_grad]}
# for node in reversed(find_topo_sort([output])):
#     node.grad = sum of node_to_grads[node]
#     for each input i of node, with partial p from node.op.gradient(node.grad, node):
#         append p to node_to_grads[i]
# ```
#
# `find_topo_sort` is a post-order depth-first search: visit the inputs (left to right), then
# append the node. The exact order is part of the API.
#
# > **Your task:** `find_topo_sort`, `topo_sort_dfs` and `compute_gradient_of_variables` in
# > `hw/needle/autograd.py`.
#
# The demonstration: $y = \sum (x_1 \odot x_2 + e^{x_1})$ uses $x_1$ twice, so
# $\bar x_1 = x_2 + e^{x_1}$ sums two partial adjoints, and $\bar x_2 = x_1$.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, topological order and gradients of a small graph.
with demonstration():
    x1 = ndl.Tensor(np.array([0.5, 1.0, 2.0]))
    x2 = ndl.Tensor(np.array([3.0, -1.0, 0.0]))
    y = (x1 * x2 + ndl.exp(x1)).sum()
    order = ndl.autograd.find_topo_sort([y])
    print("topological order:", [type(n.op).__name__ if n.op else "leaf" for n in order])
    y.backward()
    print("x1.grad =", x1.grad.numpy(), " expected", x2.numpy() + np.exp(x1.numpy()))
    print("x2.grad =", x2.grad.numpy(), " expected", x1.numpy())

# %% [markdown] deletable=false editable=false
# **The graph before and after `backward()`.** `backward()` does not only fill in numbers: each
# adjoint is a Tensor computed with needle ops (the `gradient` methods), so `backward()` adds
# nodes to the graph (green below, each saying whose adjoint it is). Their inputs include the
# forward nodes (the adjoint of `x2` is `out_grad * x1`, made from `x1` itself), which is why a
# gradient can be differentiated again.

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the graph of y = sum(x1 * x2 + exp(x1)) before and after backward().
with demonstration():
    x1 = ndl.Tensor(np.array([0.5, 1.0, 2.0]))
    x2 = ndl.Tensor(np.array([3.0, -1.0, 0.0]))
    y = (x1 * x2 + ndl.exp(x1)).sum()
    show_graph(y, titles="before backward(): the forward graph")
    y.backward()
    show_graph(y, grads=True, titles="after backward(): the adjoint nodes it built")

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "autodiff" of the folder needle was imported from.
_ = check("autodiff")

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, build a graph of your own and compare
# x.grad with the derivative you work out by hand.
