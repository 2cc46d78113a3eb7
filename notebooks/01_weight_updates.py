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
# # Part 1: weight updates without memory leaks
#
# One step of gradient descent is $w \leftarrow w - \eta\, \nabla_w \ell(w)$. Written naively in
# needle,
#
# ```python
# w = w - lr * w.grad
# ```
#
# is itself a computation on Tensors that require gradients, so needle records it: the new `w` is a
# graph node whose inputs are the old `w` and `lr * w.grad`, and `w.grad` in turn holds on to the
# graph of the backward pass, which holds the forward graph. Every step adds a layer and nothing is
# ever freed: memory grows with the number of steps, and the next `backward()` walks all of it.
#
# The fix is to update the *values* without recording anything:
#
# - `w.detach()` returns a new leaf Tensor that shares `w`'s values, has no graph and does not
#   require gradients; arithmetic on detached tensors records nothing. `w.data` returns
#   `w.detach()`.
# - Assigning `w.data = new_values` replaces `w`'s values **in place**: `w` stays the same object,
#   so an optimizer (or a Module) holding a reference to it sees the update.
#
# ```python
# w.data = w.data - lr * w.grad.data
# ```
#
# needle counts the Values alive in `needle.autograd.TENSOR_COUNTER` (incremented when a Value is
# created, decremented when it is freed); below it shows the leak. The optimizers of Part 6 (`sgd`,
# `adam`) are graded on keeping this count flat. This part has no problem of its own: it needs the
# ops and autodiff of Part 0.

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

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, live Tensors after each step of three ways to update w.
import gc


def live_tensors() -> int:
    gc.collect()  # the graph has reference cycles (node.grad refers back to the node)
    return ndl.autograd.TENSOR_COUNTER


def leaky(w, lr):
    return w - lr * w.grad


def detached(w, lr):
    return ndl.Tensor(w.detach() - lr * w.grad.detach())  # a new leaf that requires gradients


def in_place(w, lr):
    w.data = w.data - lr * w.grad.data
    return w


def live_counts(update, steps=30, lr=0.1):
    """Fit w in least squares for `steps` steps; the live Tensor count after each step."""
    np.random.seed(0)
    X = ndl.Tensor(np.random.randn(64, 5).astype("float32"), requires_grad=False)
    y = ndl.Tensor(np.random.randn(64, 1).astype("float32"), requires_grad=False)
    w = ndl.Tensor(np.zeros((5, 1), dtype="float32"))
    counts = []
    for _ in range(steps):
        loss = ((X @ w - y) ** 2).sum() / 64
        loss.backward()
        w = update(w, lr)
        counts.append(live_tensors())
    return counts


with demonstration():
    counts = {update.__name__: live_counts(update) for update in (leaky, detached, in_place)}
    for name, values in counts.items():
        steps = f"{values[0]}, {values[9]}, {values[29]}"
        print(f"{name:>9}: live Tensors after steps 1, 10, 30: {steps}")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = {
        "leaky": "w = w - lr * w.grad",
        "detached": "w = Tensor(w.detach() - lr * w.grad.detach())",
        "in_place": "w.data = w.data - lr * w.grad.data",
    }
    for name, values in counts.items():
        ax.plot(range(1, len(values) + 1), values, marker=".", label=labels[name])
    ax.set_xlabel("training step")
    ax.set_ylabel("live Tensors (TENSOR_COUNTER)")
    ax.set_title("The graph of every step stays alive unless the update is detached")
    ax.legend()
    plt.show()

# %% [markdown] deletable=false editable=false
# Both `detach()` and `.data` stop the growth. They differ in **identity**: rebuilding `w` from
# detached values makes a new Tensor, so anything that held the old `w` (an optimizer's parameter
# list, a Module attribute) keeps training a stale copy. The `.data` setter changes the values of
# the very object everyone holds, which is why optimizers and running statistics (BatchNorm,
# Part 5) update through it.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, detach() makes a new object, .data updates the same one.
with demonstration():
    w = ndl.Tensor(np.ones((3,), dtype="float32"))
    params = [w]  # what an optimizer holds
    (w * w).sum().backward()

    w_new = ndl.Tensor(w.detach() - 0.25 * w.grad.detach())
    print("after Tensor(w.detach() ...): params[0] is the updated tensor?", params[0] is w_new)

    w.data = w.data - 0.25 * w.grad.data
    print("after w.data = ...:          params[0] is the updated tensor?", params[0] is w)
    print("params[0] now holds", params[0].numpy())
    print("the update kept the dtype:", w.dtype)

# %% [markdown] deletable=false editable=false
# **The graph that grows.** Below, three steps of each update from the same start: the graph
# behind `w` after the leaky update holds every step's forward and backward pass, while after
# the in-place update `w` is still one leaf (a Parameter-like tensor with no history).

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the graph behind w after three steps of each update.
def three_steps(update, lr=0.1):
    """w after three least-squares steps with `update` (the functions defined above)."""
    np.random.seed(0)
    X = ndl.Tensor(np.random.randn(8, 3).astype("float32"), requires_grad=False)
    y = ndl.Tensor(np.random.randn(8, 1).astype("float32"), requires_grad=False)
    w = ndl.Tensor(np.zeros((3, 1), dtype="float32"))
    for _ in range(3):
        loss = ((X @ w - y) ** 2).sum() / 8
        loss.backward()
        w = update(w, lr)
    return w


with demonstration():
    show_graph(
        [three_steps(leaky), three_steps(in_place)],
        values=False,
        titles=["w = w - lr * w.grad", "w.data = w.data - lr * w.grad.data"],
    )

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, count live Tensors while you train with
# `w = w - lr * w.grad.data` (only the gradient detached): does the count stay flat?
