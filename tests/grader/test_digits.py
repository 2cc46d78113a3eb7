"""`python -m grader data`: the offline digits data set in MNIST's file format."""

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from grader import digits

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def read_idx(path: Path) -> tuple[int, tuple[int, ...], np.ndarray]:
    """(magic, dims, values) of a gzip IDX file, parsed here independently of needle."""
    content = gzip.decompress(path.read_bytes())
    magic = struct.unpack(">i", content[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}i", content[4 : 4 + 4 * ndim])
    values = np.frombuffer(content, dtype=np.uint8, offset=4 + 4 * ndim)
    assert values.size == np.prod(dims), f"{path.name}: payload does not match header {dims}"
    return magic, dims, values.reshape(dims)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """The data set written through the command line, as `make data` does."""
    out = tmp_path_factory.mktemp("digits")
    command = [sys.executable, "-m", "grader", "data", "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return out


def test_data_command_writes_the_four_mnist_files(written):
    assert sorted(path.name for path in written.iterdir()) == sorted(NAMES)


def test_output_bytes_are_the_same_on_every_run(written, tmp_path):
    """Does a second run (in process, at another time) write byte-identical files?"""
    digits.write_digits(tmp_path)
    for name in NAMES:
        assert (tmp_path / name).read_bytes() == (written / name).read_bytes(), name
        assert (written / name).read_bytes()[4:8] == b"\0\0\0\0", f"{name}: gzip mtime is set"


def test_headers_give_mnist_magic_numbers_and_8x8_images(written):
    train_magic, train_dims, _ = read_idx(written / "train-images-idx3-ubyte.gz")
    test_magic, test_dims, _ = read_idx(written / "t10k-images-idx3-ubyte.gz")
    assert (train_magic, train_dims[1:]) == (2051, (8, 8))
    assert (test_magic, test_dims[1:]) == (2051, (8, 8))
    label_magic, label_dims, _ = read_idx(written / "train-labels-idx1-ubyte.gz")
    assert (label_magic, label_dims) == (2049, train_dims[:1])
    assert read_idx(written / "t10k-labels-idx1-ubyte.gz")[1] == test_dims[:1]


def test_files_hold_sklearn_digits_scaled_to_0_255(written):
    source = load_digits()
    train, test = digits.split_indices(source.target)
    for prefix, indices in (("train", train), ("t10k", test)):
        _, _, images = read_idx(written / f"{prefix}-images-idx3-ubyte.gz")
        _, _, labels = read_idx(written / f"{prefix}-labels-idx1-ubyte.gz")
        expected = np.round(source.images[indices] * 255 / 16)
        np.testing.assert_array_equal(images, expected)
        np.testing.assert_array_equal(labels, source.target[indices])
    assert images.min() == 0 and images.max() == 255


def test_split_is_disjoint_complete_and_stratified_80_20():
    labels = load_digits().target
    train, test = digits.split_indices(labels)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    for label in range(10):
        in_class = np.count_nonzero(labels == label)
        in_test = np.count_nonzero(labels[test] == label)
        assert in_test == in_class // 5, f"class {label}: {in_test} of {in_class} in test"


def test_label_files_are_balanced(written):
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        counts = np.bincount(read_idx(written / name)[2], minlength=10)
        assert counts.size == 10 and counts.min() >= 0.9 * counts.mean(), f"{name}: {counts}"
