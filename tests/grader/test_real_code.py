"""Correct code written the ways real students write it keeps full marks.

Each test writes one way that differs from solutions/ in form but not in what the assignment
specifies (the course's own skeleton, the lecture's snippets, the spec's real shapes, another
container for optimizer state, another module nesting, the course's repository layout, ...) and
grades it; every problem must keep full marks. The planted mistakes (test_planted_mistakes.py)
are the other half: the same checks still catch the wrong versions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import pipeline, upload
from grader import problems as registry

from .conftest import SOLUTIONS, copy_solutions, edit_file

pytestmark = pytest.mark.slow

FULL = {pid: registry.load(pid).PROBLEM.points for pid in registry.PROBLEM_IDS}
NN = "needle/nn/nn_basic.py"
LOG = "needle/ops/ops_logarithmic.py"
OPTIM = "needle/optim.py"
DATA = "needle/data/data_basic.py"
APP = "apps/mlp_resnet.py"


def assert_full_marks(folder: Path, problems=None) -> None:
    result = pipeline.grade(folder, problems)
    lost = {
        p.id: [f"{c.name}: {c.message}" for c in p.checks if not c.passed] or p.error
        for p in result.problems
        if p.score < FULL[p.id]
    }
    assert lost == {}, lost


def edited(tmp_path: Path, *edits: tuple[str, str, str]) -> Path:
    root = copy_solutions(tmp_path / "submission")
    for path, old, new in edits:
        edit_file(root / path, old, new)
    return root


# 1. API the assignment does not promise -----------------------------------------------------------


def test_eval_returning_none_as_in_the_course_skeleton(tmp_path):
    edit = (NN, "        return self.train(False)\n", "        self.train(False)\n")
    root = edited(tmp_path, edit)
    assert_full_marks(root)


# 2. The spec's real shapes ------------------------------------------------------------------------


def test_mnist_code_that_assumes_28_by_28_images(tmp_path):
    root = edited(
        tmp_path,
        (
            DATA,
            "self.images = raw_images.reshape(num_images, rows * cols)",
            "self.images = raw_images.reshape(num_images, 784)",
        ),
        (
            APP,
            "image_size = train_dataset[0][0].shape[0]  # rows * cols, as the file header says\n"
            "    model = MLPResNet(image_size, hidden_dim=hidden_dim)",
            "model = MLPResNet(28 * 28, hidden_dim=hidden_dim)",
        ),
    )
    assert_full_marks(root, ["data", "mlp_resnet"])


# 3. Representations the spec leaves open ----------------------------------------------------------


@pytest.mark.parametrize("shape", ["(28, 28, 1)", "(1, 784)"])
def test_dataset_items_in_another_shape(tmp_path, shape):
    root = edited(
        tmp_path,
        (
            DATA,
            "        return images, labels\n",
            f"        return images.reshape(images.shape[:-1] + {shape}), labels\n",
        ),
    )
    assert_full_marks(root, ["data"])


@pytest.mark.parametrize(
    "key", ["i", "id(w)"], ids=["keyed_by_index_as_in_the_lecture", "keyed_by_id"]
)
def test_adam_moments_in_another_container(tmp_path, key):
    root = edited(
        tmp_path,
        (
            OPTIM,
            "        for w in self.params:\n            if w.grad is None:\n"
            "                continue\n"
            "            g = w.grad.numpy() + self.weight_decay * w.numpy()  # a new array",
            "        for i, w in enumerate(self.params):\n            if w.grad is None:\n"
            "                continue\n"
            "            g = w.grad.numpy() + self.weight_decay * w.numpy()  # a new array",
        ),
        (
            OPTIM,
            "            if w not in self.m:\n                self.m[w] = np.zeros_like(g)\n"
            "                self.v[w] = np.zeros_like(g)\n",
            f"            if {key} not in self.m:\n"
            f"                self.m[{key}] = np.zeros_like(g)\n"
            f"                self.v[{key}] = np.zeros_like(g)\n",
        ),
        (OPTIM, "m, v = self.m[w], self.v[w]", f"m, v = self.m[{key}], self.v[{key}]"),
    )
    assert_full_marks(root, ["adam"])


def test_norm_weights_stored_as_one_by_dim(tmp_path):
    ones = "Parameter(init.ones(dim, device=device, dtype=dtype))"
    zeros = "Parameter(init.zeros(dim, device=device, dtype=dtype))"
    root = copy_solutions(tmp_path / "submission")
    path = root / NN
    text = path.read_text()
    assert text.count(ones) == 2 and text.count(zeros) == 2
    text = text.replace(ones, "Parameter(init.ones(1, dim, device=device, dtype=dtype))")
    text = text.replace(zeros, "Parameter(init.zeros(1, dim, device=device, dtype=dtype))")
    path.write_text(text)
    assert_full_marks(root, ["layernorm", "batchnorm"])


# 4. Behaviour, not structure ----------------------------------------------------------------------


def test_mlp_resnet_with_a_leading_flatten(tmp_path):
    root = edited(
        tmp_path,
        (
            APP,
            "layers = [nn.Linear(dim, hidden_dim), nn.ReLU()]",
            "layers = [nn.Flatten(), nn.Linear(dim, hidden_dim), nn.ReLU()]",
        ),
    )
    assert_full_marks(root, ["mlp_resnet"])


def test_mlp_resnet_nested_one_sequential_deeper(tmp_path):
    root = edited(
        tmp_path,
        (
            APP,
            "    return nn.Sequential(*layers)\n",
            "    return nn.Sequential(nn.Sequential(*layers[:-1]), layers[-1])\n",
        ),
        (
            APP,
            "    return nn.Sequential(nn.Residual(branch), nn.ReLU())\n",
            "    return nn.Sequential(nn.Sequential(nn.Residual(branch)), nn.ReLU())\n",
        ),
    )
    assert_full_marks(root, ["mlp_resnet"])


# 5. Tolerances at float32's resolution ------------------------------------------------------------


def test_logsoftmax_as_z_minus_logsumexp(tmp_path):
    """The course's formula: at logits near 1e5 the subtraction loses a few float32 ulps."""
    root = edited(
        tmp_path,
        (
            LOG,
            "        shifted = Z - z_max\n"
            "        return shifted - array_api.log(array_api.sum(array_api.exp(shifted), axis=1, "
            "keepdims=True))\n",
            "        lse = array_api.log(array_api.sum(array_api.exp(Z - z_max), axis=1, "
            "keepdims=True))\n"
            "        return Z - (lse + z_max)\n",
        ),
    )
    assert_full_marks(root, ["logsumexp"])


# 6. Stand-ins that hold wherever real code looks things up ----------------------------------------


def test_app_importing_the_data_classes_at_module_level(tmp_path):
    root = edited(
        tmp_path,
        (
            APP,
            "import numpy as np\n",
            "import numpy as np\nfrom needle.data import DataLoader, MNISTDataset\n"
            "from needle.nn import BatchNorm1d, Dropout, SoftmaxLoss\n",
        ),
        (APP, "    train_dataset = ndl.data.MNISTDataset(", "    train_dataset = MNISTDataset("),
        (APP, "    test_dataset = ndl.data.MNISTDataset(", "    test_dataset = MNISTDataset("),
        (APP, "train_loader = ndl.data.DataLoader(", "train_loader = DataLoader("),
        (APP, "test_loader = ndl.data.DataLoader(", "test_loader = DataLoader("),
        (APP, "loss_fn = nn.SoftmaxLoss()", "loss_fn = SoftmaxLoss()"),
        (APP, "        nn.Dropout(drop_prob),\n", "        Dropout(drop_prob),\n"),
    )
    assert_full_marks(root, ["mlp_resnet"])


def test_epoch_counting_samples_through_the_dataloader(tmp_path):
    """Students use `len(dataloader.dataset)` and `len(dataloader)`, as a DataLoader allows."""
    root = edited(
        tmp_path,
        (
            APP,
            "    return num_errors / num_samples, total_loss / num_samples\n",
            "    assert len(dataloader) > 0\n"
            "    return num_errors / len(dataloader.dataset), "
            "total_loss / len(dataloader.dataset)\n",
        ),
    )
    assert_full_marks(root, ["mlp_resnet"])


# 10. Averages the spec leaves open ----------------------------------------------------------------


def test_epoch_loss_as_the_mean_of_batch_means(tmp_path):
    root = edited(
        tmp_path,
        (APP, "    num_samples = 0\n", "    num_samples = 0\n    num_batches = 0\n"),
        (
            APP,
            "        total_loss += float(loss.numpy()) * batch_size\n",
            "        total_loss += float(loss.numpy())\n        num_batches += 1\n",
        ),
        (
            APP,
            "    return num_errors / num_samples, total_loss / num_samples\n",
            "    return num_errors / num_samples, total_loss / num_batches\n",
        ),
    )
    assert_full_marks(root, ["mlp_resnet"])


# 8. The course's own repository layout ------------------------------------------------------------


def course_layout(tmp_path: Path) -> Path:
    """solutions/ laid out as the course's repository: python/needle/ beside apps/, the app
    importing `python.needle`."""
    root = tmp_path / "hw2"
    shutil.copytree(SOLUTIONS / "needle", root / "python" / "needle")
    shutil.copytree(SOLUTIONS / "apps", root / "apps")
    edit_file(
        root / APP,
        "import needle as ndl\nimport needle.nn as nn\n",
        "import python.needle as ndl\nimport python.needle.nn as nn\n",
    )
    return root


def test_course_layout_is_graded_as_is(tmp_path):
    assert_full_marks(course_layout(tmp_path))


def test_course_layout_in_a_batch_and_in_an_upload(tmp_path):
    from grader import batch

    root = course_layout(tmp_path / "class")
    located = upload.find_submission(tmp_path / "class", tmp_path / "scratch")
    assert located.folder == root and "python/needle" in located.note
    (result,) = [batch.grade_one(root, None, False, None)]
    assert result.score == result.max_score == registry.total_points()


# Rejections on purpose say which rule ------------------------------------------------------------


def test_a_misnamed_attribute_is_named_with_the_rule(tmp_path):
    root = copy_solutions(tmp_path / "submission")
    path = root / NN
    text = path.read_text()
    text = text.replace(
        "self.weight = Parameter(init.ones(dim", "self.weights = Parameter(init.ones(dim"
    )
    path.write_text(text)
    result = pipeline.grade(root, ["layernorm"])
    messages = [c.message for c in result.problems[0].checks if not c.passed]
    assert messages and all("has no attribute 'weight'" in m for m in messages[:1])
    assert "the assignment fixes this attribute's name" in messages[0]
    assert "keep their parameters as weight, bias" in messages[0]


# 7 and 9. What the lecture writes, on the library's broadcasting and axes ------------------------


def test_logsumexp_gradient_as_the_lecture_writes_it(tmp_path):
    """The lecture's gradient: the reshaped output broadcasts against Z implicitly."""
    root = edited(
        tmp_path,
        (
            LOG,
            "        z_max = array_api.max(Z.realize_cached_data(), axis=self.axes, "
            "keepdims=True)\n"
            "        shifted_exp = exp(Z - Tensor.make_const(array_api.broadcast_to(z_max, "
            "Z.shape)))\n"
            "        sum_exp = broadcast_to(reshape(summation(shifted_exp, self.axes), kept), "
            "Z.shape)\n"
            "        grad = broadcast_to(reshape(out_grad, kept), Z.shape)\n"
            "        return grad * shifted_exp / sum_exp\n",
            "        return out_grad.reshape(kept) * exp(Z - node.reshape(kept))\n",
        ),
    )
    assert_full_marks(root)


def test_batchnorm_eval_without_explicit_broadcast(tmp_path):
    """The lecture's eval branch: (n, d) against (d,) running statistics, broadcast implicitly."""
    root = edited(
        tmp_path,
        (
            NN,
            "        else:\n"
            "            centered = x - self.running_mean\n"
            "            var = self.running_var\n",
            "        else:\n"
            "            y = (x - self.running_mean) / (self.running_var + self.eps) ** 0.5\n"
            "            return self.weight * y + self.bias\n",
        ),
    )
    assert_full_marks(root)


def test_summation_with_an_int_axis(tmp_path):
    root = edited(
        tmp_path,
        (
            NN,
            "var = ((centered**2).sum(axes=(1,)) / dim).reshape((batch_size, 1))",
            "var = (ops.summation(centered**2, axes=1) / dim).reshape((batch_size, 1))",
        ),
    )
    assert_full_marks(root, ["layernorm"])
