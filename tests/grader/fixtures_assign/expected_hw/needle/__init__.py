"""A tiny package with solution regions, used to test the stripper."""

from . import ops
from .ops.ops_math import Scale, scale, total

__all__ = ["Scale", "ops", "scale", "total"]
