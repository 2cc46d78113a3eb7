"""Neural-network modules: the `Module` base class, layers, normalisations and losses."""

from .nn_basic import (
    BatchNorm1d,
    Dropout,
    Flatten,
    Identity,
    L2Loss,
    LayerNorm1d,
    Linear,
    Module,
    Parameter,
    ReLU,
    Residual,
    Sequential,
    SoftmaxLoss,
)

__all__ = [
    "BatchNorm1d",
    "Dropout",
    "Flatten",
    "Identity",
    "L2Loss",
    "LayerNorm1d",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "Residual",
    "Sequential",
    "SoftmaxLoss",
]
