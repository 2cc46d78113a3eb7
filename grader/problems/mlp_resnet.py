"""mlp_resnet: ResidualBlock and MLPResNet structure, forward, epoch(), train_mnist().

To grade this problem on its own, the probe swaps in its own normalisation layer (an affine map
with the same parameters as BatchNorm1d), its own Dropout (records p, passes x through) and its
own optimizer; so a bug in batchnorm, dropout, sgd or adam costs points there, not here.
"""

from __future__ import annotations

import numpy as np

from grader.problems.base import Problem, close, equal

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
    timeout=90.0,
    hint="modules in execution order; epoch: train mode with an optimizer, eval mode without",
)
IMPORTS = ("apps.mlp_resnet",)
# The course's published parameter counts: (dim, hidden, blocks, classes) -> count.
COUNTS = ((150, 100, 5, 10), (10, 100, 1, 100))
BLOCK_COUNTS = ((15, 2), (784, 100))
# Module kinds for the structure check.
KINDS = {"Linear": 1, "ReLU": 2, "Sequential": 3, "Residual": 4, "_Dropout": 5, "_Norm": 6}


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "seed": np.array(rng.integers(0, 2**31)),
        "x": rng.uniform(-1, 1, (5, 6)).astype(np.float32),
        "batches_x": rng.uniform(-1, 1, (3, 8, 6)).astype(np.float32),
        "batches_y": rng.integers(0, 3, (3, 8)).astype(np.uint8),
        "pixels": rng.integers(0, 256, (20, 3, 4)).astype(np.uint8),
        "labels": rng.integers(0, 10, 20).astype(np.uint8),
    }


def probe(p) -> None:
    import apps.mlp_resnet as app
    import needle as ndl

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
        def __init__(self, p=0.5):
            super().__init__()
            dropout_ps.append(float(p))

        def forward(self, x):
            return x

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

    nn.Dropout = _Dropout

    def kinds(module):
        found = []

        def walk(value):
            if isinstance(value, nn.Module):
                found.append(KINDS.get(type(value).__name__, 0))
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
        model = fill(app.MLPResNet(6, 8, 2, 3, norm=_Norm), int(i["seed"]))
        p.put("forward", p.array(model(ndl.Tensor(i["x"]))))
    with p.step("epoch"):
        model = fill(app.MLPResNet(6, 8, 2, 3, norm=_Norm), int(i["seed"]) + 1)
        batches = [
            (ndl.Tensor(x, requires_grad=False), ndl.Tensor(y, requires_grad=False))
            for x, y in zip(i["batches_x"], i["batches_y"], strict=True)
        ]
        p.put("epoch/train", app.epoch(batches, model, _SGD(model.parameters())))
        p.put("epoch/train_mode", model.training)
        p.put("epoch/eval", app.epoch(batches, model))
        p.put("epoch/eval_mode", model.training)
    with p.step("train_mnist"):
        from grader.problems.data import _write_idx

        _write_idx("train-images-idx3-ubyte.gz", i["pixels"], 2051)
        _write_idx("train-labels-idx1-ubyte.gz", i["labels"], 2049)
        _write_idx("t10k-images-idx3-ubyte.gz", i["pixels"][:8], 2051)
        _write_idx("t10k-labels-idx1-ubyte.gz", i["labels"][:8], 2049)
        p.put("train_mnist", _train_mnist(app, _SGD))


def _train_mnist(app, optimizer):
    """train_mnist on the tiny files, with the probe's optimizer (which ignores weight_decay)."""

    class _Optimizer(optimizer):
        def __init__(self, params, lr=0.1, weight_decay=0.0):
            super().__init__(params, lr)

    return app.train_mnist(
        batch_size=8,
        epochs=2,
        optimizer=_Optimizer,
        lr=0.05,
        weight_decay=0.0,
        hidden_dim=6,
        data_dir=".",
    )


CHECKS = [
    equal("ResidualBlock parameter counts", "counts/blocks", "parameters of ResidualBlock"),
    equal("MLPResNet parameter counts", "counts/nets", "parameters of MLPResNet"),
    equal("module structure", "structure", "module kinds in attribute order"),
    equal("drop_prob reaches every Dropout", "structure/dropout", "Dropout probabilities"),
    close("forward with given weights", "forward", weight=2.0),
    close("epoch with an optimizer (error, loss)", "epoch/train", weight=2.0),
    equal("epoch with an optimizer uses train mode", "epoch/train_mode", "model.training"),
    close("epoch without an optimizer (error, loss)", "epoch/eval"),
    equal("epoch without an optimizer uses eval mode", "epoch/eval_mode", "model.training"),
    close("train_mnist on a tiny data set", "train_mnist", weight=2.0),
]
