from .ops_math import Scale, scale, total

__all__ = ["Scale", "scale", "total"]
