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
# # Part 2: numerical stability
#
# Floating point numbers have a limited range: `exp` overflows `float32` for arguments above about
# 88.7 and `float64` above about 709.8. Classifiers produce *logits* $z \in \mathbb{R}^k$ and turn
# them into probabilities with the softmax
#
# $$\mathrm{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}},$$
#
# which, computed as written, fails as soon as one logit is large, although the result is a
# perfectly ordinary vector of probabilities.

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
# DO NOT EDIT: demonstration, the naive softmax overflows (numpy only).
z = np.array([1000.0, 1001.0, 1002.0])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(z) / np.exp(z).sum()
print("naive softmax of", z, "=", naive)

# %% [markdown] deletable=false editable=false
# ## The max-subtraction trick
#
# Softmax does not change when the same constant $c$ is subtracted from every logit:
#
# $$\frac{e^{z_i - c}}{\sum_j e^{z_j - c}} = \frac{e^{-c}\, e^{z_i}}{e^{-c} \sum_j e^{z_j}}
# = \mathrm{softmax}(z)_i .$$
#
# With $c = \max_j z_j$ every exponent is $\le 0$, so nothing overflows, and the largest term is
# $e^0 = 1$, so the denominator is at least 1 and nothing divides by zero.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, softmax with the maximum subtracted (numpy only).
z = np.array([1000.0, 1001.0, 1002.0])
shifted = z - z.max()
stable = np.exp(shifted) / np.exp(shifted).sum()
print("stable softmax of", z, "=", stable)
print("it sums to", stable.sum())

# %% [markdown] deletable=false editable=false
# ## LogSumExp (problem `logsumexp`)
#
# The log of the softmax denominator, $\mathrm{LSE}(z) = \log \sum_j e^{z_j}$, appears in every
# cross-entropy loss. The same trick makes it stable:
#
# $$\mathrm{LSE}(z) = \log \sum_j e^{z_j - m} + m, \qquad m = \max_j z_j ,$$
#
# exact for any $m$. Its gradient is the softmax:
#
# $$\frac{\partial\, \mathrm{LSE}(z)}{\partial z_i} = \frac{e^{z_i}}{\sum_j e^{z_j}}
# = e^{\,z_i - \mathrm{LSE}(z)} = \mathrm{softmax}(z)_i ,$$
#
# and the form $e^{z_i - \mathrm{LSE}(z)}$ is stable too, since $z_i - \mathrm{LSE}(z) \le 0$.
# `logsumexp(a, axes)` reduces over `axes` (all axes when `None`) and drops them, like `summation`.
# In the backward, $\bar y$ and $\mathrm{LSE}(z)$ therefore have the reduced shape: reshape them
# with the reduced axes kept as size 1, then broadcast them to $z$'s shape:
#
# $$\bar z = \mathrm{bc}(\bar y) \odot \exp\!\big(z - \mathrm{bc}(\mathrm{LSE}(z))\big),
# \qquad \mathrm{bc} = \text{reshape, then broadcast}.$$
#
# > **Your task:** `LogSumExp.compute` and `LogSumExp.gradient` in
# > `hw/needle/ops/ops_logarithmic.py`. The forward works on numpy arrays (`np.max` with
# > `keepdims=True` helps); the gradient uses needle ops only.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, LogSumExp stays finite, and its gradient is the softmax.
with demonstration():
    z = ndl.Tensor(np.array([[1e4, 1e4 + 1.0, 1e4 + 2.0], [-3.0, 0.0, 2.0]], dtype="float32"))
    lse = ndl.logsumexp(z, axes=(1,))
    print("logsumexp over axis 1:", lse.numpy(), "shape", lse.shape, "dtype", lse.dtype)
    lse.sum().backward()
    shifted = z.numpy() - z.numpy().max(axis=1, keepdims=True)
    softmax = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    print("z.grad =\n", z.grad.numpy())
    print("largest |z.grad - softmax(z)|:", np.abs(z.grad.numpy() - softmax).max())

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, LSE(x, 0) is a smooth maximum of x and 0.
with demonstration():
    x = np.linspace(-6.0, 6.0, 121, dtype="float32")
    pairs = ndl.Tensor(np.stack([x, np.zeros_like(x)], axis=1))
    smooth = ndl.logsumexp(pairs, axes=(1,)).numpy()

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x, np.maximum(x, 0.0), label="max(x, 0)")
    ax.plot(x, smooth, label="LSE(x, 0) = log(e^x + e^0)")
    ax.set_xlabel("x")
    ax.set_title("LogSumExp is a smooth maximum; its slope is softmax(x, 0)[0]")
    ax.legend()
    plt.show()

# %% [markdown] deletable=false editable=false
# ## LogSoftmax
#
# For a batch of logits $Z \in \mathbb{R}^{n \times k}$ (one row per example),
# `logsoftmax` works along axis 1:
#
# $$\log \mathrm{softmax}(z)_i = z_i - \mathrm{LSE}(z),$$
#
# again computed with the maximum subtracted. With $y = \log\mathrm{softmax}(z)$ and
# $\mathrm{softmax}(z) = e^{y}$, the backward is
#
# $$\bar z_i = \bar y_i - \mathrm{softmax}(z)_i \sum_j \bar y_j .$$
#
# > **Your task:** `LogSoftmax.compute` and `LogSoftmax.gradient` in
# > `hw/needle/ops/ops_logarithmic.py`.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, log-softmax of large logits (float32).
with demonstration():
    z = ndl.Tensor(np.array([[1e5, 1e5 + 1.0, 0.0], [1.0, 2.0, 3.0]], dtype="float32"))
    log_p = ndl.logsoftmax(z)
    print("log softmax =\n", log_p.numpy())
    print("each row of exp(log softmax) sums to", np.exp(log_p.numpy()).sum(axis=1))

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "logsumexp" of the folder needle was imported from.
_ = check("logsumexp")

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, try `logsumexp` with `axes=None`, with
# `axes=(0, 2)` on a 3-D tensor, or with float64 inputs around 1e10.
