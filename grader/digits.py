"""`python -m grader data --out DIR`: the offline digits data set, written in MNIST's file format.

The images are the 1797 handwritten digits that scikit-learn ships (`sklearn.datasets.load_digits`,
8x8 pixels, values 0..16), so nothing is downloaded. They are written as gzip IDX files with MNIST's
names, which `needle.data.MNISTDataset` reads exactly like the real MNIST files:

    train-images-idx3-ubyte.gz   magic 2051, n, rows, cols (big-endian int32), n*rows*cols uint8
    train-labels-idx1-ubyte.gz   magic 2049, n (big-endian int32), n uint8
    t10k-images-idx3-ubyte.gz    the same for the test split
    t10k-labels-idx1-ubyte.gz

Pixels are scaled from 0..16 to 0..255 (`round(v * 255 / 16)`). The split is fixed and stratified
without any random numbers: within each class, every fifth sample (in the data set's own order)
goes to the test split, the rest to the training split, so each class is split about 80/20. Both
splits keep the data set's order. The gzip header carries no time stamp, so the output bytes are the
same on every run.
"""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
TEST_EVERY = 5  # within a class, samples number 5, 10, 15, ... go to the test split

# Written in this order: the training images come last because `make` uses that file as the
# marker of a complete data set, so an interrupted run leaves no marker behind.
FILE_NAMES = {
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("train", "images"): "train-images-idx3-ubyte.gz",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/digits", help="output folder (default: data/digits)")


def run(args: argparse.Namespace) -> int:
    paths = write_digits(Path(args.out))
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


def load_digits_uint8() -> tuple[np.ndarray, np.ndarray]:
    """All digits as (images uint8 of shape (n, 8, 8) in 0..255, labels uint8 of shape (n,))."""
    from sklearn.datasets import load_digits  # imported here: the grader CLI must start fast

    digits = load_digits()
    levels = digits.images.astype(np.int64)  # whole numbers 0..16
    images = (levels * 255 + 8) // 16  # round(v * 255 / 16) in integer arithmetic
    return images.astype(np.uint8), digits.target.astype(np.uint8)


def split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices), both increasing: a class's every fifth sample is for test."""
    is_test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        is_test[members[TEST_EVERY - 1 :: TEST_EVERY]] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: (n, rows, cols) images or (n,) labels."""
    if array.dtype != np.uint8:
        raise TypeError(f"idx_bytes: expected a uint8 array, got dtype {array.dtype}")
    if array.ndim == 3:
        header = struct.pack(">4i", IMAGE_MAGIC, *array.shape)
    elif array.ndim == 1:
        header = struct.pack(">2i", LABEL_MAGIC, *array.shape)
    else:
        raise ValueError(
            f"idx_bytes: expected 3 dims (images) or 1 dim (labels), got shape {array.shape}"
        )
    return header + np.ascontiguousarray(array).tobytes()


def write_digits(out_dir: Path) -> list[Path]:
    """Write the four gzip IDX files into out_dir; return their paths in the order written."""
    images, labels = load_digits_uint8()
    train, test = split_indices(labels)
    splits = {"train": train, "test": test}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for (split, kind), name in FILE_NAMES.items():
        array = (images if kind == "images" else labels)[splits[split]]
        path = out_dir / name
        path.write_bytes(gzip.compress(idx_bytes(array), compresslevel=9, mtime=0))
        paths.append(path)
    return paths
