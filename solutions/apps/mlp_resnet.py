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
    branch = nn.Sequential(
        nn.Linear(dim, hidden_dim),
        norm(hidden_dim),
        nn.ReLU(),
        nn.Dropout(drop_prob),
        nn.Linear(hidden_dim, dim),
        norm(dim),
    )
    return nn.Sequential(nn.Residual(branch), nn.ReLU())
    ### END YOUR SOLUTION


def MLPResNet(
    dim, hidden_dim=100, num_blocks=3, num_classes=10, norm=nn.BatchNorm1d, drop_prob=0.1
):
    """(B, dim) -> (B, num_classes) logits; the blocks work on hidden_dim features with a
    hidden_dim // 2 bottleneck."""
    ### BEGIN YOUR SOLUTION
    layers = [nn.Linear(dim, hidden_dim), nn.ReLU()]
    for _ in range(num_blocks):
        layers.append(ResidualBlock(hidden_dim, hidden_dim // 2, norm=norm, drop_prob=drop_prob))
    layers.append(nn.Linear(hidden_dim, num_classes))
    return nn.Sequential(*layers)
    ### END YOUR SOLUTION


def epoch(dataloader, model, opt=None):
    """One pass over the data: trains when an optimizer is given (train mode), else only
    evaluates (eval mode). Returns (error rate, mean softmax loss per sample) as floats."""
    np.random.seed(4)
    ### BEGIN YOUR SOLUTION
    if opt is None:
        model.eval()
    else:
        model.train()
    loss_fn = nn.SoftmaxLoss()
    num_errors = 0
    total_loss = 0.0
    num_samples = 0
    for X, y in dataloader:
        logits = model(X)
        loss = loss_fn(logits, y)
        if opt is not None:
            opt.reset_grad()
            loss.backward()
            opt.step()
        batch_size = X.shape[0]
        num_errors += int((logits.numpy().argmax(axis=1) != y.numpy()).sum())
        total_loss += float(loss.numpy()) * batch_size
        num_samples += batch_size
    return num_errors / num_samples, total_loss / num_samples
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
    train_dataset = ndl.data.MNISTDataset(
        os.path.join(data_dir, "train-images-idx3-ubyte.gz"),
        os.path.join(data_dir, "train-labels-idx1-ubyte.gz"),
    )
    test_dataset = ndl.data.MNISTDataset(
        os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"),
        os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"),
    )
    train_loader = ndl.data.DataLoader(train_dataset, batch_size, shuffle=True)
    test_loader = ndl.data.DataLoader(test_dataset, batch_size)
    image_size = train_dataset[0][0].shape[0]  # rows * cols, as the file header says
    model = MLPResNet(image_size, hidden_dim=hidden_dim)
    opt = optimizer(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        train_error, train_loss = epoch(train_loader, model, opt)
    test_error, test_loss = epoch(test_loader, model)
    return train_error, train_loss, test_error, test_loss
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
