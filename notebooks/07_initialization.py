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
# # Part 7: initialization
#
# Before training, the weights are drawn at random; the scale of that draw decides whether signals
# survive a deep network. For $z = W^{\top} h$ with $n_{in}$ independent inputs of variance
# $\mathrm{Var}(h)$ and weights of variance $\sigma^2$,
#
# $$\mathrm{Var}(z) = n_{in}\, \sigma^2\, \mathrm{Var}(h) ,$$
#
# so each layer multiplies the variance by $n_{in} \sigma^2$: through many layers it explodes
# ($n_{in}\sigma^2 > 1$) or vanishes ($< 1$). ReLU zeroes half of a symmetric input, which halves
# the second moment once more. The two standard choices:
#
# - `xavier_uniform(fan_in, fan_out, gain=1.0)`: $\mathcal{U}(-a, a)$ with
#   $a = \mathrm{gain}\sqrt{6 / (n_{in} + n_{out})}$;
#   variance $\mathrm{gain}^2\, 2 / (n_{in} + n_{out})$.
# - `xavier_normal(fan_in, fan_out, gain=1.0)`: $\mathcal{N}(0, \sigma^2)$ with
#   $\sigma = \mathrm{gain}\sqrt{2 / (n_{in} + n_{out})}$; the same variance.
# - `kaiming_uniform(fan_in, fan_out, nonlinearity="relu")`: $\mathcal{U}(-b, b)$ with
#   $b = \sqrt{2}\,\sqrt{3 / n_{in}}$; variance $2 / n_{in}$.
# - `kaiming_normal(fan_in, fan_out, nonlinearity="relu")`: $\mathcal{N}(0, \sigma^2)$ with
#   $\sigma = \sqrt{2} / \sqrt{n_{in}}$; variance $2 / n_{in}$.
#
# (A uniform $\mathcal{U}(-a, a)$ has variance $a^2 / 3$.) Xavier keeps the variance of linear
# layers constant in both directions; Kaiming's extra factor 2 (the "gain" of ReLU,
# `nonlinearity="relu"`, the only one supported) compensates for the half that ReLU removes.
# Each function returns a Tensor of shape `(fan_in, fan_out)` from exactly **one** call to
# `init.rand` or `init.randn`, and passes its other keyword arguments (`dtype`, `device`,
# `requires_grad`) through.
#
# > **Your task:** `xavier_uniform`, `xavier_normal`, `kaiming_uniform`, `kaiming_normal` in
# > `hw/needle/init/init_initializers.py` (and `rand`, `randn` in `hw/needle/init/init_basic.py`).

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
# DO NOT EDIT: demonstration, the sample variance of each initializer against its formula.
with demonstration():
    np.random.seed(0)
    fan_in, fan_out = 400, 200
    expected = {
        "xavier_uniform": 2 / (fan_in + fan_out),
        "xavier_normal": 2 / (fan_in + fan_out),
        "kaiming_uniform": 2 / fan_in,
        "kaiming_normal": 2 / fan_in,
    }
    for name, variance in expected.items():
        W = getattr(init, name)(fan_in, fan_out)
        sample = W.numpy().var()
        print(f"{name:>15}: shape {W.shape}, variance {sample:.6f}, formula {variance:.6f}")

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, activation variance through a deep ReLU MLP under each initializer.
with demonstration():
    np.random.seed(0)
    width, depth = 256, 20
    weight_makers = {
        "xavier_uniform": lambda: init.xavier_uniform(width, width, dtype="float64"),
        "xavier_normal": lambda: init.xavier_normal(width, width, dtype="float64"),
        "kaiming_uniform": lambda: init.kaiming_uniform(width, width, dtype="float64"),
        "kaiming_normal": lambda: init.kaiming_normal(width, width, dtype="float64"),
        "N(0, 1)": lambda: init.randn(width, width, dtype="float64"),
    }
    x = ndl.Tensor(np.random.randn(512, width))  # float64, variance 1
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, make_weight in weight_makers.items():
        h, variances = x, []
        for _ in range(depth):
            h = ndl.relu(h @ make_weight())
            variances.append(float((h.numpy() ** 2).mean()))  # the second moment that is propagated
        last = variances[-1]
        print(f"{name:>15}: mean square of the activations after {depth} layers {last:.3g}")
        ax.plot(range(1, depth + 1), variances, marker=".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("mean square activation")
    ax.set_title(f"ReLU MLP, width {width}")
    ax.legend()
    plt.show()

# %% [markdown] deletable=false editable=false
# Under Xavier the signal halves at every ReLU layer, under $\mathcal{N}(0, 1)$ it is multiplied by
# $n_{in}/2 = 128$ per layer, and under Kaiming it keeps its scale: exactly the factor
# $n_{in} \sigma^2 / 2$ of the formula above.

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "init" of the folder needle was imported from.
_ = check("init")

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, replace ReLU by tanh (`ndl.tanh`) in the deep
# network above: which initializer keeps the signal alive then?
