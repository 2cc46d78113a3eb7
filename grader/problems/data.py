"""data: the image transforms, MNISTDataset (gzip IDX files) and DataLoader (batches, shuffling).

Relies on no other problem (numpy only; DataLoader wraps its batches in the given Tensor).
"""

from __future__ import annotations

import numpy as np

from grader.compare import close, equal
from grader.problems.base import Problem

_BASIC = "needle/data/data_basic.py"
_TRANSFORMS = "needle/data/data_transforms.py"
PROBLEM = Problem(
    id="data",
    title="Data: transforms, MNISTDataset, DataLoader",
    points=6,
    regions=(
        (_BASIC, "read_idx"),
        (_BASIC, "MNISTDataset.__init__"),
        (_BASIC, "MNISTDataset.__getitem__"),
        (_BASIC, "MNISTDataset.__len__"),
        (_BASIC, "DataLoader.__init__"),
        (_BASIC, "DataLoader.__iter__"),
        (_BASIC, "DataLoader.__next__"),
        (_TRANSFORMS, "RandomFlipHorizontal.__call__"),
        (_TRANSFORMS, "RandomCrop.__call__"),
    ),
    files=("needle/data/__init__.py", _BASIC, _TRANSFORMS),
    hint="np.frombuffer on the gunzipped bytes; batches from np.array_split of the order",
)
# MNIST's image size, as the spec fixes it (students rightly reshape to 784 or (28, 28, 1)).
N, ROWS, COLS = 11, 28, 28


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "seed": np.array(rng.integers(0, 2**31)),
        "pixels": rng.integers(0, 256, (N, ROWS, COLS)).astype(np.uint8),
        "labels": rng.integers(0, 10, N).astype(np.uint8),
        "img": rng.uniform(0, 1, (ROWS, COLS, 1)),
        "X": rng.uniform(-1, 1, (N, 3)).astype(np.float32),
    }


def _write_idx(path, array: np.ndarray, magic: int) -> None:
    import gzip

    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def probe(p) -> None:
    import needle as ndl

    i = p.inputs
    seed = int(i["seed"])
    with p.step("flip"):
        np.random.seed(seed)
        flip = ndl.data.RandomFlipHorizontal(0.5)
        p.put("flip", np.stack([flip(i["img"]) for _ in range(6)]))
    with p.step("crop"):
        np.random.seed(seed)
        crop = ndl.data.RandomCrop(2)
        p.put("crop", np.stack([crop(i["img"]) for _ in range(6)]))
    _write_idx("images.gz", i["pixels"], 2051)
    _write_idx("labels.gz", i["labels"], 2049)
    with p.step("mnist"):
        dataset = ndl.data.MNISTDataset("images.gz", "labels.gz")
        p.put("mnist/len", len(dataset))
        image, label = dataset[3]
        p.put("mnist/item", image)
        p.put("mnist/label", label)
        p.put("mnist/float32", np.asarray(image).dtype == np.float32)
        images, labels = dataset[np.array([1, 4, 2])]
        p.put("mnist/batch", images)
        p.put("mnist/batch_labels", labels)
        p.put("mnist/slice", dataset[2:5][0])
    with p.step("mnist_transforms"):
        flip_all = ndl.data.RandomFlipHorizontal(1.0)
        dataset = ndl.data.MNISTDataset("images.gz", "labels.gz", transforms=[flip_all])
        p.put("mnist_transforms", np.asarray(dataset[5][0]))
    with p.step("loader"):
        dataset = ndl.data.NDArrayDataset(i["X"], i["labels"])
        batches = list(ndl.data.DataLoader(dataset, batch_size=4))
        p.put("loader/sizes", [b[0].shape[0] for b in batches])
        p.put("loader/X", np.concatenate([p.array(b[0]) for b in batches]))
        p.put("loader/y", np.concatenate([p.array(b[1]) for b in batches]))
    with p.step("shuffle"):
        np.random.seed(seed)
        loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(i["X"], i["labels"]), 3, shuffle=True)
        first = np.concatenate([p.array(b[1]) for b in loader])
        second = np.concatenate([p.array(b[1]) for b in loader])
        p.put("shuffle/first", first)
        p.put("shuffle/second", second)


CHECKS = [
    close("RandomFlipHorizontal (seeded)", "flip"),
    close("RandomCrop (seeded)", "crop"),
    equal("MNISTDataset length", "mnist/len", "len(dataset)"),
    close("MNISTDataset image (float32 in [0, 1])", "mnist/item", any_shape=True),
    equal("MNISTDataset label", "mnist/label", "label"),
    equal("MNISTDataset images are float32", "mnist/float32", "image dtype is float32"),
    close("MNISTDataset indexed by an array", "mnist/batch", any_shape=True),
    equal("MNISTDataset labels indexed by an array", "mnist/batch_labels", "labels"),
    close("MNISTDataset indexed by a slice", "mnist/slice", any_shape=True),
    close(
        "MNISTDataset applies transforms to (H, W, 1) images", "mnist_transforms", any_shape=True
    ),
    equal("DataLoader batch sizes (last one short)", "loader/sizes", "batch sizes"),
    close("DataLoader batches in order", "loader/X"),
    equal("DataLoader labels", "loader/y", "labels"),
    equal("DataLoader shuffles with np.random.permutation", "shuffle/first", "labels, epoch 1"),
    equal("DataLoader reshuffles every epoch", "shuffle/second", "labels, epoch 2"),
]
