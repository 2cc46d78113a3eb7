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
# # Part 6: optimizers
#
# An optimizer holds the list of parameters it trains and, at every `step()`, updates each
# parameter $w$ from its gradient $\nabla_w \ell$ = `w.grad`, through `w.data` (Part 1) so that no
# graph is recorded or kept alive. Both optimizers here support L2 weight decay $\lambda$ by adding
# it to the gradient: $g = \nabla_w \ell + \lambda w$. Never modify `w.grad` in place.

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
# ## SGD with momentum (problem `sgd`)
#
# Momentum replaces the gradient by an exponential moving average $u$ of the gradients (starting at
# $u = 0$, one $u$ per parameter):
#
# $$g = \nabla_w \ell + \lambda w, \qquad u \leftarrow \beta\, u + (1 - \beta)\, g, \qquad
# w \leftarrow w - \alpha\, u .$$
#
# With $\beta = 0$ this is plain gradient descent. Because $u$ is an *average* of gradients, this
# form of momentum does not enlarge the step by itself: it smooths the direction, which lets you use
# a larger learning rate $\alpha$ (momentum $\beta$ with rate $\alpha$ is the classic "heavy ball"
# method with rate $\alpha (1 - \beta)$).
#
# > **Your task:** `SGD.step` in `hw/needle/optim.py` (keep the velocities in the dict `self.u`).

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "sgd" of the folder needle was imported from.
_ = check("sgd")

# %% [markdown] deletable=false editable=false
# ## Adam (problem `adam`)
#
# Adam keeps moving averages of the gradient and of its elementwise square, and scales each
# coordinate's step by the inverse root of the latter. At step $t = 1, 2, \dots$ (one increment per
# `step()` call, not per parameter), with $m = v = 0$ at the start:
#
# $$\begin{aligned}
# g &= \nabla_w \ell + \lambda w, \\
# m &\leftarrow \beta_1 m + (1 - \beta_1)\, g, \qquad
# v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2, \\
# \hat m &= \frac{m}{1 - \beta_1^t}, \qquad \hat v = \frac{v}{1 - \beta_2^t}, \\
# w &\leftarrow w - \alpha\, \frac{\hat m}{\sqrt{\hat v} + \epsilon} .
# \end{aligned}$$
#
# The **bias correction** $\hat m, \hat v$ compensates for starting the averages at zero: after the
# first step $m = (1 - \beta_1) g$ is far smaller than $g$. The corrected values are used only in
# the update; `self.m` and `self.v` store the uncorrected averages.
#
# > **Your task:** `Adam.step` in `hw/needle/optim.py` (keep the step count in `self.t` and the
# > moments in the dicts `self.m`, `self.v`).

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, with bias correction the first Adam step is about lr, at any scale.
with demonstration():
    lr = 0.01
    for scale in (1e-3, 1.0, 1e3):
        w = nn.Parameter(np.zeros((1,), dtype="float32"))
        w.grad = ndl.Tensor(np.full((1,), scale, dtype="float32"))
        optim.Adam([w], lr=lr).step()
        m, v = 0.1 * scale, 0.001 * scale**2  # the uncorrected moments after one step
        uncorrected = lr * m / (np.sqrt(v) + 1e-8)
        step = -w.numpy()[0]
        print(f"gradient {scale:>7}: first step {step:.5f}, without correction {uncorrected:.5f}")

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "adam" of the folder needle was imported from.
_ = check("adam")

# %% [markdown] deletable=false editable=false
# ## Comparing the three on one problem
#
# A small MLP fits $y = \sin(3x)$ on $[-1, 1]$ with mean squared error, full batch, from the same
# initial weights for every optimizer.

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, loss curves of SGD, SGD with momentum and Adam.
def fit(make_optimizer, steps=300):
    """Loss after every full-batch step of an MLP fitting sin(3x), from a fixed initialization."""
    np.random.seed(0)
    x = np.linspace(-1.0, 1.0, 128, dtype="float32").reshape(-1, 1)
    X, y = ndl.Tensor(x), ndl.Tensor(np.sin(3.0 * x))
    model = nn.Sequential(
        nn.Linear(1, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1)
    )
    opt = make_optimizer(model.parameters())
    loss_fn = nn.L2Loss()
    history = []
    for _ in range(steps):
        opt.reset_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        history.append(float(loss.numpy()))
    return history


with demonstration():
    curves = {
        "SGD, lr 0.05": fit(lambda params: optim.SGD(params, lr=0.05)),
        "SGD, momentum 0.9, lr 0.5": fit(lambda params: optim.SGD(params, lr=0.5, momentum=0.9)),
        "Adam, lr 0.01": fit(lambda params: optim.Adam(params, lr=0.01)),
    }
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, history in curves.items():
        print(f"{name:>26}: loss after 300 steps {history[-1]:.4f}")
        ax.plot(history, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("mean squared error")
    ax.set_yscale("log")
    ax.legend()
    plt.show()

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, add weight decay, or try SGD with momentum 0.9
# at lr 0.05: is it faster than plain SGD at the same rate?
