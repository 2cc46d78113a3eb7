"""The numpy backend: needle's arrays are numpy arrays, and the only device is the CPU."""

from __future__ import annotations

import numpy

__device_name__ = "numpy"
NDArray = numpy.ndarray


class Device:
    """Where arrays live and how fresh ones are made."""


class CPUDevice(Device):
    """Arrays in host memory, made by numpy.

    `rand` and `randn` return float64 from exactly one `numpy.random` call, as the course's seeded
    results expect; callers cast to the dtype they want.
    """

    def __repr__(self) -> str:
        return "cpu()"

    def __hash__(self) -> int:
        return hash(repr(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CPUDevice)

    def enabled(self) -> bool:
        return True

    def zeros(self, *shape: int, dtype: str = "float32") -> NDArray:
        return numpy.zeros(shape, dtype=dtype)

    def ones(self, *shape: int, dtype: str = "float32") -> NDArray:
        return numpy.ones(shape, dtype=dtype)

    def full(self, shape: tuple[int, ...], fill_value: float, dtype: str = "float32") -> NDArray:
        return numpy.full(shape, fill_value, dtype=dtype)

    def empty(self, shape: tuple[int, ...], dtype: str = "float32") -> NDArray:
        return numpy.empty(shape, dtype=dtype)

    def rand(self, *shape: int) -> NDArray:
        return numpy.random.rand(*shape)

    def randn(self, *shape: int) -> NDArray:
        return numpy.random.randn(*shape)

    def one_hot(self, n: int, i: NDArray, dtype: str = "float32") -> NDArray:
        """Rows of the n-by-n identity picked by the integer array `i`: shape i.shape + (n,)."""
        return numpy.eye(n, dtype=dtype)[i]


def cpu() -> CPUDevice:
    """The CPU device."""
    return CPUDevice()


def default_device() -> CPUDevice:
    return cpu()


def all_devices() -> list[Device]:
    """Every device this backend offers."""
    return [cpu()]
