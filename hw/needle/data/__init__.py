"""Data sets, the batching loader and image transforms."""

from .data_basic import DataLoader, Dataset, MNISTDataset, NDArrayDataset
from .data_transforms import RandomCrop, RandomFlipHorizontal, Transform

__all__ = [
    "DataLoader",
    "Dataset",
    "MNISTDataset",
    "NDArrayDataset",
    "RandomCrop",
    "RandomFlipHorizontal",
    "Transform",
]
