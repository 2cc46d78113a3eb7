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
# # Part 8: ops with several outputs
#
# Some computations naturally produce several results at once (a split, an LSTM cell's state and
# output, a fused kernel). needle represents them with a second kind of Value, the
# **`TensorTuple`**: one graph node whose data is a tuple of arrays.
#
# - A `TensorTupleOp` (instead of a `TensorOp`) returns a `TensorTuple`; `len(t)`, `t[i]` and
#   `tuple(t)` work on it. Indexing is itself an op, **`TupleGetItem`**, so it is recorded in the
#   graph; **`MakeTensorTuple`** packs Tensors into a tuple.
# - **`FusedAddScalars(c0, c1)`** computes two outputs from one input:
#   $(y_0, y_1) = (a + c_0,\; a + c_1)$.
#
# Autodiff needs nothing new, only adjoints that are tuples too. The adjoint of a TensorTuple node
# is a TensorTuple of the adjoints of its parts; the rules are
#
# $$\texttt{TupleGetItem}(i):\ \bar t = (0, \dots, \bar y, \dots, 0)\ (\bar y \text{ at } i), \qquad
# \texttt{FusedAddScalars}:\ \bar a = \bar y_0 + \bar y_1 ,$$
#
# and when a tuple is used several times (once per `t[i]`), its partial adjoints are summed
# elementwise, just as for Tensors. These ops are given: nothing to implement here beyond the
# autodiff of Part 0, which this part exercises.

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

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, a TensorTuple and its parts.
with demonstration():
    a = ndl.Tensor(np.array([1.0, 2.0, 3.0], dtype="float32"))
    t = ndl.fused_add_scalars(a, 1.0, 10.0)
    print(type(t).__name__, "of", len(t), "parts:", [part.numpy() for part in tuple(t)])
    made_by, made_from = type(t[1].op).__name__, type(t[1].inputs[0]).__name__
    print("t[1] is a graph node made by", made_by, "from", made_from)

# %% [markdown] deletable=false editable=false
# Take $\ell = \sum_k y_{0,k}\, y_{1,k}$ with $(y_0, y_1) = (a + c_0, a + c_1)$. By the product rule
# $\bar y_0 = y_1$ and $\bar y_1 = y_0$, so
#
# $$\bar a = \bar y_0 + \bar y_1 = (a + c_1) + (a + c_0) = 2a + c_0 + c_1 .$$

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, the gradient through a TensorTuple.
with demonstration():
    a = ndl.Tensor(np.array([1.0, 2.0, 3.0], dtype="float32"))
    t = ndl.fused_add_scalars(a, 1.0, 10.0)
    loss = (t[0] * t[1]).sum()
    loss.backward()
    print("a.grad =", a.grad.numpy(), " expected 2a + c0 + c1 =", 2 * a.numpy() + 11.0)

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, make_tuple packs tensors; the gradient flows back to each.
with demonstration():
    p = ndl.Tensor(np.array([1.0, 2.0], dtype="float32"))
    q = ndl.Tensor(np.array([5.0, 7.0], dtype="float32"))
    packed = ndl.make_tuple(p, q * 2.0)
    loss = (ndl.tuple_get_item(packed, 0) * ndl.tuple_get_item(packed, 1)).sum()
    loss.backward()
    print("p.grad =", p.grad.numpy(), " expected 2q =", 2 * q.numpy())
    print("q.grad =", q.grad.numpy(), " expected 2p =", 2 * p.numpy())

# %% [markdown] deletable=false editable=false
# **A TensorTuple in the graph.** `fused_add_scalars` makes one node whose value is a tuple;
# each `t[i]` is a `TupleGetItem` node reading one part of it. After `backward()` the adjoint of
# the tuple is itself a tuple, packed by `MakeTensorTuple` from the parts' adjoints.

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the graph of sum(t[0] * t[1]) with t = fused_add_scalars(a, 1, 10).
with demonstration():
    a = ndl.Tensor(np.array([1.0, 2.0, 3.0], dtype="float32"))
    t = ndl.fused_add_scalars(a, 1.0, 10.0)
    loss = (t[0] * t[1]).sum()
    show_graph(loss, titles="before backward()")
    loss.backward()
    show_graph(loss, grads=True, titles="after backward(): the adjoint of the tuple")

# %% [markdown] deletable=false editable=false
# This part has no problem of its own: the tuple ops are given, and your `autodiff` (Part 0) is
# what carries the gradients through them; the check below grades that problem again.

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "autodiff" of the folder needle was imported from.
_ = check("autodiff")

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, use t[0] twice in a loss and check that the
# partial adjoints of the tuple are summed.
