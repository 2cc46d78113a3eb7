"""needle: a small deep-learning library with reverse-mode automatic differentiation."""

from . import data, init, nn, ops, optim
from .autograd import Tensor, TensorTuple, all_devices, cpu
from .ops import *
