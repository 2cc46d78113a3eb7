"""The graded problems, in the order the homework introduces them (one module per problem)."""

from __future__ import annotations

import importlib
from types import ModuleType

PROBLEM_IDS = (
    "ops_forward",
    "ops_backward",
    "autodiff",
    "logsumexp",
    "softmax_loss",
    "init",
    "nn_basic",
    "layernorm",
    "batchnorm",
    "dropout",
    "sgd",
    "adam",
    "data",
    "mlp_resnet",
)


def load(problem_id: str) -> ModuleType:
    """The declaration module of one problem (ValueError for an unknown id)."""
    if problem_id not in PROBLEM_IDS:
        known = ", ".join(PROBLEM_IDS)
        raise ValueError(f"unknown problem {problem_id!r}; known problems: {known}")
    return importlib.import_module(f"grader.problems.{problem_id}")


def load_all(ids: tuple[str, ...] | list[str] | None = None) -> list[ModuleType]:
    return [load(problem_id) for problem_id in (ids or PROBLEM_IDS)]


def points(problem_id: str) -> int:
    """The points a problem is worth, as its declaration says."""
    return load(problem_id).PROBLEM.points


def total_points(ids: tuple[str, ...] | list[str] | None = None) -> int:
    """The points of `ids` (every problem when None) together."""
    return sum(module.PROBLEM.points for module in load_all(ids))
