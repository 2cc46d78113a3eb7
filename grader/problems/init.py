"""init: tensor constructors and the Xavier/Kaiming initializers.

Seeded values (exactly one np.random.rand/randn call of the right shape: the next draw after the
call must match too), shapes, dtype, and distribution statistics on large samples.

Relies on no other problem (the initializers call rand/randn, which are graded here too).
"""

from __future__ import annotations

import math

import numpy as np

from grader.compare import close, equal, holds
from grader.problems.base import Problem

_BASIC = "needle/init/init_basic.py"
_INIT = "needle/init/init_initializers.py"
PROBLEM = Problem(
    id="init",
    title="Initialization (init_basic, Xavier, Kaiming)",
    points=6,
    regions=tuple(
        (_BASIC, name)
        for name in (
            "rand",
            "randn",
            "constant",
            "ones",
            "zeros",
            "randb",
            "one_hot",
            "zeros_like",
            "ones_like",
        )
    )
    + tuple(
        (_INIT, name)
        for name in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")
    ),
    files=("needle/init/__init__.py", _BASIC, _INIT),
    hint="one np.random.rand / randn call of the final shape; gains as in the docstrings",
)

# name -> (call, (fan_in, fan_out) of the large sample, theoretical bound or std)
INITIALIZERS = {
    "xavier_uniform": (lambda i, a, b: i.xavier_uniform(a, b, gain=1.5), 1.5 * math.sqrt(6 / 700)),
    "xavier_normal": (lambda i, a, b: i.xavier_normal(a, b, gain=0.7), 0.7 * math.sqrt(2 / 700)),
    "kaiming_uniform": (lambda i, a, b: i.kaiming_uniform(a, b), math.sqrt(2) * math.sqrt(3 / 300)),
    "kaiming_normal": (lambda i, a, b: i.kaiming_normal(a, b), math.sqrt(2) / math.sqrt(300)),
}
LARGE = (300, 400)


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"seed": np.array(rng.integers(0, 2**31)), "labels": rng.integers(0, 5, 6)}


def probe(p) -> None:
    import needle as ndl

    init = ndl.init
    seed = int(p.inputs["seed"])

    def seeded(name, make):
        with p.step(name):
            np.random.seed(seed)
            tensor = make()
            after = np.random.rand()
            p.put(name, p.array(tensor))
            p.put(f"{name}/next", after)
            p.put(f"{name}/float32", tensor.dtype == np.float32)

    seeded("rand", lambda: init.rand(3, 4, low=-1.0, high=2.0))
    seeded("randn", lambda: init.randn(3, 4, mean=1.0, std=2.0))
    seeded("randb", lambda: init.randb(5, 6, p=0.3, dtype="float32"))
    seeded("constant", lambda: init.constant(2, 3, c=1.5))
    seeded("ones", lambda: init.ones(2, 3))
    seeded("zeros", lambda: init.zeros(4))
    seeded("one_hot", lambda: init.one_hot(5, ndl.Tensor(p.inputs["labels"])))
    seeded("zeros_like", lambda: init.zeros_like(ndl.Tensor(np.ones((2, 3), np.float32))))
    seeded("ones_like", lambda: init.ones_like(ndl.Tensor(np.zeros((3, 2), np.float32))))
    for name, (call, _) in INITIALIZERS.items():
        seeded(name, lambda call=call: call(init, 5, 7))
        with p.step(f"{name}_large"):
            np.random.seed(seed + 1)
            p.put(f"{name}_large", p.array(call(init, *LARGE)))


def _statistics(name: str, scale: float):
    uniform = name.endswith("uniform")

    def test(got):
        sample = np.asarray(got[f"{name}_large"], np.float64)
        if sample.shape != LARGE:
            return f"expected shape {LARGE}, got {sample.shape}"
        std = float(sample.std())
        expected_std = scale / math.sqrt(3) if uniform else scale
        # 120000 draws: the sample std is within 0.5% of the truth; 5% tells a wrong gain.
        if abs(std - expected_std) > 0.05 * expected_std:
            return f"sample std {std:.4g}, expected {expected_std:.4g} for this fan_in/fan_out"
        if abs(float(sample.mean())) > 0.05 * expected_std:
            return f"sample mean {sample.mean():.3g}, expected about 0"
        if uniform and float(np.abs(sample).max()) > scale * (1 + 1e-6):
            return f"values up to {np.abs(sample).max():.4g}, expected within +-{scale:.4g}"
        return None

    return test


_BASICS = (
    "rand",
    "randn",
    "randb",
    "constant",
    "ones",
    "zeros",
    "one_hot",
    "zeros_like",
    "ones_like",
)
CHECKS = (
    [close(f"{name} (seeded values)", name) for name in _BASICS]
    + [
        equal(f"{name} draws exactly once", f"{name}/next", "next random draw")
        for name in ("rand", "randn", "randb")
    ]
    + [close(f"{name} (seeded values)", name) for name in INITIALIZERS]
    + [
        equal(f"{name} draws exactly once", f"{name}/next", "next random draw")
        for name in INITIALIZERS
    ]
    + [
        holds(f"{name} distribution", (f"{name}_large",), _statistics(name, scale), weight=1.0)
        for name, (_, scale) in INITIALIZERS.items()
    ]
    + [
        equal(f"{name} is float32 by default", f"{name}/float32", "dtype is float32")
        for name in ("rand", "randn", "xavier_uniform", "kaiming_normal")
    ]
)
