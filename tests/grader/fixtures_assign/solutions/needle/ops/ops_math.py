"""Regions in a method, in a function, after given code, and in a nested function."""

import math  # noqa: F401 (used only inside a region)


class Scale:
    """y = c * x;  dx = c * g."""

    def __init__(self, c: float):
        self.c = c

    def compute(self, x: float) -> float:
        ### BEGIN YOUR SOLUTION
        return self.c * x
        ### END YOUR SOLUTION

    def gradient(
        self,
        g: float,
    ) -> float:
        # Given code before the region stays, and so does code after it.
        c = self.c  # noqa: F841 (used only inside the region)
        ### BEGIN YOUR SOLUTION
        grad = c * g

        return grad
        ### END YOUR SOLUTION
        return 0.0  # unreachable in the skeleton


def scale(x: float, c: float) -> float:
    ### BEGIN YOUR SOLUTION
    return Scale(c).compute(x)
    ### END YOUR SOLUTION


def total(values: list[float]) -> float:
    def add_all(items: list[float]) -> float:
        ### BEGIN YOUR SOLUTION
        return math.fsum(items)
        ### END YOUR SOLUTION

    return add_all(values)
