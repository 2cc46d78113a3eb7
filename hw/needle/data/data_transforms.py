"""Data augmentation on single images of shape (H, W, C), as numpy arrays.

A transform draws its random numbers from numpy's global generator, once per image, so that a run
under `np.random.seed(...)` is reproducible:

    RandomFlipHorizontal(p)   flip = np.random.rand() < p;  flip the width axis (axis 1) if flip
    RandomCrop(padding)       shift_x, shift_y = np.random.randint(-padding, padding + 1, size=2);
                              zero-pad H and W by `padding` on both sides, then cut the original
                              (H, W) window starting at (padding + shift_x, padding + shift_y)

The usual trap: shift_x moves along axis 0 (the rows, the image's height), shift_y along axis 1.
"""

import numpy as np


class Transform:
    """A callable that maps one image (H, W, C) to one image."""

    def __call__(self, img: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class RandomFlipHorizontal(Transform):
    """Mirror the image left to right with probability p."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomFlipHorizontal: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """img: (H, W, C) -> (H, W, C), the width axis reversed if the coin says so."""
        flip_img = np.random.rand() < self.p
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("RandomFlipHorizontal.__call__ in needle/data/data_transforms.py")
        ### END YOUR SOLUTION


class RandomCrop(Transform):
    """Shift the image by up to `padding` pixels along each axis, filling with zeros."""

    def __init__(self, padding: int = 3):
        if padding < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        self.padding = padding

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """img: (H, W, C) -> (H, W, C); pixel (i, j) of the result is img[i + shift_x, j + shift_y]
        where that lies inside the image, and 0 elsewhere."""
        shift_x, shift_y = np.random.randint(low=-self.padding, high=self.padding + 1, size=2)
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("RandomCrop.__call__ in needle/data/data_transforms.py")
        ### END YOUR SOLUTION
