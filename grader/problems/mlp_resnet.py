"""mlp_resnet: ResidualBlock and MLPResNet structure, forward, epoch(), train_mnist().

To grade this problem on its own, the probe swaps in its own normalisation layer (an affine map
with the same parameters as BatchNorm1d), its own Dropout (records p; in training mode a fixed mask,
so that where Dropout sits shows in the output), its own optimizer, its own SoftmaxLoss (numpy,
forward and backward), its own MNISTDataset (28 x 28 images) and DataLoader (a DataLoader: the
dataset, len() and batches in order, recording `shuffle`) and a plain seeded draw instead of
kaiming_uniform; so a bug in batchnorm, dropout, sgd, adam, softmax_loss, data or init costs points
there, not here. The model is graded by behaviour (parameter counts, outputs with given weights in
both modes, the training loop), never by how its modules are nested.

Relies on (a bug there also costs points here): nn_basic (Linear, ReLU, Sequential, Residual:
the blocks are built from them by definition), the op computes and gradients they use
(ops_forward, ops_backward) and backward() (autodiff) in the training loop.
"""

from __future__ import annotations

import contextlib

import numpy as np

from grader.compare import Verdict, close, equal
from grader.problems import nn_basic
from grader.problems.base import Check, Problem

_APP = "apps/mlp_resnet.py"
PROBLEM = Problem(
    id="mlp_resnet",
    title="MLPResNet and training loop",
    points=7,
    regions=(
        (_APP, "ResidualBlock"),
        (_APP, "MLPResNet"),
        (_APP, "epoch"),
        (_APP, "train_mnist"),
    ),
    files=(
        _APP,
        "needle/nn/__init__.py",
        "needle/nn/nn_basic.py",
        "needle/ops/ops_logarithmic.py",
        "needle/init/__init__.py",
        "needle/init/init_basic.py",
        "needle/init/init_initializers.py",
        "needle/optim.py",
        "needle/data/__init__.py",
        "needle/data/data_basic.py",
    ),
    needs=nn_basic.PROBLEM.regions + nn_basic.PROBLEM.needs,
    hint="modules in execution order; epoch: train mode with an optimizer, eval mode without",
)
IMPORTS = ("apps.mlp_resnet",)
# The course's published parameter counts: (dim, hidden, blocks, classes) -> count.
COUNTS = ((150, 100, 5, 10), (10, 100, 1, 100))
BLOCK_COUNTS = ((15, 2), (784, 100))
# Layer kinds, for the hint on a failed forward (the probe's stand-ins are named after what they
# stand for); containers (Sequential) and modules without a computation (Flatten, Identity) are
# left out, so that nesting or an extra Flatten changes nothing.
KINDS = {"Linear": 1, "ReLU": 2, "Residual": 4, "_Dropout": 5, "_Norm": 6}
KIND_NAMES = {0: "other", 1: "Linear", 2: "ReLU", 4: "Residual", 5: "Dropout", 6: "norm"}
SKIPPED_KINDS = ("Sequential", "Flatten", "Identity")
# train_mnist's stand-in data: 28 x 28 images, as the spec fixes (a model of 784 inputs), in whole
# batches, so that a mean of batch means and a per-sample mean are the same number.
IMAGE = (28, 28)
TRAIN_IMAGES, TEST_IMAGES, BATCH = 24, 8, 8


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "seed": np.array(rng.integers(0, 2**31)),
        "x": rng.uniform(-1, 1, (5, 6)).astype(np.float32),
        "batches_x": rng.uniform(-1, 1, (3, 8, 6)).astype(np.float32),
        "batches_y": rng.integers(0, 3, (3, 8)).astype(np.uint8),
        "pixels": rng.integers(0, 256, (TRAIN_IMAGES, *IMAGE)).astype(np.uint8),
        "labels": rng.integers(0, 10, TRAIN_IMAGES).astype(np.uint8),
    }


def fixed_mask(shape: tuple[int, ...]) -> np.ndarray:
    """The probe's Dropout mask in training mode: every fourth element dropped, by position."""
    return (np.arange(int(np.prod(shape))).reshape(shape) % 4 != 3).astype(np.float32)


def probe(p) -> None:
    import apps.mlp_resnet as app
    import needle as ndl

    from grader.problems import stand_ins

    nn, i = ndl.nn, p.inputs
    dropout_ps: list[float] = []

    class _Norm(nn.Module):
        """An affine map with BatchNorm1d's parameters: w * x + b."""

        def __init__(self, dim, *args, **kwargs):
            super().__init__()
            self.weight = nn.Parameter(ndl.Tensor(np.ones(dim, np.float32)))
            self.bias = nn.Parameter(ndl.Tensor(np.zeros(dim, np.float32)))

        def forward(self, x):
            return x * self.weight.broadcast_to(x.shape) + self.bias.broadcast_to(x.shape)

    class _Dropout(nn.Module):
        """Training: x * fixed_mask / (1 - p) (so where Dropout sits shows); eval: x."""

        def __init__(self, p=0.5):
            super().__init__()
            self.p = float(p)
            dropout_ps.append(self.p)

        def forward(self, x):
            scale = fixed_mask(x.shape) / np.float32(1 - self.p)
            masked = x * ndl.Tensor(scale.astype(np.float32), requires_grad=False)
            return masked if self.training else x

    class _SGD:
        def __init__(self, params, lr=0.1):
            self.params, self.lr = params, lr

        def reset_grad(self):
            for param in self.params:
                param.grad = None

        def step(self):
            for param in self.params:
                update = param.grad.numpy().astype(np.float32) * np.float32(self.lr)
                param.data = ndl.Tensor(param.numpy() - update)

    # ResidualBlock and MLPResNet bind the default norm when the app is imported.
    for function in (getattr(app, "ResidualBlock", None), getattr(app, "MLPResNet", None)):
        defaults = getattr(function, "__defaults__", None) or ()
        with contextlib.suppress(AttributeError, TypeError):
            function.__defaults__ = tuple(
                _Norm if value is nn.BatchNorm1d else value for value in defaults
            )
    stand_ins.install(nn, "BatchNorm1d", _Norm)
    stand_ins.install(nn, "Dropout", _Dropout)
    stand_ins.install(nn, "SoftmaxLoss", stand_ins.softmax_loss_module(ndl))
    stand_ins.use_plain_weights(ndl)

    def kinds(module):
        """The layers met walking the model (attributes in order, depth first)."""
        found = []

        def walk(value):
            if isinstance(value, nn.Module):
                name = type(value).__name__
                if name not in SKIPPED_KINDS:
                    found.append(KINDS.get(name, 0))
                for item in value.__dict__.values():
                    walk(item)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    walk(item)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)

        walk(module)
        return found

    def fill(model, seed):
        rng = np.random.default_rng(seed)
        for param in model.parameters():
            param.data = ndl.Tensor(rng.uniform(-0.5, 0.5, param.shape).astype(np.float32))
        return model

    def count(model):
        return sum(int(np.prod(param.shape)) for param in model.parameters())

    with p.step("counts"):
        p.put(
            "counts/blocks", [count(app.ResidualBlock(d, h, norm=_Norm)) for d, h in BLOCK_COUNTS]
        )
        p.put("counts/nets", [count(app.MLPResNet(*c, norm=_Norm)) for c in COUNTS])
    with p.step("structure"):
        dropout_ps.clear()
        model = app.MLPResNet(6, 8, num_blocks=2, num_classes=3, norm=_Norm, drop_prob=0.25)
        p.put("structure", kinds(model))
        p.put("structure/dropout", dropout_ps)
    with p.step("forward"):
        model = fill(app.MLPResNet(6, 8, 2, 3, norm=_Norm, drop_prob=0.25), int(i["seed"]))
        model.train()
        p.put("forward", p.array(model(ndl.Tensor(i["x"]))))
        model.eval()
        p.put("forward/eval", p.array(model(ndl.Tensor(i["x"]))))
    with p.step("epoch"):
        model = fill(app.MLPResNet(6, 8, 2, 3, norm=_Norm), int(i["seed"]) + 1)
        base = ndl.data.DataLoader
        loader = stand_ins.batches_loader(ndl, i["batches_x"], i["batches_y"], base)
        p.put("epoch/train", app.epoch(loader, model, _SGD(model.parameters())))
        p.put("epoch/train_mode", model.training)
        p.put("epoch/eval", app.epoch(loader, model))
        p.put("epoch/eval_mode", model.training)
    with p.step("train_mnist"):
        shuffles: list[bool] = []
        dataset, loader = _data_stand_ins(ndl, i, shuffles)
        stand_ins.install(ndl.data, "MNISTDataset", dataset)
        stand_ins.install(ndl.data, "DataLoader", loader)
        p.put("train_mnist", _train_mnist(app, _SGD))
        p.put("train_mnist/shuffle", shuffles)


# The files train_mnist must open, and the part of the case each one stands for.
FILES = {
    "train-images-idx3-ubyte.gz": ("pixels", slice(None)),
    "train-labels-idx1-ubyte.gz": ("labels", slice(None)),
    "t10k-images-idx3-ubyte.gz": ("pixels", slice(0, TEST_IMAGES)),
    "t10k-labels-idx1-ubyte.gz": ("labels", slice(0, TEST_IMAGES)),
}


def _data_stand_ins(ndl, inputs, shuffles):
    """An MNISTDataset that serves the case's arrays for the four file names (flattened float32
    images in [0, 1]) and a DataLoader that batches in order and records its `shuffle` flag."""
    import os

    from grader.problems import stand_ins

    def part(path):
        name = os.path.basename(str(path))
        if name not in FILES:
            raise FileNotFoundError(f"train_mnist opened {name!r}; expected one of {sorted(FILES)}")
        key, rows = FILES[name]
        return inputs[key][rows]

    class MNISTDataset(ndl.data.Dataset):
        def __init__(self, image_filename, label_filename, transforms=None):
            pixels = part(image_filename)
            self.images = pixels.reshape(len(pixels), -1).astype(np.float32) / np.float32(255)
            self.labels = part(label_filename).astype(np.uint8)

        def __getitem__(self, index):
            return self.images[index], self.labels[index]

        def __len__(self):
            return len(self.labels)

    base = ndl.data.DataLoader  # the student's class, before the stand-in replaces it

    def loader(dataset, batch_size=1, shuffle=False):
        shuffles.append(bool(shuffle))
        return stand_ins.dataset_loader(ndl, dataset, batch_size, base)

    return MNISTDataset, loader


def _train_mnist(app, optimizer):
    """train_mnist on the tiny files, with the probe's optimizer (which ignores weight_decay)."""

    class _Optimizer(optimizer):
        def __init__(self, params, lr=0.1, weight_decay=0.0):
            super().__init__(params, lr)

    return app.train_mnist(
        batch_size=BATCH,
        epochs=2,
        optimizer=_Optimizer,
        lr=0.05,
        weight_decay=0.0,
        hidden_dim=6,
        data_dir=".",
    )


_EPOCH = "(error rate, average loss per sample)"


def _kind_names(values, start: int, stop: int) -> str:
    names = [KIND_NAMES.get(int(v), "other") for v in values[start:stop]]
    return ("... " if start > 0 else "") + ", ".join(names) + (" ..." if stop < len(values) else "")


def layer_order(got: dict, expected: dict, reveal: bool) -> str:
    """Where the student's layers, in the order they are built, differ from the spec's ("" when
    they do not or are unknown): a hint for a failed forward, never a check of its own (nesting,
    containers and modules without a computation are left out)."""
    if "structure" not in got or "structure" not in expected:
        return ""
    mine = [int(v) for v in np.asarray(got["structure"]).reshape(-1)]
    wanted = [int(v) for v in np.asarray(expected["structure"]).reshape(-1)]
    if mine == wanted:
        return ""
    first = next(
        (k for k, (a, b) in enumerate(zip(mine, wanted, strict=False)) if a != b),
        min(len(mine), len(wanted)),
    )
    if not reveal:
        return f"; hint: the layers in the order they are built differ from the spec at {first}"
    start, stop = max(0, first - 3), first + 4
    return (
        f"; hint: the layers in the order they are built differ at position {first} "
        f"(of {len(wanted)}): expected {_kind_names(wanted, start, stop)}; yours "
        f"{_kind_names(mine, start, stop)}; create the modules in the order they run (the "
        "formulas at the top of the file)"
    )


def forward(name: str, output: str, weight: float = 1.0) -> Check:
    """`close` on a model output, with the layer order as a hint when it fails."""
    plain = close(name, output, weight=weight)

    def judge(got: dict, expected: dict, reveal: bool) -> None:
        try:
            plain.judge(got, expected, reveal)
        except Verdict as verdict:
            raise Verdict(f"{verdict}{layer_order(got, expected, reveal)}") from None

    return Check(name, (output,), judge, weight)


CHECKS = [
    equal("ResidualBlock parameter counts", "counts/blocks", "parameters of ResidualBlock"),
    equal("MLPResNet parameter counts", "counts/nets", "parameters of MLPResNet"),
    equal("drop_prob reaches every Dropout", "structure/dropout", "Dropout probabilities"),
    forward("forward with given weights, training mode (a fixed Dropout mask)", "forward", 2.0),
    forward("forward with given weights, eval mode", "forward/eval"),
    close("epoch with an optimizer (error, loss)", "epoch/train", _EPOCH, weight=2.0),
    equal(
        "epoch with an optimizer uses train mode",
        "epoch/train_mode",
        "model.training after epoch(batches, model, opt)",
        hint="call model.train() when an optimizer is given",
    ),
    close("epoch without an optimizer (error, loss)", "epoch/eval", _EPOCH),
    equal(
        "epoch without an optimizer uses eval mode",
        "epoch/eval_mode",
        "model.training after epoch(batches, model)",
        hint="call model.eval() when opt is None",
    ),
    close(
        "train_mnist on a tiny data set",
        "train_mnist",
        "(train error, train loss, test error, test loss)",
        weight=2.0,
    ),
    equal("train_mnist shuffles the training set only", "train_mnist/shuffle", "shuffle flags"),
]
