"""needle.init against numpy transcriptions of the formulas in the API page.

Seeded checks: after `np.random.seed(s)`, an init function must give the formula applied to ONE
`np.random.rand`/`randn` call of the requested shape, and leave numpy's generator exactly where that
one call leaves it (so later seeded draws, e.g. the next layer's weights, match too).
"""

import math

import needle as ndl
import numpy as np
import pytest
from needle import init

SEED = 7


def assert_one_draw(make, draw, dtype=np.float32):
    """`make()` equals `draw()` (numpy) under the same seed, has its dtype and no gradient, and
    consumes exactly the random numbers `draw()` consumes."""
    np.random.seed(SEED)
    tensor = make()
    state_after_make = np.random.get_state()[1].copy(), np.random.get_state()[2]
    np.random.seed(SEED)
    expected = np.asarray(draw()).astype(dtype)
    state_after_draw = np.random.get_state()[1].copy(), np.random.get_state()[2]
    assert isinstance(tensor, ndl.Tensor)
    assert tensor.shape == expected.shape, f"shape {tensor.shape}, expected {expected.shape}"
    assert tensor.numpy().dtype == np.dtype(dtype), f"dtype {tensor.dtype}, expected {dtype}"
    np.testing.assert_array_equal(tensor.numpy(), expected)
    assert not tensor.requires_grad
    np.testing.assert_array_equal(state_after_make[0], state_after_draw[0])
    assert state_after_make[1] == state_after_draw[1], "random numbers consumed differ"


def test_rand_is_one_uniform_draw_scaled_to_low_high():
    assert_one_draw(
        lambda: init.rand(3, 4, low=-2.0, high=5.0),
        lambda: np.random.rand(3, 4) * 7.0 - 2.0,
    )


def test_randn_is_one_gaussian_draw_scaled_by_std_and_shifted_by_mean():
    assert_one_draw(
        lambda: init.randn(2, 3, 5, mean=1.5, std=0.25),
        lambda: np.random.randn(2, 3, 5) * 0.25 + 1.5,
    )


def test_randb_is_one_uniform_draw_at_most_p():
    assert_one_draw(
        lambda: init.randb(6, 7, p=0.3), lambda: np.random.rand(6, 7) <= 0.3, dtype=np.bool_
    )


def test_randb_can_return_float32_masks():
    assert_one_draw(
        lambda: init.randb(6, 7, p=0.8, dtype="float32"),
        lambda: (np.random.rand(6, 7) <= 0.8).astype(np.float32),
    )


def test_random_constructors_honour_dtype_and_requires_grad():
    np.random.seed(SEED)
    t = init.randn(4, 2, dtype="float64", requires_grad=True)
    assert t.numpy().dtype == np.float64
    assert t.requires_grad


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: init.constant(2, 3, c=-1.5), np.full((2, 3), -1.5)),
        (lambda: init.ones(4), np.ones(4)),
        (lambda: init.zeros(3, 1, 2), np.zeros((3, 1, 2))),
    ],
    ids=["constant", "ones", "zeros"],
)
def test_constant_constructors_fill_float32_without_drawing(make, expected):
    assert_one_draw(make, lambda: expected)


def test_constant_constructors_honour_dtype():
    t = init.ones(2, 2, dtype="float64", requires_grad=True)
    assert t.numpy().dtype == np.float64
    assert t.requires_grad


def test_one_hot_picks_rows_of_the_identity():
    labels = ndl.Tensor(np.array([2, 0, 4, 2], dtype=np.uint8), requires_grad=False)
    t = init.one_hot(5, labels)
    assert t.shape == (4, 5)
    assert t.numpy().dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), np.eye(5, dtype=np.float32)[[2, 0, 4, 2]])
    assert not t.requires_grad


def test_one_hot_accepts_numpy_labels_and_a_dtype():
    t = init.one_hot(3, np.array([1, 1, 0]), dtype="float64")
    np.testing.assert_array_equal(t.numpy(), np.eye(3)[[1, 1, 0]])
    assert t.numpy().dtype == np.float64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zeros_like_and_ones_like_copy_shape_and_dtype(dtype):
    source = ndl.Tensor(np.arange(6, dtype=dtype).reshape(2, 3))
    for fn, value in [(init.zeros_like, 0.0), (init.ones_like, 1.0)]:
        t = fn(source)
        assert t.shape == (2, 3)
        assert t.numpy().dtype == np.dtype(dtype)
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
        assert not t.requires_grad


# The four initializers: the formula of the API page, transcribed with numpy.
def xavier_uniform_bound(fan_in, fan_out, gain):
    return gain * math.sqrt(6 / (fan_in + fan_out))


def xavier_normal_std(fan_in, fan_out, gain):
    return gain * math.sqrt(2 / (fan_in + fan_out))


def kaiming_uniform_bound(fan_in):
    return math.sqrt(2) * math.sqrt(3 / fan_in)


def kaiming_normal_std(fan_in):
    return math.sqrt(2) / math.sqrt(fan_in)


def test_xavier_uniform_is_one_draw_in_plus_minus_gain_sqrt_6_over_fan_sum():
    a = xavier_uniform_bound(5, 3, 1.5)
    assert_one_draw(
        lambda: init.xavier_uniform(5, 3, gain=1.5), lambda: np.random.rand(5, 3) * 2 * a - a
    )


def test_xavier_normal_is_one_draw_with_std_gain_sqrt_2_over_fan_sum():
    std = xavier_normal_std(5, 3, 0.5)
    assert_one_draw(
        lambda: init.xavier_normal(5, 3, gain=0.5), lambda: np.random.randn(5, 3) * std
    )


def test_kaiming_uniform_is_one_draw_in_plus_minus_sqrt2_sqrt_3_over_fan_in():
    b = kaiming_uniform_bound(6)
    assert_one_draw(lambda: init.kaiming_uniform(6, 4), lambda: np.random.rand(6, 4) * 2 * b - b)


def test_kaiming_normal_is_one_draw_with_std_sqrt2_over_sqrt_fan_in():
    std = kaiming_normal_std(6)
    assert_one_draw(lambda: init.kaiming_normal(6, 4), lambda: np.random.randn(6, 4) * std)


def test_initializers_pass_dtype_and_requires_grad_through():
    t = init.kaiming_uniform(3, 2, dtype="float64", requires_grad=True)
    assert t.numpy().dtype == np.float64
    assert t.requires_grad


@pytest.mark.parametrize("initializer", [init.kaiming_uniform, init.kaiming_normal])
def test_kaiming_rejects_other_nonlinearities_naming_them(initializer):
    with pytest.raises(ValueError, match="tanh"):
        initializer(4, 4, nonlinearity="tanh")


# Distribution statistics on large shapes. With n = 1000 * 500 samples the standard error of the
# sample mean is std / sqrt(n) ~ 1.4e-3 std and that of the sample std ~ 1e-3 std: 1e-2 std is 7
# standard errors.
FAN_IN, FAN_OUT = 1000, 500
STAT_TOL = 1e-2


def assert_statistics(tensor, std, bound=None):
    values = tensor.numpy()
    assert values.shape == (FAN_IN, FAN_OUT)
    assert abs(values.mean()) < STAT_TOL * std
    assert abs(values.std() / std - 1) < STAT_TOL
    if bound is not None:
        assert values.min() >= -bound and values.max() <= bound
        # the samples fill the interval: the extremes are within 1e-3 of the bounds
        assert values.min() < -bound * (1 - 1e-3) and values.max() > bound * (1 - 1e-3)


def test_xavier_uniform_statistics():
    np.random.seed(0)
    a = xavier_uniform_bound(FAN_IN, FAN_OUT, 2.0)
    assert_statistics(init.xavier_uniform(FAN_IN, FAN_OUT, gain=2.0), a / math.sqrt(3), bound=a)


def test_xavier_normal_statistics():
    np.random.seed(0)
    std = xavier_normal_std(FAN_IN, FAN_OUT, 2.0)
    assert_statistics(init.xavier_normal(FAN_IN, FAN_OUT, gain=2.0), std)


def test_kaiming_uniform_statistics():
    np.random.seed(0)
    b = kaiming_uniform_bound(FAN_IN)
    assert_statistics(init.kaiming_uniform(FAN_IN, FAN_OUT), b / math.sqrt(3), bound=b)


def test_kaiming_normal_statistics():
    np.random.seed(0)
    assert_statistics(init.kaiming_normal(FAN_IN, FAN_OUT), kaiming_normal_std(FAN_IN))
