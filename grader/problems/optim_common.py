"""Shared by the optimizer problems (`sgd`, `adam`): parameters with given gradients, stepped a
few times, under a few configurations of hyperparameters.

A problem of this family declares its configurations and what each tests, then takes its probe
and checks from here, naming its own outputs:

    CONFIGS = {"plain": {"lr": 0.1}, "momentum": {"lr": 0.1, "momentum": 0.9}}
    LABELS = {"plain": "no momentum", "momentum": "momentum 0.9"}
    def probe(p): common.probe(p, "SGD", CONFIGS)
    CHECKS = common.trajectory_checks(CONFIGS, LABELS) + common.property_checks("momentum")

The update rules themselves are written once, in the optimizers' docstrings (needle/optim.py).

Gradients are set by hand (fresh Tensors each step, as backward would give), so the optimizer
problems do not depend on autodiff or on any module. They rely on ops_forward only through the
Tensor arithmetic of an update written on `.data` (`w.data - lr * u` runs Negate.compute; Adam's
sqrt and division run PowerScalar.compute and EWiseDiv.compute); an update written on `.numpy()`
runs none. After each step the probe records the parameters, whether
`.grad` was left untouched, their dtype and the number of live tensors.
"""

from __future__ import annotations

import numpy as np

from grader.problems import live_tensors

STEPS = 4
SHAPES = ((3, 4), (4,))
# The files an optimizer problem's probe needs besides the core ones (Parameter lives in nn).
FILES = ("needle/optim.py", "needle/nn/__init__.py", "needle/nn/nn_basic.py")


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    inputs = {}
    for index, shape in enumerate(SHAPES):
        inputs[f"w{index}"] = rng.uniform(-1, 1, shape).astype(np.float32)
        for step in range(STEPS):
            inputs[f"g{index}_{step}"] = rng.uniform(-1, 1, shape).astype(np.float32)
    return inputs


def run(p, name: str, make_optimizer, moments=None) -> None:
    """Step an optimizer STEPS times; outputs "<name>/w<i>_<step>" and friends."""
    import needle as ndl

    with p.step(name):
        params = [ndl.nn.Parameter(p.inputs[f"w{i}"].copy()) for i in range(len(SHAPES))]
        opt = make_optimizer(params)
        counts, untouched, float32 = [], [], []
        for step in range(STEPS):
            grads = [p.inputs[f"g{i}_{step}"] for i in range(len(SHAPES))]
            for param, grad in zip(params, grads, strict=True):
                param.grad = ndl.Tensor(grad.copy())
            opt.step()
            for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
                p.put(f"{name}/w{i}_{step}", p.array(param))
                untouched.append(bool(np.array_equal(p.array(param.grad), grad)))
                float32.append(param.dtype == np.float32)
            if moments is not None and step == 0:
                moments(p, opt, params)
            opt.reset_grad()
            counts.append(live_tensors.count())
        p.put(f"{name}/counts", counts)
        p.put(f"{name}/untouched", untouched)
        p.put(f"{name}/float32", float32)


def probe(p, optimizer: str, configs: dict[str, dict], moments=None) -> None:
    """Run `needle.optim.<optimizer>(params, **config)` for every configuration (see `run`);
    `moments(p, opt, params)`, when given, records state after the first step of the first one."""
    import needle as ndl

    make = getattr(ndl.optim, optimizer)
    for number, (name, config) in enumerate(configs.items()):
        step = moments if number == 0 else None
        run(p, name, lambda params, config=config: make(params, **config), step)


def parameter(index: int) -> str:
    return f"parameter {index} (shape {SHAPES[index]})"


def trajectory_checks(
    configs: dict[str, dict], labels: dict[str, str], steps: tuple[int, ...] | None = None
) -> list:
    """One `close` check per configuration, step (0-based; all STEPS when None) and parameter
    against the reference's parameters, folded per configuration into one series."""
    from grader.compare import close
    from grader.problems.base import series

    steps = tuple(range(STEPS)) if steps is None else steps
    numbers = [str(step + 1) for step in steps]
    if steps == tuple(range(STEPS)):
        which = f"steps 1-{STEPS}"
    else:
        which = "steps " + ", ".join(numbers[:-1]) + f" and {numbers[-1]}"
    return [
        series(
            close(
                f"{labels[name]}: parameters after step {step + 1}",
                f"{name}/w{index}_{step}",
                parameter(index),
            ),
            f"{labels[name]}: parameters after {which}",
            f"at step {step + 1}",
        )
        for name in configs
        for step in steps
        for index in range(len(SHAPES))
    ]


def all_true(output: str, message: str):
    def test(got):
        values = np.asarray(got[output]).reshape(-1)
        return None if values.size and bool(np.all(values)) else message

    return test


def property_checks(counts_config: str, grad_config: str = "decay") -> list:
    """The checks every optimizer shares: `.grad` untouched and float32 kept (over the steps of
    configuration `grad_config`, the one with weight decay: where `.grad` is most tempting to
    change), no graph kept alive (counted over the steps of `counts_config`)."""
    from grader.compare import holds

    untouched, float32 = f"{grad_config}/untouched", f"{grad_config}/float32"
    return [
        holds(
            "leaves .grad untouched",
            (untouched,),
            all_true(untouched, "step() changed p.grad; build a new tensor instead"),
        ),
        holds(
            "keeps parameters float32",
            (float32,),
            all_true(float32, "a parameter became float64 (numpy float64 scalars?)"),
        ),
        live_tensors.no_graph_kept_alive(
            f"{counts_config}/counts",
            "step",
            "the update keeps a graph alive; compute it from .data",
        ),
    ]


def state_of(container, params: list, index: int) -> np.ndarray:
    """The values an optimizer keeps for `params[index]` (a moment, a velocity), in whatever
    container and key the given code leaves open: a dict keyed by the parameter, its index or its
    id(), else the one entry of that parameter's shape; a list or tuple by index. Tensors and
    numpy arrays alike. Probe side; raises LookupError saying what it looked for."""
    param = params[index]
    found = None
    if isinstance(container, dict):
        for key in (param, index, id(param)):
            try:
                if key in container:
                    found = container[key]
                    break
            except TypeError:  # an unhashable key type
                continue
        if found is None:
            shaped = [v for v in container.values() if tuple(np.shape(_numbers(v))) == param.shape]
            if len(shaped) == 1:
                found = shaped[0]
    elif isinstance(container, (list, tuple)) and index < len(container):
        found = container[index]
    if found is None:
        raise LookupError(
            f"found no state for parameter {index} (shape {tuple(param.shape)}) in the "
            f"optimizer's {type(container).__name__}: keep one entry per parameter, keyed by the "
            "parameter, its index or id()"
        )
    return np.asarray(_numbers(found), dtype=np.float64)


def _numbers(value):
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)
