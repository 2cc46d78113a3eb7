"""A residual MLP for handwritten digits, trained with needle.

    ResidualBlock(x) = ReLU(x + norm(Linear(Dropout(ReLU(norm(Linear(x)))))))
    MLPResNet(x)     = Linear(blocks(ReLU(Linear(x))))          with num_blocks ResidualBlocks

Modules are created in the order they run, so that under a fixed seed the initial weights are
the same for everyone. `needle` is imported from the Python path this file runs with; from the
folder that holds both `needle/` and `apps/`:

    python -m apps.mlp_resnet --data-dir ../data/digits
"""

import argparse
import os

import needle as ndl
import needle.nn as nn
import numpy as np


def ResidualBlock(dim, hidden_dim, norm=nn.BatchNorm1d, drop_prob=0.1):
    """(B, dim) -> (B, dim): a two-layer branch with a skip connection, then ReLU."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("ResidualBlock in apps/mlp_resnet.py")
    ### END YOUR SOLUTION


def MLPResNet(
    dim, hidden_dim=100, num_blocks=3, num_classes=10, norm=nn.BatchNorm1d, drop_prob=0.1
):
    """(B, dim) -> (B, num_classes) logits; the blocks work on hidden_dim features with a
    hidden_dim // 2 bottleneck."""
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("MLPResNet in apps/mlp_resnet.py")
    ### END YOUR SOLUTION


def epoch(dataloader, model, opt=None):
    """One pass over the data: trains when an optimizer is given (train mode), else only
    evaluates (eval mode). Returns (error rate, mean softmax loss per sample) as floats."""
    np.random.seed(4)
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("epoch in apps/mlp_resnet.py")
    ### END YOUR SOLUTION


def train_mnist(
    batch_size=100,
    epochs=10,
    optimizer=ndl.optim.Adam,
    lr=0.001,
    weight_decay=0.001,
    hidden_dim=100,
    data_dir="data",
):
    """Train MLPResNet on the MNIST-format files in data_dir (input size from their header).
    Returns (train error, train loss, test error, test loss); the train ones of the last epoch."""
    np.random.seed(4)
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError("train_mnist in apps/mlp_resnet.py")
    ### END YOUR SOLUTION


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train MLPResNet on MNIST-format data.")
    parser.add_argument("--data-dir", default="data", help="folder with the four gzip IDX files")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    train_error, train_loss, test_error, test_loss = train_mnist(
        epochs=args.epochs, data_dir=args.data_dir
    )
    print(f"train error {train_error:.4f}  train loss {train_loss:.4f}")
    print(f"test error  {test_error:.4f}  test loss  {test_loss:.4f}")
