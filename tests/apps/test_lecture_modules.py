"""The lecture's ScaleAdd / MultiPathScaleAdd: values, gradients and parameter discovery."""

import needle as ndl
import numpy as np
import pytest
from apps.lecture_modules import MultiPathScaleAdd, ScaleAdd
from checks import assert_shape_then_values, check_gradients
from needle import nn, optim


def test_scale_add_computes_x_times_s_plus_b():
    module = ScaleAdd(init_s=2.0, init_b=-1.0)
    x = np.array([[1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
    out = module(ndl.Tensor(x, requires_grad=False))
    assert_shape_then_values(out, x * 2.0 - 1.0)
    assert out.numpy().dtype == np.float32


def test_scale_add_parameters_are_s_then_b():
    module = ScaleAdd()
    assert [id(p) for p in module.parameters()] == [id(module.s), id(module.b)]
    assert all(isinstance(p, nn.Parameter) and p.shape == (1,) for p in module.parameters())


def test_scale_add_gradients():
    module = ScaleAdd(dtype="float64")

    def fn(x, s, b):
        module.s, module.b = s, b
        return module(x)

    rng = np.random.default_rng(0)
    check_gradients(fn, rng.standard_normal((3, 4)), np.array([0.7]), np.array([-0.2]))


def test_multipath_finds_the_parameters_of_every_path_in_its_list():
    model = MultiPathScaleAdd(num_paths=3)
    expected = [p for path in model.paths for p in (path.s, path.b)]
    assert [id(p) for p in model.parameters()] == [id(p) for p in expected]


def test_multipath_sums_its_paths():
    model = MultiPathScaleAdd(num_paths=2)
    model.paths[0].s.data = ndl.Tensor([3.0], dtype="float32")
    model.paths[1].b.data = ndl.Tensor([0.5], dtype="float32")
    x = np.array([1.0, -2.0, 4.0], dtype=np.float32)
    out = model(ndl.Tensor(x, requires_grad=False))
    assert_shape_then_values(out, (3 * x) + (x + 0.5))


def test_multipath_trains_every_path_through_parameters():
    model = MultiPathScaleAdd(num_paths=2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = ndl.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=False)
    before = [p.numpy().copy() for p in model.parameters()]
    model(x).sum().backward()
    opt.step()
    after = [p.numpy() for p in model.parameters()]
    # ds = sum(x) = 3, db = len(x) = 2 for each path
    for old, new, grad in zip(before, after, [3.0, 2.0, 3.0, 2.0], strict=True):
        np.testing.assert_allclose(new, old - 0.1 * grad, rtol=1e-6)


def test_multipath_needs_at_least_one_path():
    with pytest.raises(ValueError, match="num_paths.*0"):
        MultiPathScaleAdd(num_paths=0)
