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
# # Part 5: normalization and dropout
#
# Deep networks train more easily when the activations of each layer keep a stable scale.
# *Normalization layers* rescale activations explicitly, from statistics of the data flowing
# through them; *dropout* regularizes by randomly zeroing activations during training. All three
# layers below behave differently in training and in evaluation, which is what `module.train()` and
# `module.eval()` switch.

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
# ## BatchNorm1d (problem `batchnorm`)
#
# For a batch $x \in \mathbb{R}^{n \times d}$, **in training**, each feature $j$ is normalized with
# the statistics of the batch (over axis 0):
#
# $$\mu_j = \frac{1}{n} \sum_{i=1}^{n} x_{ij}, \qquad
# \sigma^2_j = \frac{1}{n} \sum_{i=1}^{n} (x_{ij} - \mu_j)^2, \qquad
# y_{ij} = w_j\, \frac{x_{ij} - \mu_j}{\sqrt{\sigma^2_j + \epsilon}} + b_j ,$$
#
# with the **biased** variance (divide by $n$). The learnable $w$ (ones) and $b$ (zeros) are
# Parameters of shape $(d,)$. Each training step also updates running averages, from detached
# values (`.data`: Part 1), with `momentum` $m$ weighing the **new** batch:
#
# $$\hat\mu \leftarrow (1 - m)\, \hat\mu + m\, \mu, \qquad
# \hat\sigma^2 \leftarrow (1 - m)\, \hat\sigma^2 + m\, \sigma^2 .$$
#
# `running_mean` starts at zeros and `running_var` at ones; they are plain Tensors, **not**
# Parameters (no optimizer may change them). **In evaluation** the output must not depend on the
# rest of the batch, so the running averages replace the batch statistics:
#
# $$y_{ij} = w_j\, \frac{x_{ij} - \hat\mu_j}{\sqrt{\hat\sigma^2_j + \epsilon}} + b_j .$$
#
# > **Your task:** `BatchNorm1d.__init__` and `BatchNorm1d.forward` in `hw/needle/nn/nn_basic.py`
# > (the constructors `ones` and `zeros` in `hw/needle/init/init_basic.py`).

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, in training each feature of the output has mean 0 and variance 1.
with demonstration():
    np.random.seed(0)
    x = (5.0 + 3.0 * np.random.randn(256, 4)).astype("float32")
    bn = nn.BatchNorm1d(4)
    y = bn(ndl.Tensor(x)).numpy()
    print("input  mean per feature:", x.mean(axis=0).round(2), " variance:", x.var(axis=0).round(2))
    print("output mean per feature:", y.mean(axis=0).round(4), " variance:", y.var(axis=0).round(4))
    shapes = [p.shape for p in bn.parameters()]
    print("parameters:", shapes, "(running statistics are not among them)")

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the running averages converge to the statistics of the data.
with demonstration():
    np.random.seed(0)
    bn = nn.BatchNorm1d(1, momentum=0.1)
    means, variances = [], []
    for _ in range(60):
        batch = (5.0 + 3.0 * np.random.randn(32, 1)).astype("float32")
        bn(ndl.Tensor(batch))
        means.append(bn.running_mean.numpy()[0])
        variances.append(bn.running_var.numpy()[0])

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(means, label="running_mean")
    ax.plot(variances, label="running_var")
    ax.axhline(5.0, color="gray", linestyle=":", label="mean 5; biased variance 9 * 31/32")
    ax.axhline(9.0 * 31 / 32, color="gray", linestyle=":")
    ax.set_xlabel("training step (batches of 32)")
    ax.set_title("BatchNorm1d running averages, momentum 0.1")
    ax.legend()
    plt.show()

# %% [markdown] deletable=false editable=false
# The data have mean 5 and variance 9, but `running_var` settles near $9 \cdot 31/32 \approx 8.7$:
# the biased variance of a batch of $n = 32$ has expectation $\frac{n-1}{n}\sigma^2$.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, train vs eval: does a sample's output depend on its batch?
with demonstration():
    np.random.seed(1)
    sample = np.array([[1.0, -2.0]], dtype="float32")
    others_a = np.random.randn(7, 2).astype("float32")
    others_b = (10.0 + np.random.randn(7, 2)).astype("float32")
    bn = nn.BatchNorm1d(2)
    for mode in ("train", "eval"):
        getattr(bn, mode)()
        out_a = bn(ndl.Tensor(np.concatenate([sample, others_a]))).numpy()[0]
        out_b = bn(ndl.Tensor(np.concatenate([sample, others_b]))).numpy()[0]
        print(f"{mode:>5} mode: output for the same sample in two batches: {out_a} vs {out_b}")

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "batchnorm" of the folder needle was imported from.
_ = check("batchnorm")

# %% [markdown] deletable=false editable=false
# ## LayerNorm1d (problem `layernorm`)
#
# Layer normalization normalizes each **example** over its features (axis 1), so it needs no batch
# and behaves the same in training and evaluation:
#
# $$\mu_i = \frac{1}{d} \sum_{j=1}^{d} x_{ij}, \qquad
# \sigma^2_i = \frac{1}{d} \sum_{j=1}^{d} (x_{ij} - \mu_i)^2, \qquad
# y_{ij} = w_j\, \frac{x_{ij} - \mu_i}{\sqrt{\sigma^2_i + \epsilon}} + b_j .$$
#
# The statistics have shape $(n,)$: reshape them to $(n, 1)$ before broadcasting to $(n, d)$. The
# $\epsilon$ goes inside the square root.
#
# > **Your task:** `LayerNorm1d.__init__` and `LayerNorm1d.forward` in `hw/needle/nn/nn_basic.py`.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, every row of the output has mean 0 and variance 1.
with demonstration():
    x = np.array([[1.0, 2.0, 3.0, 4.0], [100.0, 0.0, -100.0, 50.0]], dtype="float32")
    y = nn.LayerNorm1d(4)(ndl.Tensor(x)).numpy()
    print("output:\n", y.round(3))
    print("row means:", y.mean(axis=1).round(4), " row variances:", y.var(axis=1).round(4))

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "layernorm" of the folder needle was imported from.
_ = check("layernorm")

# %% [markdown] deletable=false editable=false
# ## Dropout (problem `dropout`)
#
# In training, each activation is zeroed independently with probability $p$ (the probability to
# **drop**), and the survivors are scaled up so that the expected value is unchanged:
#
# $$y = \frac{x \odot m}{1 - p}, \qquad m_{ij} \sim \mathrm{Bernoulli}(1 - p), \qquad
# \mathbb{E}[y] = x .$$
#
# Draw the mask with one call `init.randb(*x.shape, p=1 - p)`. In evaluation, dropout is the
# identity.
#
# > **Your task:** `Dropout.forward` in `hw/needle/nn/nn_basic.py` (and `randb` in
# > `hw/needle/init/init_basic.py`).

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, the fraction dropped and the mean kept.
with demonstration():
    np.random.seed(0)
    x = ndl.Tensor(np.ones((1000, 100), dtype="float32"))
    dropout = nn.Dropout(p=0.3)
    y = dropout(x).numpy()
    zeros = np.mean(y == 0)
    print(f"training: fraction of zeros {zeros:.3f} (p = 0.3), mean {y.mean():.3f} (x: 1)")
    y_eval = dropout.eval()(x).numpy()
    print("eval: the identity?", np.array_equal(y_eval, x.numpy()))

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "dropout" of the folder needle was imported from.
_ = check("dropout")

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, change BatchNorm1d's momentum in the running
# average demonstration: how fast do the curves converge, and how noisy are they?
