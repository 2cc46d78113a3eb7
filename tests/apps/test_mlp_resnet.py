"""apps/mlp_resnet.py: architecture, parameter counts, initial weights, epoch, training."""

import gc
import gzip
import struct
from pathlib import Path

import needle as ndl
import numpy as np
import pytest
from apps.mlp_resnet import MLPResNet, ResidualBlock, epoch, train_mnist

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- helpers


def num_parameters(model) -> int:
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def linear_layers(module) -> list:
    """The Linear modules of a model built from Sequential and Residual, in execution order."""
    if isinstance(module, ndl.nn.Linear):
        return [module]
    if isinstance(module, ndl.nn.Sequential):
        return [layer for child in module.modules for layer in linear_layers(child)]
    if isinstance(module, ndl.nn.Residual):
        return linear_layers(module.fn)
    return []


def all_modules(module) -> list:
    children = list(getattr(module, "modules", ())) + [getattr(module, "fn", None)]
    return [module] + [m for child in children if child is not None for m in all_modules(child)]


def numpy_error_and_loss(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Error rate and mean softmax cross-entropy per sample, in float64 numpy."""
    z = logits.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(labels)), labels].mean()
    return float(np.mean(z.argmax(axis=1) != labels)), float(loss)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(f">{1 + array.ndim}i", 0x800 + array.ndim, *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), mtime=0))


def small_loader(n=20, dim=6, batch_size=7, shuffle=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)).astype(np.float32)
    y = rng.integers(0, 4, size=n).astype(np.uint8)
    dataset = ndl.data.NDArrayDataset(X, y)
    return X, y, ndl.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory) -> Path:
    """data/digits when `make data` has written it, else a fresh copy written by the grader."""
    folder = ROOT / "data" / "digits"
    if (folder / "train-images-idx3-ubyte.gz").exists():
        return folder
    from grader.digits import write_digits

    folder = tmp_path_factory.mktemp("digits")
    write_digits(folder)
    return folder


# ---------------------------------------------------------------- architecture


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: ResidualBlock(15, 2, norm=ndl.nn.BatchNorm1d), 111),
        (lambda: ResidualBlock(784, 100, norm=ndl.nn.LayerNorm1d), 159452),
        (lambda: MLPResNet(150, 100, 5, 10, norm=ndl.nn.LayerNorm1d), 68360),
        (lambda: MLPResNet(10, 100, 1, 100, norm=ndl.nn.BatchNorm1d), 21650),
    ],
)
def test_parameter_counts_are_the_pinned_ones(make, expected):
    assert num_parameters(make()) == expected


@pytest.mark.parametrize("norm", [ndl.nn.BatchNorm1d, ndl.nn.LayerNorm1d])
def test_output_shapes(norm):
    x = ndl.Tensor(np.random.randn(5, 12).astype(np.float32))
    assert ResidualBlock(12, 4, norm=norm)(x).shape == (5, 12)
    assert MLPResNet(12, 8, 2, 3, norm=norm)(x).shape == (5, 3)


def test_mlp_resnet_draws_initial_weights_in_execution_order():
    """Linear(dim, h), then per block Linear(h, h//2), Linear(h//2, h), then Linear(h, classes):
    each draws kaiming_uniform(in, out) for its weight, then kaiming_uniform(out, 1) for its bias.
    Is the model built in that order?"""
    np.random.seed(7)
    model = MLPResNet(12, 10, num_blocks=2, num_classes=3)
    np.random.seed(7)
    sizes = [(12, 10), (10, 5), (5, 10), (10, 5), (5, 10), (10, 3)]
    expected = []
    for fan_in, fan_out in sizes:
        weight = ndl.init.kaiming_uniform(fan_in, fan_out).numpy()
        bias = ndl.init.kaiming_uniform(fan_out, 1).numpy().reshape(1, fan_out)
        expected.append((weight, bias))
    layers = linear_layers(model)
    assert [layer.weight.shape for layer in layers] == [size for size in sizes]
    for layer, (weight, bias) in zip(layers, expected, strict=True):
        np.testing.assert_array_equal(layer.weight.numpy(), weight)
        np.testing.assert_array_equal(layer.bias.numpy(), bias)


def test_residual_block_is_relu_of_input_plus_branch():
    """With dropout off and in eval mode: block(x) = relu(x + norm(L2(relu(norm(L1(x))))))."""
    block = ResidualBlock(6, 3, norm=ndl.nn.LayerNorm1d, drop_prob=0.0)
    first, second = linear_layers(block)
    x = np.random.randn(4, 6).astype(np.float32)

    def layer_norm(h):
        return (h - h.mean(1, keepdims=True)) / np.sqrt(h.var(1, keepdims=True) + 1e-5)

    h = np.maximum(layer_norm(x @ first.weight.numpy() + first.bias.numpy()), 0)
    branch = layer_norm(h @ second.weight.numpy() + second.bias.numpy())
    expected = np.maximum(x + branch, 0)
    np.testing.assert_allclose(block(ndl.Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- epoch


def test_evaluation_epoch_returns_float_error_and_per_sample_mean_loss():
    """Without an optimizer: eval mode everywhere, and the loss is the mean over samples, not the
    mean of batch means (20 samples in batches of 7, 7 and 6)."""
    X, y, loader = small_loader()
    model = MLPResNet(6, 8, num_blocks=1, num_classes=4)
    model.train()
    error, loss = epoch(loader, model)
    assert type(error) is float and type(loss) is float
    assert all(not module.training for module in all_modules(model))
    expected_error, expected_loss = numpy_error_and_loss(model(ndl.Tensor(X)).numpy(), y)
    assert error == pytest.approx(expected_error)
    assert loss == pytest.approx(expected_loss, rel=1e-5)  # float32 forward, float64 oracle


def test_evaluation_epoch_leaves_parameters_and_running_statistics_alone():
    _, _, loader = small_loader()
    model = MLPResNet(6, 8, num_blocks=1, num_classes=4)
    before = [p.numpy().copy() for p in model.parameters()]
    norm = next(m for m in all_modules(model) if isinstance(m, ndl.nn.BatchNorm1d))
    running_mean = norm.running_mean.numpy().copy()
    epoch(loader, model)
    for old, p in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), old)
    np.testing.assert_array_equal(norm.running_mean.numpy(), running_mean)


def test_training_epoch_uses_train_mode_and_updates_parameters():
    _, _, loader = small_loader(shuffle=True)
    model = MLPResNet(6, 8, num_blocks=1, num_classes=4)
    model.eval()
    before = [p.numpy().copy() for p in model.parameters()]
    # weight decay: a Linear bias just before BatchNorm gets a zero gradient from the loss
    opt = ndl.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.01)
    error, loss = epoch(loader, model, opt)
    assert type(error) is float and type(loss) is float
    assert all(module.training for module in all_modules(model))
    after = model.parameters()
    changed = [not np.array_equal(p.numpy(), old) for old, p in zip(before, after, strict=True)]
    assert all(changed)


def test_epoch_seeds_numpy_with_4_before_drawing_the_order():
    n = 20
    _, _, loader = small_loader(n=n, shuffle=True)
    model = MLPResNet(6, 8, num_blocks=1, num_classes=4)
    np.random.seed(123)
    epoch(loader, model)  # eval mode: the permutation is the only random draw
    after_epoch = np.random.rand()
    np.random.seed(4)
    np.random.permutation(n)
    assert after_epoch == np.random.rand()


def test_training_epochs_keep_no_graph_alive():
    _, _, loader = small_loader(n=40, batch_size=8, shuffle=True)
    model = MLPResNet(6, 8, num_blocks=2, num_classes=4)
    opt = ndl.optim.Adam(model.parameters(), lr=0.01)
    epoch(loader, model, opt)  # the first steps create the optimizer's state
    gc.collect()
    live = ndl.autograd.TENSOR_COUNTER
    for _ in range(3):
        epoch(loader, model, opt)
        epoch(loader, model)
    gc.collect()
    assert ndl.autograd.TENSOR_COUNTER == live


# ---------------------------------------------------------------- train_mnist


def test_train_mnist_takes_the_input_size_from_the_file_header(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(
            tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 5, 3), np.uint8)
        )
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, np.uint8))
    results = train_mnist(batch_size=8, epochs=1, hidden_dim=6, data_dir=str(tmp_path))
    assert len(results) == 4 and all(type(value) is float for value in results)


def test_train_mnist_seeds_numpy_itself(digits_dir):
    """Does an earlier seed leave the result alone (train_mnist starts with np.random.seed(4))?"""
    np.random.seed(0)
    first = train_mnist(epochs=1, hidden_dim=20, data_dir=str(digits_dir))
    np.random.seed(1)
    assert train_mnist(epochs=1, hidden_dim=20, data_dir=str(digits_dir)) == first


@pytest.mark.slow
def test_train_mnist_reaches_95_percent_test_accuracy_on_the_digits(digits_dir):
    # lr 0.003 and 20 epochs rather than the defaults (0.001, 10 epochs: 95.2%, one test digit
    # above the bar): measured over 12 initial seeds, test accuracy 96.1% to 98.0%, so a
    # different float rounding in the library cannot tip the result below 95%.
    train_error, train_loss, test_error, test_loss = train_mnist(
        epochs=20, lr=0.003, data_dir=str(digits_dir)
    )
    assert test_error <= 0.05, f"test accuracy {1 - test_error:.4f} < 0.95"
    assert train_error <= 0.01 and train_loss < test_loss
