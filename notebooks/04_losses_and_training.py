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
# # Part 4: losses and end-to-end training
#
# Training a model needs three pieces, each one object in needle:
#
# - a **model** $h_\theta$, a `Module` (Part 3);
# - a **loss** $\ell(h_\theta(x), y)$, also a `Module`;
# - an **optimizer** that updates $\theta$ from $\nabla_\theta \ell$ (Part 6).
#
# The loop that ties them together never changes, so swapping any piece is one line.

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
# ## Two losses
#
# **Mean squared error** (`L2Loss`, for regression), averaged over all $m$ elements of the
# prediction $\hat y$:
#
# $$\ell_2(\hat y, y) = \frac{1}{m} \sum_{i} (\hat y_i - y_i)^2 .$$
#
# **Softmax (cross-entropy) loss** (`SoftmaxLoss`, for classification) of logits
# $Z \in \mathbb{R}^{n \times k}$ and integer labels $y \in \{0, \dots, k-1\}^n$, averaged over the
# batch:
#
# $$\ell_{ce}(Z, y)
# = \frac{1}{n} \sum_{i=1}^{n} \Big( \log \sum_{j=1}^{k} e^{Z_{ij}} - Z_{i, y_i} \Big)
# = \frac{1}{n} \sum_{i=1}^{n} \Big( \mathrm{LSE}(Z_i) - \sum_j Z_{ij}\, (e_{y_i})_j \Big),$$
#
# where $e_{y_i}$ is the one-hot row of label $y_i$ (`init.one_hot(k, y)`). Use the stable
# `ops.logsumexp` of Part 2, and return a 0-d Tensor (shape `()`).
#
# > **Your task:** `SoftmaxLoss.forward` and `L2Loss.forward` in `hw/needle/nn/nn_basic.py`
# > (and `one_hot` in `hw/needle/init/init_basic.py`).

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, both losses on a tiny batch, against numpy.
with demonstration():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]], dtype="float32")
    labels = np.array([0, 2])
    ce = nn.SoftmaxLoss()(ndl.Tensor(logits), ndl.Tensor(labels, requires_grad=False))
    lse = np.log(np.exp(logits).sum(axis=1))
    expected = (lse - logits[[0, 1], labels]).mean()
    print("SoftmaxLoss:", ce.numpy(), " numpy:", expected, " shape", ce.shape)

    prediction = np.array([[1.0, 2.0], [3.0, 5.0]], dtype="float32")
    target = np.zeros((2, 2), dtype="float32")
    l2 = nn.L2Loss()(ndl.Tensor(prediction), ndl.Tensor(target))
    print("L2Loss:", l2.numpy(), " numpy:", ((prediction - target) ** 2).mean())

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "softmax_loss" of the folder needle was imported from.
_ = check("softmax_loss")

# %% [markdown] deletable=false editable=false
# ## The training loop
#
# One step on a batch $(X, y)$: forget the old gradients, compute the loss, differentiate it, update
# the parameters:
#
# ```python
# opt.reset_grad()
# loss = loss_fn(model(X), y)
# loss.backward()
# opt.step()
# ```
#
# An *epoch* runs this over every batch of the training set once. The data below: three spiral
# arms in the plane, one class each (generated here, no download).

# %% deletable=false editable=false
# DO NOT EDIT: the data and the training loop (numpy and plain Python, nothing runs yet).
def spirals(n_per_class: int = 100, classes: int = 3, seed: int = 0):
    """Points on `classes` noisy spiral arms in 2-D; the label is the arm."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for label in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        angle = 4.0 * r + 2.0 * np.pi * label / classes + 0.2 * rng.standard_normal(n_per_class)
        X.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
        y.append(np.full(n_per_class, label))
    order = rng.permutation(n_per_class * classes)
    return np.concatenate(X)[order].astype("float32"), np.concatenate(y)[order].astype("uint8")


def train(model, loss_fn, opt, X, y, epochs=60, batch_size=50):
    """Train for `epochs` passes over (X, y); the mean training loss of each epoch."""
    history = []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, len(X), batch_size):
            X_batch = ndl.Tensor(X[start : start + batch_size], requires_grad=False)
            y_batch = ndl.Tensor(y[start : start + batch_size], requires_grad=False)
            opt.reset_grad()
            loss = loss_fn(model(X_batch), y_batch)
            loss.backward()
            opt.step()
            total += float(loss.numpy()) * X_batch.shape[0]
        history.append(total / len(X))
    return history


def accuracy(model, X, y):
    return float((model(ndl.Tensor(X)).numpy().argmax(axis=1) == y).mean())


X_spiral, y_spiral = spirals()
print("data:", X_spiral.shape, X_spiral.dtype, "labels:", np.bincount(y_spiral))

# %% [markdown] deletable=false editable=false
# ## Regression with `L2Loss`
#
# A `Linear(1, 1)` layer fit to $y = 3x + 1$ plus noise, with plain SGD.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, fitting a line.
with demonstration():
    np.random.seed(0)
    x_line = np.random.rand(200, 1).astype("float32")
    y_line = (3.0 * x_line + 1.0 + 0.05 * np.random.randn(200, 1)).astype("float32")
    line = nn.Linear(1, 1)
    train(line, nn.L2Loss(), optim.SGD(line.parameters(), lr=0.5), x_line, y_line, epochs=40)
    print("learned weight", line.weight.numpy().ravel(), "and bias", line.bias.numpy().ravel())

# %% [markdown] deletable=false editable=false
# ## Classification with `SoftmaxLoss`, and swapping one piece
#
# The same `train` function, three times; each run differs from the first in **one line**: the
# optimizer (SGD to Adam), or the model (an MLP to a single linear layer, which cannot separate
# spirals).

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, three training runs that differ in one line each.
def mlp():
    return nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 3))


with demonstration():
    runs = {}

    np.random.seed(1)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    runs["MLP, SGD"] = (train(model, nn.SoftmaxLoss(), opt, X_spiral, y_spiral), model)

    np.random.seed(1)
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=0.01)  # the one changed line: the optimizer
    runs["MLP, Adam"] = (train(model, nn.SoftmaxLoss(), opt, X_spiral, y_spiral), model)

    np.random.seed(1)
    model = nn.Linear(2, 3)  # the one changed line: the model
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    runs["linear, SGD"] = (train(model, nn.SoftmaxLoss(), opt, X_spiral, y_spiral), model)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, (history, model) in runs.items():
        acc = accuracy(model, X_spiral, y_spiral)
        print(f"{name:>12}: final loss {history[-1]:.3f}, training accuracy {acc:.2f}")
        ax.plot(range(1, len(history) + 1), history, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (softmax)")
    ax.set_yscale("log")
    ax.legend()
    plt.show()

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, add a hidden layer, change the batch size,
# or train the MLP with plain SGD (momentum=0.0) and compare the curves.
