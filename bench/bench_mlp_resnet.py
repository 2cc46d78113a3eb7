"""`make bench`: one training epoch of MLPResNet on the digits data, needle against PyTorch.

What is compared, for both libraries:
  - the model MLPResNet(64, hidden 100, 3 blocks, BatchNorm1d, dropout 0.1), with the SAME initial
    weights (PyTorch's copy of needle's freshly initialised model, so the init scheme is identical);
  - one epoch over the 1442 training digits in batches of 100, in the SAME order
    (`np.random.seed(4); np.random.permutation(n)`, as `apps.mlp_resnet.epoch` does);
  - per batch: forward, softmax loss, backward, Adam step (lr 0.001, weight decay 0.001), and the
    error count and loss read back as Python numbers;
  - float32 throughout, one thread for BLAS (numpy's and PyTorch's) and one for PyTorch's ops.
needle's time is `apps.mlp_resnet.epoch` with `needle.data.DataLoader`; PyTorch's loop slices the
same numpy arrays and wraps them with `torch.from_numpy`. Dropout masks differ (each library draws
its own). Model creation and data loading from disk are not timed. Each time is the median of
`--runs` epochs, each on a freshly initialised model, after one warm-up epoch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions"))

import needle as ndl  # noqa: E402
from apps.mlp_resnet import MLPResNet, epoch  # noqa: E402

HIDDEN, BLOCKS, BATCH, LR, WEIGHT_DECAY = 100, 3, 100, 0.001, 0.001


def load_digits(data_dir: Path) -> ndl.data.MNISTDataset:
    images = data_dir / "train-images-idx3-ubyte.gz"
    if not images.exists():
        sys.exit(f"{images} is missing: run `make data` first")
    return ndl.data.MNISTDataset(str(images), str(data_dir / "train-labels-idx1-ubyte.gz"))


def needle_model(dim: int, seed: int):
    np.random.seed(seed)
    return MLPResNet(dim, HIDDEN, BLOCKS, num_classes=10)


def time_needle(dataset, seed: int) -> tuple[float, float, float]:
    """(seconds, error, loss) of one training epoch of a fresh needle model."""
    model = needle_model(dataset.images.shape[1], seed)
    opt = ndl.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loader = ndl.data.DataLoader(dataset, BATCH, shuffle=True)
    start = time.perf_counter()
    error, loss = epoch(loader, model, opt)
    return time.perf_counter() - start, error, loss


def to_torch(module, torch):
    """A PyTorch copy of a needle model built from Sequential, Residual, Linear, BatchNorm1d,
    LayerNorm1d, ReLU and Dropout, with the same parameters."""
    nn = torch.nn
    if isinstance(module, ndl.nn.Sequential):
        return nn.Sequential(*(to_torch(child, torch) for child in module.modules))
    if isinstance(module, ndl.nn.Residual):
        return TorchResidual(to_torch(module.fn, torch), torch)
    if isinstance(module, ndl.nn.Linear):
        linear = nn.Linear(module.in_features, module.out_features)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(module.weight.numpy().T))  # needle: (in, out)
            linear.bias.copy_(torch.from_numpy(module.bias.numpy().reshape(-1)))
        return linear
    if isinstance(module, ndl.nn.BatchNorm1d):
        return nn.BatchNorm1d(module.dim, eps=module.eps, momentum=module.momentum)
    if isinstance(module, ndl.nn.LayerNorm1d):
        return nn.LayerNorm(module.dim, eps=module.eps)
    if isinstance(module, ndl.nn.ReLU):
        return nn.ReLU()
    if isinstance(module, ndl.nn.Dropout):
        return nn.Dropout(module.p)
    raise TypeError(f"to_torch: no PyTorch counterpart for {type(module).__name__}")


def TorchResidual(fn, torch):
    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x) + x

    return Residual()


def time_torch(dataset, seed: int, torch) -> tuple[float, float, float]:
    """(seconds, error, loss) of the same epoch in PyTorch, from the same initial weights."""
    model = to_torch(needle_model(dataset.images.shape[1], seed), torch)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    images, labels = dataset.images, dataset.labels.astype(np.int64)
    n = len(labels)
    start = time.perf_counter()
    np.random.seed(4)
    order = np.random.permutation(n)
    num_errors, total_loss = 0, 0.0
    for indices in np.array_split(order, range(BATCH, n, BATCH)):
        X = torch.from_numpy(images[indices])
        y = torch.from_numpy(labels[indices])
        logits = model(X)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        num_errors += int((logits.detach().argmax(dim=1) != y).sum())
        total_loss += loss.item() * len(indices)
    return time.perf_counter() - start, num_errors / n, total_loss / n


def median_run(run, runs: int) -> tuple[float, float, float]:
    """Median time over `runs` epochs (after one warm-up), and error and loss of the last one."""
    run(seed=0)
    results = [run(seed=seed) for seed in range(runs)]
    return statistics.median(r[0] for r in results), results[-1][1], results[-1][2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "digits")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    dataset = load_digits(args.data_dir)
    try:
        import torch
    except ImportError:
        torch = None

    with threadpool_limits(limits=1):
        pools = ", ".join(
            f"{pool['internal_api']} {pool['num_threads']}" for pool in threadpool_info()
        )
        print(f"MLPResNet({dataset.images.shape[1]}, {HIDDEN}, {BLOCKS} blocks), one epoch:")
        print(f"  {len(dataset)} digits, batch {BATCH}, Adam lr {LR} wd {WEIGHT_DECAY}, float32")
        print(f"  numpy {np.__version__}; native thread pools and their threads: {pools}")
        print(f"  median of {args.runs} epochs after a warm-up, fresh model each")
        needle_time, error, loss = median_run(lambda seed: time_needle(dataset, seed), args.runs)
        print(f"needle : {needle_time * 1000:8.1f} ms   (train error {error:.4f}, loss {loss:.4f})")
        if torch is None:
            print("PyTorch is not installed (`make torch`): no comparison.")
            return 0
        torch.set_num_threads(1)
        torch_time, error, loss = median_run(
            lambda seed: time_torch(dataset, seed, torch), args.runs
        )
        print(f"PyTorch: {torch_time * 1000:8.1f} ms   (train error {error:.4f}, loss {loss:.4f})")
        print(f"  torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}")
        print(f"ratio needle / PyTorch: {needle_time / torch_time:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
