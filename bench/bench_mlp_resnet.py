"""`make bench`: one training epoch of MLPResNet, needle against PyTorch, on two data sets.

The cases:
  - digits: the 1442 training digits of `make data` (8x8 = 64 inputs);
  - mnist:  10,000 MNIST-shaped images (28x28 = 784 inputs), the first 10,000 of real MNIST when
    its gzip files are in `--mnist-dir`, else synthetic ones (uniform pixels in [0, 1), random
    labels; nothing is downloaded). The arithmetic, and so the timing, is the same for both.
What is compared, for both libraries, in each case:
  - the model MLPResNet(dim, hidden 100, 3 blocks, BatchNorm1d, dropout 0.1), with the SAME initial
    weights (PyTorch's copy of needle's freshly initialised model, so the init scheme is identical);
  - one epoch in batches of 100, in the SAME order (`np.random.seed(4); np.random.permutation(n)`,
    as `apps.mlp_resnet.epoch` does);
  - per batch: forward, softmax loss, backward, Adam step (lr 0.001, weight decay 0.001), and the
    error count and loss read back as Python numbers;
  - float32 throughout, one thread for BLAS (numpy's OpenBLAS, PyTorch's MKL) and for PyTorch's ops.
needle's time is `apps.mlp_resnet.epoch` with `needle.data.DataLoader`; PyTorch's loop slices the
same numpy arrays and wraps them with `torch.from_numpy`. Dropout masks differ (each library draws
its own). Model creation and data loading from disk are not timed. Each timed epoch starts
after a `gc.collect()`: with PyTorch loaded the process holds nearly 300,000 objects, and a full
collection of them that falls inside an epoch costs 50-150 ms, whichever library it hits. Each
time is the median of `--runs` epochs, each on a freshly initialised model, after one warm-up
epoch; needle's and PyTorch's runs alternate, so that a load on the machine hits both alike.
Both the wall time and the process's CPU time are reported: on a machine shared with other work,
the CPU time (the time the process actually ran) is the steadier of the two.

Where the time goes: one more epoch of each library is timed phase by phase (forward and loss,
zeroing the gradients, backward, optimizer step), in milliseconds per training step, with the
ratio of each phase; the clock calls add a little to every phase. One more needle epoch clocks
every op's `compute` (the numpy arithmetic of the forward and the backward), to show how much of
each phase is arithmetic and how much is Python around it.

For needle, two more (untimed) epochs of each case are instrumented, with Python's cycle collector
on and off: the Tensors made per training step, the peak memory numpy and Python allocate during
one step (tracemalloc), the live Tensors after each step (with the collector off they stay flat
only if the graph of a step is freed by reference counting) and how many Tensors a final
`gc.collect()` frees (those only reference cycles kept alive).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
# --library DIR: the folder holding needle/ and apps/ (default solutions/), e.g. a checkout of an
# older commit to compare against; read before needle is imported.
_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--library", type=Path, default=ROOT / "solutions")
LIBRARY = _early.parse_known_args()[0].library.resolve()
sys.path.insert(0, str(LIBRARY))

import needle as ndl  # noqa: E402
from apps.mlp_resnet import MLPResNet, epoch  # noqa: E402
from needle import autograd  # noqa: E402

HIDDEN, BLOCKS, BATCH, LR, WEIGHT_DECAY = 100, 3, 100, 0.001, 0.001
MNIST_IMAGES = 10_000


@dataclass
class Case:
    name: str
    description: str
    dataset: ndl.data.Dataset
    images: np.ndarray  # (n, dim) float32
    labels: np.ndarray  # (n,) uint8


def mnist_files(folder: Path) -> tuple[Path, Path]:
    return folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"


def digits_case(data_dir: Path) -> Case:
    images, labels = mnist_files(data_dir)
    if not images.exists():
        sys.exit(f"{images} is missing: run `make data` first")
    dataset = ndl.data.MNISTDataset(str(images), str(labels))
    return Case("digits", f"{len(dataset)} digits of 8x8", dataset, dataset.images, dataset.labels)


def mnist_case(mnist_dir: Path) -> Case:
    images_file, labels_file = mnist_files(mnist_dir)
    if images_file.exists() and labels_file.exists():
        full = ndl.data.MNISTDataset(str(images_file), str(labels_file))
        images, labels = full.images[:MNIST_IMAGES], full.labels[:MNIST_IMAGES]
        description = f"the first {len(labels)} MNIST images of {mnist_dir}"
    else:
        rng = np.random.default_rng(0)
        images = rng.random((MNIST_IMAGES, 28 * 28), dtype=np.float32)
        labels = rng.integers(0, 10, MNIST_IMAGES).astype(np.uint8)
        description = f"{MNIST_IMAGES} synthetic 28x28 images (no MNIST files in {mnist_dir})"
    return Case("mnist", description, ndl.data.NDArrayDataset(images, labels), images, labels)


def needle_model(dim: int, seed: int):
    np.random.seed(seed)
    return MLPResNet(dim, HIDDEN, BLOCKS, num_classes=10)


def needle_setup(case: Case, seed: int):
    model = needle_model(case.images.shape[1], seed)
    opt = ndl.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    return model, opt, ndl.data.DataLoader(case.dataset, BATCH, shuffle=True)


def time_needle(case: Case, seed: int) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, error, loss) of one training epoch of a fresh needle model."""
    model, opt, loader = needle_setup(case, seed)
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    error, loss = epoch(loader, model, opt)
    return time.perf_counter() - start, time.process_time() - start_cpu, error, loss


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


def time_torch(case: Case, seed: int, torch) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, error, loss) of the same epoch in PyTorch, from the same
    initial weights."""
    model = to_torch(needle_model(case.images.shape[1], seed), torch)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    images, labels = case.images, case.labels.astype(np.int64)
    n = len(labels)
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
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
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return wall, cpu, num_errors / n, total_loss / n


def alternate(runs: dict, repeats: int) -> dict[str, tuple[float, float, float, float]]:
    """Per library: median wall and CPU time over `repeats` epochs (after one warm-up each, the
    libraries taking turns), and the error and loss of its last epoch."""
    for run in runs.values():
        run(seed=0)
    results: dict[str, list] = {name: [] for name in runs}
    for seed in range(repeats):
        for name, run in runs.items():
            results[name].append(run(seed=seed))
    return {
        name: (
            statistics.median(r[0] for r in rs),
            statistics.median(r[1] for r in rs),
            rs[-1][2],
            rs[-1][3],
        )
        for name, rs in results.items()
    }


PHASES = ("forward + loss", "zero gradients", "backward", "optimizer step")


class PhaseTimes:
    """The time of each of PHASES, added up over training steps."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(PHASES, 0.0)
        self.steps = 0

    def add(self, readings: tuple[float, ...]) -> None:
        """One step: a clock reading before its first phase and one after each phase."""
        for phase, begin, end in zip(PHASES, readings[:-1], readings[1:], strict=True):
            self.totals[phase] += end - begin
        self.steps += 1

    def ms_per_step(self) -> dict[str, float]:
        return {phase: total / self.steps * 1000 for phase, total in self.totals.items()}


@contextlib.contextmanager
def clocked_computes():
    """While active, the seconds spent inside every needle op's `compute` (its numpy arithmetic)
    add up in the yielded one-element list."""
    spent = [0.0]
    clock = time.perf_counter
    classes, pending = set(), [autograd.Op]
    while pending:
        cls = pending.pop()
        classes.add(cls)
        pending.extend(cls.__subclasses__())
    originals = {cls: cls.__dict__["compute"] for cls in classes if "compute" in cls.__dict__}

    def clocked(compute):
        def timed(self, *arrays):
            start = clock()
            try:
                return compute(self, *arrays)
            finally:
                spent[0] += clock() - start

        return timed

    for cls, compute in originals.items():
        cls.compute = clocked(compute)
    try:
        yield spent
    finally:
        for cls, compute in originals.items():
            cls.compute = compute


def needle_phases(case: Case, spent: list[float] | None = None) -> dict[str, float]:
    """Milliseconds per training step spent in each of PHASES over one needle epoch (the loop of
    `apps.mlp_resnet.epoch`, with a clock read between the phases). Given the list of
    `clocked_computes`, the milliseconds per step spent inside op computes in each phase instead."""
    model, opt, loader = needle_setup(case, seed=0)
    model.train()
    loss_fn = ndl.nn.SoftmaxLoss()
    np.random.seed(4)
    times = PhaseTimes()
    clock = time.perf_counter if spent is None else (lambda: spent[0])
    gc.collect()
    for X, y in loader:
        start = clock()
        logits = model(X)
        loss = loss_fn(logits, y)
        forward = clock()
        opt.reset_grad()
        zeroed = clock()
        loss.backward()
        backward = clock()
        opt.step()
        stepped = clock()
        int((logits.numpy().argmax(axis=1) != y.numpy()).sum())
        float(loss.numpy())
        times.add((start, forward, zeroed, backward, stepped))
    return times.ms_per_step()


def torch_phases(case: Case, torch) -> dict[str, float]:
    """The same as `needle_phases` for PyTorch's loop of `time_torch`."""
    model = to_torch(needle_model(case.images.shape[1], 0), torch)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    images, labels = case.images, case.labels.astype(np.int64)
    np.random.seed(4)
    order = np.random.permutation(len(labels))
    times = PhaseTimes()
    clock = time.perf_counter
    gc.collect()
    for indices in np.array_split(order, range(BATCH, len(labels), BATCH)):
        X = torch.from_numpy(images[indices])
        y = torch.from_numpy(labels[indices])
        start = clock()
        logits = model(X)
        loss = torch.nn.functional.cross_entropy(logits, y)
        forward = clock()
        opt.zero_grad()
        zeroed = clock()
        loss.backward()
        backward = clock()
        opt.step()
        stepped = clock()
        int((logits.detach().argmax(dim=1) != y).sum())
        loss.item()
        times.add((start, forward, zeroed, backward, stepped))
    return times.ms_per_step()


def report_phases(case: Case, torch) -> None:
    needle_ms = needle_phases(case)
    with clocked_computes() as spent:
        compute_ms = needle_phases(case, spent)
    torch_ms = torch_phases(case, torch) if torch is not None else None
    print("  per training step, by phase (one more epoch each). `in computes`: the part of")
    print("  needle's time inside op computes, its numpy arithmetic (clocked in another epoch);")
    print("  the rest is Python (op dispatch, graph, gradient code), except in the optimizer")
    print("  step, which calls numpy itself:")
    header = f"    {'':16s}{'needle':>10s}{'in computes':>13s}"
    if torch_ms is not None:
        header += f"{'PyTorch':>10s}{'ratio':>8s}"
    print(header)
    for phase in (*PHASES, "total"):
        mine, arithmetic = (
            sum(ms.values()) if phase == "total" else ms[phase] for ms in (needle_ms, compute_ms)
        )
        line = f"    {phase:16s}{mine:7.3f} ms{arithmetic:10.3f} ms"
        if torch_ms is not None:
            theirs = sum(torch_ms.values()) if phase == "total" else torch_ms[phase]
            line += f"{theirs:7.3f} ms{mine / theirs:8.2f}"
        print(line)


def instrumented_needle_epoch(case: Case, collector: bool) -> dict[str, float]:
    """One untimed needle epoch, the cycle collector on or off: Tensors made per step, live
    Tensors after each step, and the peak memory numpy and Python allocate during one step."""
    import apps.mlp_resnet as app

    model, opt, loader = needle_setup(case, seed=0)
    # Tensors made in a step = the change in live Tensors + the Tensors freed (counted here, in
    # `__del__`, as the engine makes most Tensors without a call to count).
    release = autograd.Value.__del__
    freed = [0]

    def counting_del(self):
        freed[0] += 1
        release(self)

    live, made_per_step, peaks = [], [], []

    class Recording:
        """The optimizer, recording after each step (epoch() calls step() last in a batch)."""

        def reset_grad(self):
            opt.reset_grad()

        def step(self):
            opt.step()
            live.append(autograd.TENSOR_COUNTER)
            made_per_step.append(live[-1] - (live[-2] if len(live) > 1 else before) + freed[0])
            freed[0] = 0
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

    gc.collect()
    if not collector:
        gc.disable()
    before = autograd.TENSOR_COUNTER
    autograd.Value.__del__ = counting_del
    tracemalloc.start()
    try:
        app.epoch(loader, model, Recording())
    finally:
        tracemalloc.stop()
        autograd.Value.__del__ = release
        gc.enable()
    after = autograd.TENSOR_COUNTER
    gc.collect()
    return {
        "steps": len(live),
        "made": statistics.median(made_per_step[1:]),
        "before": before,
        "live_first": live[0],
        "live_last": live[-1],
        "live_max": max(live),
        "cycle_collected": after - autograd.TENSOR_COUNTER,
        "peak_mb": max(peaks[1:]) / 2**20,
    }


def report_needle_steps(case: Case) -> None:
    on = instrumented_needle_epoch(case, collector=True)
    print(
        f"  needle per training step: {on['made']:.0f} Tensors made; peak memory "
        f"{on['peak_mb']:.1f} MiB (tracemalloc, cycle collector on)"
    )
    for name, stats in (("on", on), ("off", instrumented_needle_epoch(case, collector=False))):
        print(
            f"  live Tensors, cycle collector {name + ':':4s} {stats['before']} before the epoch, "
            f"{stats['live_first']} after step 1, {stats['live_last']} after step "
            f"{stats['steps']} (max {stats['live_max']}); gc.collect() then frees "
            f"{stats['cycle_collected']}"
        )


def pools() -> str:
    """numpy's BLAS (and any other native thread pool loaded): library, version, kernel, threads."""
    parts = []
    for pool in threadpool_info():
        fields = [pool["internal_api"], pool.get("version"), pool.get("architecture")]
        name = " ".join(field for field in fields if field)
        parts.append(f"{name} ({pool['num_threads']} thread(s))")
    return "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "digits")
    parser.add_argument("--mnist-dir", type=Path, default=ROOT / "data" / "mnist")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", default="digits,mnist", help="comma-separated: digits,mnist")
    parser.add_argument(
        "--library", type=Path, default=ROOT / "solutions", help="folder with needle/ and apps/"
    )
    args = parser.parse_args()
    makers = {
        "digits": lambda: digits_case(args.data_dir),
        "mnist": lambda: mnist_case(args.mnist_dir),
    }
    cases = [makers[name]() for name in args.cases.split(",")]
    try:
        import torch
    except ImportError:
        torch = None

    with threadpool_limits(limits=1):
        if torch is not None:
            torch.set_num_threads(1)
        print(f"MLPResNet(dim, {HIDDEN}, {BLOCKS} blocks), one training epoch, batch {BATCH},")
        print(f"  Adam lr {LR} wd {WEIGHT_DECAY}, float32; median of {args.runs} epochs after a")
        print("  warm-up, fresh model each, needle and PyTorch taking turns")
        print(f"  needle from {LIBRARY}; numpy {np.__version__}; BLAS thread pools: {pools()}")
        if torch is None:
            print("  PyTorch is not installed (`make torch`): needle alone.")
        else:
            print(
                f"  torch {torch.__version__} (MKL {torch.backends.mkl.is_available()}), "
                f"torch.get_num_threads() = {torch.get_num_threads()}"
            )
        for case in cases:
            print(f"\n[{case.name}] MLPResNet({case.images.shape[1]}, ...) on {case.description}")
            runs = {"needle": lambda seed, case=case: time_needle(case, seed)}
            if torch is not None:
                runs["PyTorch"] = lambda seed, case=case: time_torch(case, seed, torch)
            results = alternate(runs, args.runs)
            for name, (wall, cpu, error, loss) in results.items():
                print(
                    f"  {name:8s}: {wall * 1000:8.1f} ms wall, {cpu * 1000:8.1f} ms CPU   "
                    f"(train error {error:.4f}, loss {loss:.4f})"
                )
            if torch is not None:
                wall_ratio = results["needle"][0] / results["PyTorch"][0]
                cpu_ratio = results["needle"][1] / results["PyTorch"][1]
                print(f"  ratio needle / PyTorch: {wall_ratio:.2f} wall, {cpu_ratio:.2f} CPU")
            report_phases(case, torch)
            report_needle_steps(case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
