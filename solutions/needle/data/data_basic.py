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
    try:
        with gzip.open(filename, "rb") as file:
            data = file.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{filename}: not a complete gzip file ({error})") from error
    if len(data) < 4:
        raise ValueError(f"{filename}: {len(data)} bytes, too short for an IDX magic number")
    found_magic = int(np.frombuffer(data, dtype=">i4", count=1)[0])
    if found_magic != magic:
        raise ValueError(f"{filename}: magic number is {found_magic}, expected {magic}")
    ndim = magic & 0xFF
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise ValueError(
            f"{filename}: {len(data)} bytes, too short for the {header_size}-byte IDX header"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    expected_size = header_size + int(np.prod(shape))
    if len(data) != expected_size:
        raise ValueError(
            f"{filename}: header gives shape {shape}, so {expected_size} bytes, "
            f"but the file has {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)
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
        raw_images = read_idx(image_filename, IMAGE_MAGIC)
        labels = read_idx(label_filename, LABEL_MAGIC)
        if len(raw_images) != len(labels):
            raise ValueError(
                f"MNISTDataset: {image_filename} has {len(raw_images)} images but "
                f"{label_filename} has {len(labels)} labels"
            )
        num_images, rows, cols = raw_images.shape
        self.image_shape = (rows, cols)
        self.images = raw_images.reshape(num_images, rows * cols).astype(np.float32) / 255
        self.labels = labels
        ### END YOUR SOLUTION

    def __getitem__(self, index):
        ### BEGIN YOUR SOLUTION
        images = self.images[index]
        labels = self.labels[index]
        if self.transforms:
            rows, cols = self.image_shape
            batch = images.reshape(-1, rows, cols, 1)
            transformed = [self.apply_transforms(image) for image in batch]
            images = np.stack(transformed).reshape(images.shape)
        return images, labels
        ### END YOUR SOLUTION

    def __len__(self) -> int:
        ### BEGIN YOUR SOLUTION
        return self.images.shape[0]
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
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        n = len(dataset)
        if not self.shuffle:
            self.ordering = np.array_split(np.arange(n), range(batch_size, n, batch_size))
        ### END YOUR SOLUTION

    def __iter__(self):
        ### BEGIN YOUR SOLUTION
        if self.shuffle:
            n = len(self.dataset)
            order = np.random.permutation(n)
            self.ordering = np.array_split(order, range(self.batch_size, n, self.batch_size))
        self.batch_number = 0
        ### END YOUR SOLUTION
        return self

    def __next__(self) -> tuple:
        ### BEGIN YOUR SOLUTION
        if self.batch_number >= len(self.ordering):
            raise StopIteration
        indices = self.ordering[self.batch_number]
        self.batch_number += 1
        # Indexing with an array already copies; make_const wraps that copy without another one.
        return tuple(Tensor.make_const(array) for array in self.dataset[indices])
        ### END YOUR SOLUTION
