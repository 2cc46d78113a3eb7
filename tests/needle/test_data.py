"""needle.data: transforms, DataLoader and MNISTDataset against independent numpy transcriptions."""

import gzip
import re
import struct
from pathlib import Path

import needle as ndl
import numpy as np
import pytest

# ---------------------------------------------------------------- helpers


def write_idx(path: Path, array: np.ndarray, magic: int | None = None, cut: int = 0) -> Path:
    """Write `array` (uint8) as a gzip IDX file; `magic` overrides the right one; `cut` drops bytes
    from the end of the uncompressed content (a truncated payload)."""
    if magic is None:
        magic = 0x800 + array.ndim
    content = struct.pack(f">{1 + array.ndim}i", magic, *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(content[: len(content) - cut], mtime=0))
    return path


def write_mnist_pair(folder: Path, images: np.ndarray, labels: np.ndarray) -> tuple[str, str]:
    image_file = write_idx(folder / "train-images-idx3-ubyte.gz", images)
    label_file = write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    return str(image_file), str(label_file)


def random_uint8(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def numpy_flip(img: np.ndarray, flip: bool) -> np.ndarray:
    """RandomFlipHorizontal transcribed: mirror the columns when the coin says so."""
    return img[:, ::-1, :] if flip else img


def numpy_crop(img: np.ndarray, shift_x: int, shift_y: int) -> np.ndarray:
    """RandomCrop transcribed pixel by pixel: out[i, j] = img[i + shift_x, j + shift_y] or 0."""
    height, width = img.shape[:2]
    out = np.zeros_like(img)
    for i in range(height):
        for j in range(width):
            if 0 <= i + shift_x < height and 0 <= j + shift_y < width:
                out[i, j] = img[i + shift_x, j + shift_y]
    return out


def draw_flip(p: float) -> bool:
    return bool(np.random.rand() < p)


def draw_shifts(padding: int) -> tuple[int, int]:
    shift_x, shift_y = np.random.randint(-padding, padding + 1, size=2)
    return int(shift_x), int(shift_y)


def check_transform(transform, expected: np.ndarray, img: np.ndarray, seed: int) -> None:
    np.random.seed(seed)
    got = transform(img)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def batch_indices(loader) -> list[list[int]]:
    """The sample indices of each batch, for a loader over NDArrayDataset(np.arange(n))."""
    return [batch[0].numpy().tolist() for batch in loader]


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory) -> Path:
    """data/digits when `make data` has written it, else a fresh copy written by the grader."""
    folder = Path(__file__).resolve().parents[2] / "data" / "digits"
    if (folder / "train-images-idx3-ubyte.gz").exists():
        return folder
    from grader.digits import write_digits

    folder = tmp_path_factory.mktemp("digits")
    write_digits(folder)
    return folder


@pytest.fixture
def small_files(tmp_path):
    """Seven 5x4 images (non-square, so rows and cols cannot be swapped unnoticed) and labels."""
    images = random_uint8(7, 5, 4, seed=1)
    labels = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
    image_file, label_file = write_mnist_pair(tmp_path, images, labels)
    return images, labels, image_file, label_file


# ---------------------------------------------------------------- transforms


@pytest.mark.parametrize("seed", range(12))
def test_random_flip_horizontal_matches_numpy(seed):
    img = random_uint8(5, 4, 2, seed=seed).astype(np.float32)
    np.random.seed(seed)
    expected = numpy_flip(img, draw_flip(0.5))
    check_transform(ndl.data.RandomFlipHorizontal(0.5), expected, img, seed)


def test_random_flip_horizontal_seeds_above_cover_both_outcomes():
    """Do the seeds of the test above exercise both a flip and a no-flip?"""
    outcomes = set()
    for seed in range(12):
        np.random.seed(seed)
        outcomes.add(draw_flip(0.5))
    assert outcomes == {True, False}


def test_random_flip_horizontal_with_p_one_always_mirrors_width():
    img = random_uint8(3, 4, 1).astype(np.float32)
    for _ in range(5):
        np.testing.assert_array_equal(ndl.data.RandomFlipHorizontal(1.0)(img), img[:, ::-1])


@pytest.mark.parametrize("padding", [1, 2, 3])
@pytest.mark.parametrize("seed", range(8))
def test_random_crop_matches_pixel_loop(seed, padding):
    img = random_uint8(6, 5, 2, seed=seed).astype(np.float32)
    np.random.seed(seed)
    expected = numpy_crop(img, *draw_shifts(padding))
    check_transform(ndl.data.RandomCrop(padding), expected, img, seed)


def test_random_crop_with_zero_padding_is_identity():
    img = random_uint8(6, 5, 1).astype(np.float32)
    check_transform(ndl.data.RandomCrop(0), img, img, seed=0)


def test_transforms_reject_bad_hyperparameters():
    with pytest.raises(ValueError, match="p must be in"):
        ndl.data.RandomFlipHorizontal(1.5)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        ndl.data.RandomCrop(-1)


# ---------------------------------------------------------------- DataLoader


def test_dataloader_shuffled_order_after_seed_0_is_the_pinned_one():
    np.random.seed(0)
    dataset = ndl.data.NDArrayDataset(np.arange(100))
    loader = iter(ndl.data.DataLoader(dataset, batch_size=1, shuffle=True))
    first = [next(loader)[0].numpy().item() for _ in range(10)]
    assert first == [26, 86, 2, 55, 75, 93, 16, 73, 54, 95]


@pytest.mark.parametrize("n, batch_size", [(23, 5), (20, 5), (3, 10), (7, 1)])
def test_dataloader_batches_follow_array_split_and_last_may_be_short(n, batch_size):
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(np.arange(n)), batch_size=batch_size)
    expected = [list(range(start, min(start + batch_size, n))) for start in range(0, n, batch_size)]
    assert batch_indices(loader) == expected


def test_dataloader_draws_a_new_permutation_at_each_epoch():
    n, batch_size = 30, 4
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(np.arange(n)), batch_size, shuffle=True)
    np.random.seed(3)
    epochs = [sum(batch_indices(loader), []) for _ in range(3)]
    np.random.seed(3)
    expected = [np.random.permutation(n).tolist() for _ in range(3)]
    assert epochs == expected
    assert epochs[0] != epochs[1]


def test_dataloader_without_shuffle_is_the_same_every_epoch():
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(np.arange(10)), batch_size=3)
    assert batch_indices(loader) == batch_indices(loader)


def test_dataloader_batches_are_tensors_that_keep_dtypes(small_files):
    _, _, image_file, label_file = small_files
    dataset = ndl.data.MNISTDataset(image_file, label_file)
    for X, y in ndl.data.DataLoader(dataset, batch_size=3, shuffle=True):
        assert isinstance(X, ndl.Tensor) and isinstance(y, ndl.Tensor)
        assert X.dtype == "float32" and y.dtype == "uint8"
        assert X.shape[1:] == (20,) and y.shape == X.shape[:1]


def test_dataloader_batch_equals_dataset_at_its_indices(small_files):
    _, _, image_file, label_file = small_files
    dataset = ndl.data.MNISTDataset(image_file, label_file)
    np.random.seed(5)
    batches = list(ndl.data.DataLoader(dataset, batch_size=3, shuffle=True))
    np.random.seed(5)
    order = np.random.permutation(len(dataset))
    for (X, y), indices in zip(batches, np.array_split(order, [3, 6]), strict=True):
        np.testing.assert_array_equal(X.numpy(), dataset.images[indices])
        np.testing.assert_array_equal(y.numpy(), dataset.labels[indices])


def test_dataloader_rejects_batch_size_zero():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        ndl.data.DataLoader(ndl.data.NDArrayDataset(np.arange(3)), batch_size=0)


def test_ndarray_dataset_returns_one_entry_per_array_and_rejects_unequal_lengths():
    a, b = np.arange(6).reshape(3, 2), np.array([7, 8, 9])
    x, y = ndl.data.NDArrayDataset(a, b)[np.array([2, 0])]
    np.testing.assert_array_equal(x, a[[2, 0]])
    np.testing.assert_array_equal(y, b[[2, 0]])
    with pytest.raises(ValueError, match="different lengths"):
        ndl.data.NDArrayDataset(a, b[:2])


# ---------------------------------------------------------------- MNISTDataset


def test_mnist_dataset_reads_back_what_was_written(small_files):
    images, labels, image_file, label_file = small_files
    dataset = ndl.data.MNISTDataset(image_file, label_file)
    expected = images.reshape(7, 20).astype(np.float32) / 255
    assert len(dataset) == 7
    assert dataset.images.dtype == np.float32 and dataset.labels.dtype == np.uint8
    x, y = dataset[np.arange(7)]
    assert x.shape == (7, 20) and y.shape == (7,)
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, labels)


def test_mnist_dataset_indexes_by_int_slice_and_array(small_files):
    images, labels, image_file, label_file = small_files
    dataset = ndl.data.MNISTDataset(image_file, label_file)
    expected = images.reshape(7, 20).astype(np.float32) / 255
    for index in (4, slice(1, 5), np.array([6, 0, 3])):
        x, y = dataset[index]
        assert x.shape == expected[index].shape
        np.testing.assert_array_equal(x, expected[index])
        np.testing.assert_array_equal(y, labels[index])


def test_mnist_dataset_reads_28x28_files_like_mnist(tmp_path):
    images = random_uint8(3, 28, 28, seed=2)
    images[0, 0, 0], images[1, 0, 0] = 0, 255  # the ends of the range map to 0.0 and 1.0
    image_file, label_file = write_mnist_pair(tmp_path, images, np.array([0, 7, 9], np.uint8))
    dataset = ndl.data.MNISTDataset(image_file, label_file)
    assert dataset.images.shape == (3, 784)
    assert dataset.images[0, 0] == 0.0 and dataset.images[1, 0] == 1.0
    np.testing.assert_array_equal(dataset.images, images.reshape(3, 784) / np.float32(255))


def test_mnist_dataset_applies_transforms_image_by_image_on_rows_by_cols(small_files):
    """With transforms, is each image reshaped to (rows, cols, 1), transformed in list order,
    with its own random draws, and flattened again?"""
    images, _, image_file, label_file = small_files
    transforms = [ndl.data.RandomCrop(1), ndl.data.RandomFlipHorizontal(0.5)]
    dataset = ndl.data.MNISTDataset(image_file, label_file, transforms=transforms)
    indices = np.array([5, 0, 2, 2, 6, 1])
    np.random.seed(11)
    got, _ = dataset[indices]

    np.random.seed(11)
    expected = []
    for index in indices:
        img = images[index].reshape(5, 4, 1).astype(np.float32) / 255
        img = numpy_crop(img, *draw_shifts(1))
        img = numpy_flip(img, draw_flip(0.5))
        expected.append(img.reshape(-1))
    assert got.shape == (6, 20)
    np.testing.assert_array_equal(got, np.stack(expected))
    x, _ = dataset[3]
    assert x.shape == (20,)


def test_mnist_dataset_reads_the_digits_files(digits_dir):
    dataset = ndl.data.MNISTDataset(
        str(digits_dir / "train-images-idx3-ubyte.gz"),
        str(digits_dir / "train-labels-idx1-ubyte.gz"),
    )
    assert dataset.image_shape == (8, 8)
    assert dataset.images.shape == (len(dataset), 64) and dataset.images.dtype == np.float32
    assert dataset.images.min() == 0.0 and dataset.images.max() == 1.0
    assert sorted(set(dataset.labels.tolist())) == list(range(10))


def mnist_error(image_file, label_file) -> str:
    with pytest.raises(ValueError) as error:
        ndl.data.MNISTDataset(str(image_file), str(label_file))
    return str(error.value)


def test_mnist_dataset_reports_a_wrong_magic_number_with_the_file(tmp_path, small_files):
    images, labels, image_file, label_file = small_files
    message = mnist_error(label_file, image_file)  # the two files swapped
    assert re.search(re.escape(label_file) + ".*magic number is 2049, expected 2051", message)
    bad = write_idx(tmp_path / "bad-images.gz", images, magic=2052)
    assert re.search(
        "bad-images.gz.*magic number is 2052, expected 2051", mnist_error(bad, label_file)
    )


def test_mnist_dataset_reports_a_truncated_payload_with_the_file(tmp_path, small_files):
    images, labels, image_file, label_file = small_files
    short_images = write_idx(tmp_path / "short-images.gz", images, cut=3)
    message = mnist_error(short_images, label_file)
    assert re.search(
        "short-images.gz.*shape \\(7, 5, 4\\), so 156 bytes, but the file has 153", message
    )
    short_labels = write_idx(tmp_path / "short-labels.gz", labels, cut=1)
    assert "short-labels.gz" in mnist_error(image_file, short_labels)


def test_mnist_dataset_reports_a_truncated_header_or_gzip_stream_with_the_file(
    tmp_path, small_files
):
    images, labels, image_file, label_file = small_files
    no_header = write_idx(tmp_path / "no-header.gz", images, cut=images.size + 6)
    assert re.search(
        "no-header.gz.*too short for the 16-byte IDX header", mnist_error(no_header, label_file)
    )
    cut_stream = tmp_path / "cut-stream.gz"
    cut_stream.write_bytes(Path(image_file).read_bytes()[:-10])
    assert re.search("cut-stream.gz.*not a complete gzip file", mnist_error(cut_stream, label_file))


def test_mnist_dataset_rejects_different_numbers_of_images_and_labels(tmp_path, small_files):
    _, labels, image_file, _ = small_files
    fewer_labels = write_idx(tmp_path / "fewer-labels.gz", labels[:5])
    assert re.search(
        "7 images but .*fewer-labels.gz has 5 labels", mnist_error(image_file, fewer_labels)
    )
