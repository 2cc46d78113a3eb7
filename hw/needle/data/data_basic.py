"""Data sets and the loader that cuts them into batches of Tensors.

A data set maps an index (an int, a slice or an array of ints) to a tuple of numpy arrays, one per
field (for MNIST: images, labels). `DataLoader` draws the order of the samples, cuts it into batches
of `batch_size` indices with

    np.array_split(order, range(batch_size, n, batch_size))     (the last batch may be shorter)

and turns `dataset[batch_indices]` into a tuple of Tensors, keeping the arrays' dtypes (images
float32, labels uint8). With `shuffle=True` the order is a NEW `np.random.permutation(n)` at every
`iter(loader)`, that is, at every epoch.

MNIST's files are gzip-compressed IDX files: a big-endian int32 magic number (2051 for images,
2049 for labels; its last byte is the number of dimensions), one big-endian int32 per dimension,
then the uint8 values in C order.
"""

import gzip
import zlib

import numpy as np

from ..autograd import Tensor

IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (n, rows, cols)
LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (n,)


class Dataset:
    """Base class: subclasses implement `__getitem__` and `__len__`.

    `transforms` is a list of callables applied in order to each image by `apply_transforms`.
    """

    def __init__(self, transforms: list | None = None):
        self.transforms = transforms

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def apply_transforms(self, x):
        if self.transforms is not None:
            for transform in self.transforms:
                x = transform(x)
        return x


class NDArrayDataset(Dataset):
    """A data set over numpy arrays of equal length: `dataset[i] = tuple(a[i] for a in arrays)`."""

    def __init__(self, *arrays: np.ndarray):
        super().__init__()
        lengths = [array.shape[0] for array in arrays]
        if len(set(lengths)) > 1:
            raise ValueError(f"NDArrayDataset: arrays have different lengths {lengths}")
        self.arrays = arrays

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)


def read_idx(filename: str, magic: int) -> np.ndarray:
    """The uint8 array stored in a gzip IDX file, with the shape its header gives.

    Raises ValueError, naming the file, when the file is not gzip, the magic number differs from
    `magic`, or the file is shorter or longer than its header says.
    """
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("read_idx in needle/data/data_basic.py")
    ### END YOUR SOLUTION


class MNISTDataset(Dataset):
    """Images and labels from MNIST-format gzip IDX files.

    images: float32 in [0, 1] (byte / 255), each flattened to rows * cols values;
    labels: uint8. `dataset[index]` returns (images[index], labels[index]) for an int, a slice or an
    index array. With transforms, each image is reshaped to (rows, cols, 1) first, transformed, and
    flattened again. rows and cols come from the file header (28 x 28 for MNIST, 8 x 8 for digits).
    """

    def __init__(self, image_filename: str, label_filename: str, transforms: list | None = None):
        super().__init__(transforms)
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("MNISTDataset.__init__ in needle/data/data_basic.py")
        ### END YOUR SOLUTION

    def __getitem__(self, index):
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("MNISTDataset.__getitem__ in needle/data/data_basic.py")
        ### END YOUR SOLUTION

    def __len__(self) -> int:
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("MNISTDataset.__len__ in needle/data/data_basic.py")
        ### END YOUR SOLUTION


class DataLoader:
    """Iterate over a data set in batches: each batch is a tuple of Tensors, one per field.

    Example:
        for X, y in DataLoader(dataset, batch_size=100, shuffle=True):
            ...  # X: Tensor (100, 784) float32, y: Tensor (100,) uint8; the last may be shorter
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("DataLoader.__init__ in needle/data/data_basic.py")
        ### END YOUR SOLUTION

    def __iter__(self):
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("DataLoader.__iter__ in needle/data/data_basic.py")
        ### END YOUR SOLUTION
        return self

    def __next__(self) -> tuple:
        ### BEGIN YOUR SOLUTION
        raise NotImplementedError("DataLoader.__next__ in needle/data/data_basic.py")
        ### END YOUR SOLUTION
