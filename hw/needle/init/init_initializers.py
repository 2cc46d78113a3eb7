"""Weight initializers (Glorot & Bengio 2010; He et al. 2015).

Each returns a (fan_in, fan_out) Tensor from exactly ONE `rand` or `randn` call; keyword arguments
(`device`, `dtype`, `requires_grad`) are passed through to it.

    xavier_uniform:   U(-a, a),      a   = gain * sqrt(6 / (fan_in + fan_out))
    xavier_normal:    N(0, std^2),   std = gain * sqrt(2 / (fan_in + fan_out))
    kaiming_uniform:  U(-b, b),      b   = sqrt(2) * sqrt(3 / fan_in)     (gain sqrt(2) for ReLU)
    kaiming_normal:   N(0, std^2),   std = sqrt(2) / sqrt(fan_in)

Usual mistakes: Kaiming uses fan_in only, not fan_in + fan_out; the uniform bound is sqrt(3) times
the standard deviation (a uniform U(-b, b) has std b / sqrt(3)); bounds computed with numpy
(`np.sqrt`) are float64 scalars, so use `math.sqrt` and keep them Python floats.
"""

import math

from .init_basic import rand, randn


def _check_nonlinearity(initializer: str, nonlinearity: str) -> None:
    """Only ReLU (gain sqrt(2)) is supported, as in the course."""
    if nonlinearity != "relu":
        raise ValueError(
            f"{initializer}: unsupported nonlinearity {nonlinearity!r}, expected 'relu'"
        )


def xavier_uniform(fan_in, fan_out, gain=1.0, **kwargs):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); shape (fan_in, fan_out)."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("xavier_uniform in needle/init/init_initializers.py")
    ### END YOUR SOLUTION


def xavier_normal(fan_in, fan_out, gain=1.0, **kwargs):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)); shape (fan_in, fan_out)."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("xavier_normal in needle/init/init_initializers.py")
    ### END YOUR SOLUTION


def kaiming_uniform(fan_in, fan_out, nonlinearity="relu", **kwargs):
    """U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2) for ReLU.

    Shape (fan_in, fan_out). Any nonlinearity other than "relu" is a ValueError.
    """
    _check_nonlinearity("kaiming_uniform", nonlinearity)
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("kaiming_uniform in needle/init/init_initializers.py")
    ### END YOUR SOLUTION


def kaiming_normal(fan_in, fan_out, nonlinearity="relu", **kwargs):
    """N(0, std^2) with std = gain / sqrt(fan_in), gain = sqrt(2) for ReLU.

    Shape (fan_in, fan_out). Any nonlinearity other than "relu" is a ValueError.
    """
    _check_nonlinearity("kaiming_normal", nonlinearity)
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("kaiming_normal in needle/init/init_initializers.py")
    ### END YOUR SOLUTION
