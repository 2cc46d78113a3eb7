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
# # Part 9: putting it together, an MLP ResNet on handwritten digits
#
# Everything so far, combined: a data set read from files and cut into batches, a residual network
# with normalization and dropout, the softmax loss, Adam with weight decay, and the training loop.
# The data are the 1,797 handwritten digits of scikit-learn (8 x 8 pixels, 10 classes), stored in
# the MNIST file format by `make data` (no download), so that the same code also reads MNIST.

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
# DO NOT EDIT: the digits files (written by `make data`; written here if they are missing).
import subprocess

DIGITS = KIT_ROOT / "data" / "digits"
FILES = {
    "train_images": DIGITS / "train-images-idx3-ubyte.gz",
    "train_labels": DIGITS / "train-labels-idx1-ubyte.gz",
    "test_images": DIGITS / "t10k-images-idx3-ubyte.gz",
    "test_labels": DIGITS / "t10k-labels-idx1-ubyte.gz",
}
if not all(path.exists() for path in FILES.values()):
    command = [sys.executable, "-m", "grader", "data", "--out", str(DIGITS)]
    print(subprocess.run(command, cwd=KIT_ROOT, check=True, capture_output=True, text=True).stdout)
for name, path in FILES.items():
    print(f"{name:>12}: {path.relative_to(KIT_ROOT)}, {path.stat().st_size} bytes")

# %% [markdown] deletable=false editable=false
# ## Data sets and the data loader (problem `data`)
#
# **The IDX format.** A gzip file holding a big-endian header of 32-bit integers, then the bytes:
# images start with the magic number 2051, the count $n$, rows and columns, then
# $n \cdot \text{rows} \cdot \text{cols}$ unsigned bytes; labels start with 2049 and $n$, then $n$
# bytes. `MNISTDataset` reads both files (`gzip.open`, `struct.unpack`, `np.frombuffer`), scales the
# images to `float32` in $[0, 1]$ (divide by 255) and flattens each image to one row; labels stay
# `uint8`. `dataset[i]` returns `(images[i], labels[i])` for an int, a slice or an index array.
#
# **Transforms** (data augmentation) act on one image of shape $(H, W, C)$:
# `RandomFlipHorizontal(p)` mirrors the width axis with probability $p$; `RandomCrop(padding)`
# shifts the image by up to `padding` pixels in each direction, filling with zeros. With
# transforms, `MNISTDataset` reshapes each image to $(H, W, 1)$, transforms it, and flattens it
# again.
#
# **`DataLoader(dataset, batch_size, shuffle)`** yields tuples of Tensors, one per field. The
# order is `np.arange(n)`, or with `shuffle` a new `np.random.permutation(n)` at every `iter()`;
# it is cut into batches with `np.array_split(order, range(batch_size, n, batch_size))`, so the
# last batch may be shorter.
#
# > **Your task:** `read_idx` (one IDX file to a uint8 array shaped as its header says),
# > `MNISTDataset.__init__`, `MNISTDataset.__getitem__`, `MNISTDataset.__len__`,
# > `DataLoader.__init__`, `DataLoader.__iter__`, `DataLoader.__next__` in
# > `hw/needle/data/data_basic.py`; `RandomFlipHorizontal.__call__` and `RandomCrop.__call__` in
# > `hw/needle/data/data_transforms.py`.

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, the first training digits, and one batch.
with demonstration():
    train_set = data.MNISTDataset(str(FILES["train_images"]), str(FILES["train_labels"]))
    images, labels = train_set[:16]
    side = int(np.sqrt(images.shape[1]))
    print(f"{len(train_set)} training images of {side} x {side} pixels ({images.dtype});")
    print(f"labels {labels.dtype}, first 16: {labels}")

    fig, axes = plt.subplots(2, 8, figsize=(8, 2.4))
    for ax, image, label in zip(axes.ravel(), images, labels, strict=True):
        ax.imshow(image.reshape(side, side), cmap="gray_r")
        ax.set_title(int(label))
        ax.axis("off")
    plt.show()

    X, y = next(iter(data.DataLoader(train_set, batch_size=32, shuffle=True)))
    kinds = type(X).__name__, type(y).__name__
    print("one batch:", kinds[0], X.shape, X.dtype, "and", kinds[1], y.shape, y.dtype)

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "data" of the folder needle was imported from.
_ = check("data")

# %% [markdown] deletable=false editable=false
# ## The MLP ResNet (problem `mlp_resnet`)
#
# A residual block keeps a shortcut around two linear layers, so that each block only has to learn
# a correction to its input:
#
# $$\mathrm{Block}(x)
# = \mathrm{ReLU}\Big(x + \mathrm{N}\big(W_2\,
#   \mathrm{Drop}(\mathrm{ReLU}(\mathrm{N}(W_1 x)))\big)\Big),$$
#
# with $\mathrm{N}$ the normalization (`BatchNorm1d` by default) and bias terms left out of the
# formula. In needle modules, with $\to$ for "then" (a `Sequential`):
#
# - `ResidualBlock(dim, hidden_dim, norm, drop_prob)`: a `Residual` around
#   [`Linear` dim $\to$ hidden_dim, `norm` of size hidden_dim, `ReLU`, `Dropout` with
#   drop_prob, `Linear` hidden_dim $\to$ dim, `norm` of size dim], followed by a `ReLU`.
# - `MLPResNet(dim, hidden_dim, num_blocks, num_classes, norm, drop_prob)`: `Linear`
#   dim $\to$ hidden_dim, `ReLU`, then num_blocks residual blocks (dim hidden_dim, hidden size
#   hidden_dim // 2), then `Linear` hidden_dim $\to$ num_classes.
#
# Create the modules in exactly this order (the seeded initial weights depend on it).
# `epoch(dataloader, model, opt=None)` runs one pass: in training mode with an optimizer, in
# evaluation mode without; it returns the error rate and the mean loss per sample.
# `train_mnist(...)` puts it all together and returns the last epoch's
# `(train error, train loss, test error, test loss)`.
#
# > **Your task:** `ResidualBlock`, `MLPResNet`, `epoch` and `train_mnist` in
# > `hw/apps/mlp_resnet.py`.

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "mlp_resnet" of the folder needle was imported from.
_ = check("mlp_resnet")

# %% [markdown] deletable=false editable=false
# ## Training on the digits
#
# A few epochs of `MLPResNet` with Adam, evaluating on the test set after each epoch.

# %% deletable=false editable=false tags=["plot"]
# DO NOT EDIT: demonstration, train and test curves of an MLPResNet on the digits.
with demonstration():
    from apps.mlp_resnet import MLPResNet, epoch

    np.random.seed(0)
    train_set = data.MNISTDataset(str(FILES["train_images"]), str(FILES["train_labels"]))
    test_set = data.MNISTDataset(str(FILES["test_images"]), str(FILES["test_labels"]))
    train_loader = data.DataLoader(train_set, batch_size=50, shuffle=True)
    test_loader = data.DataLoader(test_set, batch_size=100)
    model = MLPResNet(train_set[0][0].shape[0], hidden_dim=64, num_blocks=2, num_classes=10)
    opt = optim.Adam(model.parameters(), lr=0.002, weight_decay=0.001)

    curves = {"train loss": [], "test loss": [], "train error": [], "test error": []}
    for number in range(1, 9):
        errors_and_losses = (epoch(train_loader, model, opt), epoch(test_loader, model))
        (train_err, train_avg_loss), (test_err, test_avg_loss) = errors_and_losses
        curves["train loss"].append(train_avg_loss)
        curves["test loss"].append(test_avg_loss)
        curves["train error"].append(train_err)
        curves["test error"].append(test_err)
        print(
            f"epoch {number}: train loss {train_avg_loss:.3f}, error {train_err:.3f} | "
            f"test loss {test_avg_loss:.3f}, error {test_err:.3f}"
        )

    fig, (ax_loss, ax_error) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = range(1, len(curves["train loss"]) + 1)
    for key in ("train loss", "test loss"):
        ax_loss.plot(epochs, curves[key], marker=".", label=key)
    for key in ("train error", "test error"):
        ax_error.plot(epochs, curves[key], marker=".", label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("softmax loss")
    ax_loss.legend()
    ax_error.set_xlabel("epoch")
    ax_error.set_ylabel("error rate")
    ax_error.legend()
    plt.show()

# %% tags=["experiment"]
# YOUR EXPERIMENTS: this cell is yours. For example, train with `norm=nn.LayerNorm1d`, without
# dropout (`drop_prob=0.0`), or with augmentation:
# `data.MNISTDataset(..., transforms=[data.RandomCrop(1)])`.
