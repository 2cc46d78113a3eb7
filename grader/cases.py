"""Cases: one problem's inputs, drawn from a seed, and the digest that ties references to them.

The public cases use PUBLIC_SEED (the same for everyone, `make grade`); hidden cases a seed only the
instructor's run knows (`fresh_seed`). Each problem draws from its own generator, seeded from the
problem id and the run's seed, so adding a problem changes no other problem's inputs.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from grader import problems as registry

PUBLIC_SEED = 20240


@dataclass
class Case:
    """One problem's inputs, drawn from a seed, and the digest that ties references to them."""

    module: ModuleType
    inputs: dict[str, np.ndarray]
    digest: str

    @property
    def problem(self):
        return self.module.PROBLEM

    def __repr__(self) -> str:
        digest = self.digest[:12]
        return f"Case(problem={self.problem.id!r}, inputs={len(self.inputs)}, digest={digest!r})"


def fresh_seed() -> int:
    """A hidden-case seed nobody can predict (from os.urandom); print it to reproduce a run."""
    return int.from_bytes(os.urandom(4), "little")


def problem_seed(problem_id: str, seed: int) -> int:
    return (zlib.crc32(problem_id.encode()) + 1_000_003 * int(seed)) % (2**32)


def make_case(module: ModuleType, seed: int) -> Case:
    rng = np.random.default_rng(problem_seed(module.PROBLEM.id, seed))
    inputs = {name: np.asarray(value) for name, value in module.make_inputs(rng).items()}
    return Case(module, inputs, inputs_digest(inputs))


def make_cases(seed: int, problem_ids: list[str] | tuple[str, ...] | None = None) -> list[Case]:
    """The case of every problem (or of `problem_ids`), in registry order, for one seed."""
    return [make_case(module, seed) for module in registry.load_all(problem_ids)]


def inputs_digest(inputs: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(inputs):
        array = np.ascontiguousarray(inputs[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
