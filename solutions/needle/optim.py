"""Optimizers: SGD with momentum and weight decay, and Adam.

An optimizer holds a list of Parameters. `step()` reads each parameter's `.grad` and writes the
new value through `p.data = ...`, computed from detached tensors (`.data`) or from their numpy
values (`.numpy()`), so an update never builds a graph, and the old graph is not kept alive by
the optimizer's state. Hyperparameters are Python
floats, so float32 parameters stay float32 (a numpy float64 scalar would promote them).
"""

import numpy as np

from .autograd import Tensor


def _check_range(optimizer: str, name: str, value: float, low: float, high: float | None) -> float:
    """`value` as a Python float, or a ValueError if it is not in [low, high) (high=None: no
    upper bound)."""
    if value < low or (high is not None and value >= high):
        interval = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{optimizer}: {name} must be in {interval}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: keeps the parameters; `step()` updates them from their `.grad`."""

    def __init__(self, params):
        self.params = list(params)

    def step(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def reset_grad(self):
        """Forget every parameter's gradient (`p.grad = None`)."""
        for p in self.params:
            p.grad = None


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (an exponential moving average of gradients) and
    L2 weight decay. For each parameter w with gradient grad, u starting at 0:

        g = grad + weight_decay * w
        u = momentum * u + (1 - momentum) * g
        w = w - lr * u

    The velocities are kept in the dict `u`, keyed by parameter.
    Usual mistakes: modifying `w.grad` in place (add the decay to a new tensor); updating `w` with
    an expression that involves `w` itself rather than `w.data` (that builds a graph through every
    step and keeps it alive); numpy float64 scalars in the update (the result is then float64).
    Note: PyTorch's SGD with `dampening=momentum` follows this rule from the second step on; at
    the first it starts u at g itself (undampened), where this rule gives (1 - momentum) * g.
    """

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(params)
        self.lr = _check_range("SGD", "lr", lr, 0.0, None)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.weight_decay = _check_range("SGD", "weight_decay", weight_decay, 0.0, None)
        self.u: dict[Tensor, Tensor] = {}

    def step(self):
        ### BEGIN YOUR SOLUTION
        for w in self.params:
            if w.grad is None:
                continue
            g = w.grad.data + self.weight_decay * w.data
            u = self.momentum * self.u.get(w, 0.0) + (1 - self.momentum) * g
            self.u[w] = u
            w.data = w.data - self.lr * u
        ### END YOUR SOLUTION


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with L2 weight decay. At step t = 1, 2, ... (t is incremented once
    per `step()` call, not once per parameter), for each parameter w, with m and v starting at 0:

        g     = grad + weight_decay * w
        m     = beta1 * m + (1 - beta1) * g
        v     = beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t)
        v_hat = v / (1 - beta2^t)
        w     = w - lr * m_hat / (sqrt(v_hat) + eps)

    The moments are kept in the dicts `m` and `v`, keyed by parameter, and the step count in `t`.
    Usual mistakes: storing the bias-corrected m_hat, v_hat back into m, v (the correction is only
    for the update); incrementing t inside the parameter loop; eps inside the square root; keeping
    graphs alive through the moments (compute them from `.data`).
    """

    def __init__(self, params, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr = _check_range("Adam", "lr", lr, 0.0, None)
        self.beta1 = _check_range("Adam", "beta1", beta1, 0.0, 1.0)
        self.beta2 = _check_range("Adam", "beta2", beta2, 0.0, 1.0)
        self.eps = _check_range("Adam", "eps", eps, 0.0, None)
        self.weight_decay = _check_range("Adam", "weight_decay", weight_decay, 0.0, None)
        self.t = 0
        self.m: dict = {}  # parameter -> its first moment (a Tensor or a numpy array)
        self.v: dict = {}

    def step(self):
        ### BEGIN YOUR SOLUTION
        self.t += 1
        # m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t) differ from m and v by scalars:
        # folded into the step size and the root, the corrections cost no array operation.
        step_size = self.lr / (1 - self.beta1**self.t)
        root = (1 - self.beta2**self.t) ** 0.5
        for w in self.params:
            if w.grad is None:
                continue
            g = w.grad.numpy() + self.weight_decay * w.numpy()  # a new array: .grad untouched
            if w not in self.m:
                self.m[w] = np.zeros_like(g)
                self.v[w] = np.zeros_like(g)
            # The moments are the optimizer's own numpy arrays, updated in place.
            m, v = self.m[w], self.v[w]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            g *= g  # g is this step's own array: squared in place
            g *= 1 - self.beta2
            v += g
            # lr * m_hat / (sqrt(v_hat) + eps) = step_size * root * m / (sqrt(v) + eps * root),
            # in place in one new array.
            update = np.sqrt(v)
            update += self.eps * root
            np.divide(m, update, out=update)
            update *= step_size * root
            w.data = Tensor.make_const(w.numpy() - update)
        ### END YOUR SOLUTION
