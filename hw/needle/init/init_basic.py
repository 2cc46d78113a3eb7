"""Basic tensor constructors.

Every constructor takes `device=None, dtype="float32", requires_grad=False` and returns a leaf
Tensor. The random ones make exactly one `np.random.rand` / `np.random.randn` call of the requested
shape, so that results under `np.random.seed(...)` are reproducible and comparable with numpy:

    rand(*shape, low, high)   = low + (high - low) * np.random.rand(*shape)
    randn(*shape, mean, std)  = mean + std * np.random.randn(*shape)
    randb(*shape, p)          = np.random.rand(*shape) <= p      (True with probability p)

The device (`cpu()` by default) draws the samples in float64; the transformation is done in float64
and the result is converted once to `dtype`.
"""

import numpy as np

from ..autograd import Tensor
from ..backend_numpy import cpu


def rand(*shape, low=0.0, high=1.0, device=None, dtype="float32", requires_grad=False):
    """Uniform samples in [low, high): `low + (high - low) * U[0, 1)`, one `np.random.rand` call."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("rand in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def randn(*shape, mean=0.0, std=1.0, device=None, dtype="float32", requires_grad=False):
    """Gaussian samples `mean + std * N(0, 1)`, one `np.random.randn` call."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("randn in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def constant(*shape, c=1.0, device=None, dtype="float32", requires_grad=False):
    """A tensor of the given shape filled with the value `c`."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("constant in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def ones(*shape, device=None, dtype="float32", requires_grad=False):
    """A tensor of ones."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("ones in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def zeros(*shape, device=None, dtype="float32", requires_grad=False):
    """A tensor of zeros."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("zeros in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def randb(*shape, p=0.5, device=None, dtype="bool", requires_grad=False):
    """Bernoulli samples: `np.random.rand(*shape) <= p`, i.e. True (1) with probability p.

    Dropout draws its KEEP mask with this function, so it passes p = 1 - drop probability.
    """
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("randb in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def one_hot(n, i, device=None, dtype="float32", requires_grad=False):
    """Rows of the n x n identity: `one_hot(n, i)[k, j] = 1 if j == i[k] else 0`.

    `i` holds integer class labels (a Tensor, a numpy array or a list); the result has shape
    `i.shape + (n,)`.
    """
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("one_hot in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def zeros_like(array, *, device=None, requires_grad=False):
    """Zeros with the shape and dtype of `array` (and its device unless one is given)."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("zeros_like in needle/init/init_basic.py")
    ### END YOUR SOLUTION


def ones_like(array, *, device=None, requires_grad=False):
    """Ones with the shape and dtype of `array` (and its device unless one is given)."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("ones_like in needle/init/init_basic.py")
    ### END YOUR SOLUTION
