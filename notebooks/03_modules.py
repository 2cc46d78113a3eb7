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
# # Part 3: modules
#
# A model is a function with parameters. needle, like PyTorch, packages the two together in a
# `Module`: a plain Python object whose attributes hold its parameters and its sub-modules, with a
# `forward` method. Three ideas make it work:
#
# 1. **`Parameter`** is a subclass of `Tensor` that only *marks* a tensor as trainable. A Module
#    may hold other tensors (BatchNorm's running statistics, Part 5) that no optimizer must touch.
# 2. **Recursive parameter discovery.** `Module.parameters()` walks the module's attributes
#    (`self.__dict__`) and collects
#    $$\mathrm{params}(v) = \begin{cases}
#    [v] & v \text{ is a Parameter}\\
#    \mathrm{params}(v.\_\_dict\_\_) & v \text{ is a Module}\\
#    \mathrm{params}(v_1) + \dots + \mathrm{params}(v_n) & v = \text{list, tuple or dict of } v_i\\
#    [\,] & \text{otherwise,}
#    \end{cases}$$
#    so a model never lists its parameters by hand, and `optim.SGD(model.parameters())` trains
#    every one of them.
# 3. **`Module.__call__`** calls `forward`, so `model(x)` reads like a function; `train()` and
#    `eval()` set the `training` flag on the whole tree of sub-modules.

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
# ## The lecture's example modules
#
# `ScaleAdd` computes $y = s\,x + b$ with two learnable scalars; `MultiPathScaleAdd` sums several
# `ScaleAdd` paths kept in a plain Python list: $y = \sum_k (s_k x + b_k)$. Neither defines
# `parameters()`. They live in `apps/lecture_modules.py`:

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, the source of the lecture's modules.
import inspect

with demonstration():
    from apps import lecture_modules

    print(inspect.getsource(lecture_modules.ScaleAdd))
    print(inspect.getsource(lecture_modules.MultiPathScaleAdd))

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, parameters are found through sub-modules and lists.
with demonstration():
    model = lecture_modules.MultiPathScaleAdd(num_paths=3)
    params = model.parameters()
    print("number of parameters:", len(params))
    print("every one is a Parameter:", all(isinstance(p, nn.Parameter) for p in params))
    print("the first is paths[0].s:", params[0] is model.paths[0].s)
    print("eval() reaches the paths:", [path.training for path in model.eval().paths])

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, calling the module runs forward; gradients reach every path.
with demonstration():
    model = lecture_modules.MultiPathScaleAdd(num_paths=2)
    x = ndl.Tensor(np.array([1.0, 2.0, 3.0], dtype="float32"))
    y = model(x)  # Module.__call__ -> forward
    print("y =", y.numpy(), "(two paths with s = 1, b = 0: y = 2x)")
    y.sum().backward()
    for i, path in enumerate(model.paths):
        print(f"path {i}: ds = {path.s.grad.numpy()} (sum x), db = {path.b.grad.numpy()} (len x)")

# %% [markdown] deletable=false editable=false
# **The module tree and its graph.** `show_module_tree(model)` draws the attributes that
# `parameters()` walks: the module, the plain list `paths`, each `ScaleAdd` and, at the leaves,
# its Parameters. `show_graph` then draws the graph of `y.sum()`: the Parameters (gold) are leaves
# of the graph like the input, and after `backward()` each box shows its gradient.

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the tree of MultiPathScaleAdd(3) that parameters() walks.
with demonstration():
    model = lecture_modules.MultiPathScaleAdd(num_paths=3)
    show_module_tree(model, "model")

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the graph of y.sum() for MultiPathScaleAdd(2), after backward().
with demonstration():
    model = lecture_modules.MultiPathScaleAdd(num_paths=2)
    x = ndl.Tensor(np.array([1.0, 2.0, 3.0], dtype="float32"))
    total = model(x).sum()
    total.backward()
    show_graph(total, titles="y.sum() with y = model(x)")

# %% [markdown] deletable=false editable=false
# ## The basic layers (problem `nn_basic`)
#
# - **`Linear(in_features, out_features, bias=True)`**: $y = x W + b$ with
#   $W \in \mathbb{R}^{\text{in} \times \text{out}}$ and $b \in \mathbb{R}^{1 \times \text{out}}$.
#   Initialise, **in this order**, `weight = kaiming_uniform(in, out)` and then
#   `bias = kaiming_uniform(out, 1)` reshaped to `(1, out)` (both Parameters). In `forward`,
#   broadcast $b$ explicitly to the output's shape (then its gradient is summed back to `(1, out)`).
#   The input may have extra leading axes, e.g. `(1, 3, in)`.
# - **`ReLU`**: $y = \max(x, 0)$ elementwise (the `relu` op).
# - **`Sequential(m_1, ..., m_k)`**: $y = m_k(\cdots m_2(m_1(x)))$; the modules are kept in the
#   tuple `self.modules`.
# - **`Flatten`**: $(B, d_1, d_2, \dots) \to (B, d_1 d_2 \cdots)$.
# - **`Residual(f)`**: $y = f(x) + x$.
# - **`Identity`**: $y = x$.
#
# `Linear.__init__` uses the initializers of Part 7 (`kaiming_uniform`), which use `init.rand`.
#
# > **Your task:** in `hw/needle/nn/nn_basic.py`: `Identity.forward`, `Linear.__init__`,
# > `Linear.forward`, `Flatten.forward`, `ReLU.forward`, `Sequential.forward`, `Residual.forward`;
# > and, in `hw/needle/init/init_basic.py`, the constructors `rand`, `randn`, `constant`, `ones`,
# > `zeros`, `ones_like`, `zeros_like` (each one numpy call: `np.random.rand`, `np.random.randn`,
# > `np.full`, ...), plus `kaiming_uniform` in `hw/needle/init/init_initializers.py`.

# %% deletable=false editable=false
# DO NOT EDIT: demonstration, a small network built from the basic layers.
with demonstration():
    np.random.seed(0)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 8),
        nn.ReLU(),
        nn.Residual(nn.Sequential(nn.Linear(8, 8), nn.ReLU())),
        nn.Linear(8, 3),
    )
    x = ndl.Tensor(np.random.randn(5, 3, 4).astype("float32"))
    y = model(x)
    print("input", x.shape, "-> output", y.shape, y.dtype)
    print("parameter shapes:", [p.shape for p in model.parameters()])
    print("parameter count:", sum(int(np.prod(p.shape)) for p in model.parameters()))

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "nn_basic" of the folder needle was imported from.
_ = check("nn_basic")

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, write a Module of your own that keeps its
# layers in a dict, and check that `parameters()` finds them.
