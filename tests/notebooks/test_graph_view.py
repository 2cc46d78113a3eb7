"""The notebooks' graph pictures (grader/graph_view.py), checked against needle's own graph.

In this process `needle` is the reference in solutions/ (tests/conftest.py); the skeleton's case
runs in a subprocess with hw/ on the path. The oracle for a graph is needle's `find_topo_sort`:
one box per value it returns and one arrow per input of each.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import needle as ndl  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from apps import lecture_modules  # noqa: E402
from apps.mlp_resnet import MLPResNet  # noqa: E402

from grader import graph_view  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STUB = re.compile(r"(\w+\.\w+) in hw/((?:needle|apps)/[\w/]+\.py) is not implemented yet")


def expression():
    x1 = ndl.Tensor(np.array([0.5, 1.0, 2.0]))
    x2 = ndl.Tensor(np.array([3.0, -1.0, 0.0]))
    return (x1 * x2 + ndl.exp(x1)).sum()


def tuple_expression():
    a = ndl.Tensor(np.array([1.0, 2.0, 3.0], dtype="float32"))
    t = ndl.fused_add_scalars(a, 1.0, 10.0)
    return (t[0] * t[1]).sum()


def training_step():
    """The loss of one Linear + ReLU + Linear + SoftmaxLoss step, after backward()."""
    np.random.seed(0)
    model = ndl.nn.Sequential(ndl.nn.Linear(20, 16), ndl.nn.ReLU(), ndl.nn.Linear(16, 10))
    X = ndl.Tensor(np.random.randn(8, 20).astype("float32"))
    y = ndl.Tensor(np.random.randint(0, 10, 8).astype("uint8"), requires_grad=False)
    loss = ndl.nn.SoftmaxLoss()(model(X), y)
    loss.backward()
    return loss


def resnet_step():
    """A loss whose graph with its gradients has a few hundred values."""
    np.random.seed(0)
    model = MLPResNet(12, hidden_dim=16, num_blocks=2, num_classes=5)
    X = ndl.Tensor(np.random.randn(8, 12).astype("float32"))
    y = ndl.Tensor(np.random.randint(0, 5, 8).astype("uint8"), requires_grad=False)
    loss = ndl.nn.SoftmaxLoss()(model(X), y)
    loss.backward()
    return loss


def needle_graph(output, grads: bool) -> list:
    """The values needle's own find_topo_sort reaches from `output` (and, with `grads`, from
    the gradient of each of them)."""
    forward = ndl.autograd.find_topo_sort([output])
    if not grads:
        return forward
    gradients = [node.grad for node in forward if node.grad is not None]
    return ndl.autograd.find_topo_sort([output, *gradients])


def svg_ids(figure, tmp_path: Path, name: str) -> tuple[int, int]:
    """(boxes, arrows) in the figure saved as SVG (their gids become element ids); the same
    figure is saved as a PNG too, which must be a real, non-empty picture."""
    figure.savefig(tmp_path / f"{name}.png", dpi=60)
    png = (tmp_path / f"{name}.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    figure.savefig(tmp_path / f"{name}.svg")
    svg = (tmp_path / f"{name}.svg").read_text()
    return len(re.findall(r'id="node-\d+"', svg)), len(re.findall(r'id="edge-\d+-\d+-\d+"', svg))


CASES = {
    "expression": (expression, False),
    "expression_with_gradients": (lambda: backward(expression()), True),
    "tensor_tuple": (tuple_expression, False),
    "tensor_tuple_with_gradients": (lambda: backward(tuple_expression()), True),
    "linear_relu_softmax_step": (training_step, True),
}


def backward(output):
    output.backward()
    return output


@pytest.mark.parametrize("case", CASES)
def test_picture_has_a_box_per_value_and_an_arrow_per_input(case, tmp_path):
    """Does the picture (PNG and SVG) of each graph hold one box per value and one arrow per
    input, as needle's find_topo_sort counts them, with the inputs of an op numbered?"""
    make, grads = CASES[case]
    output = make()
    values = needle_graph(output, grads)
    edges = sum(len(value.inputs) for value in values)
    graph = graph_view.trace(output, grads=grads)
    assert len(graph.nodes) == len(values) and len(graph.edges) == edges
    assert graph.notes == []
    assert svg_ids(graph_view.draw([graph], [case]), tmp_path, case) == (len(values), edges)
    for node in graph.nodes:  # arrows into an op with several inputs carry 0, 1, ...
        labels = [edge.label for edge in graph.edges if edge.target == node.index]
        assert labels == ([str(i) for i in range(len(labels))] if len(labels) > 1 else labels)


def test_boxes_say_op_shape_dtype_values_and_mark_leaves_parameters_and_adjoints():
    """Are leaves, Parameters, op results and adjoints told apart, and does a box carry its op,
    shape, dtype and (few) values, and after backward() whose adjoint an adjoint node is?"""
    loss = training_step()
    graph = graph_view.trace(loss, grads=True)
    kinds = [node.kind for node in graph.nodes]
    assert kinds.count("parameter") == 4  # two weights, two biases
    assert {"leaf", "op", "adjoint"} <= set(kinds)
    (output,) = [node for node in graph.nodes if node.output]
    assert output.title == "DivScalar(scalar=8)" and "() float32" in output.details[0]
    assert float(output.details[1].strip("[]")) == pytest.approx(float(loss.numpy()), 1e-3)
    adjoints = [node for node in graph.nodes if any("adjoint of" in d for d in node.details)]
    owners = {int(n) for node in adjoints for n in re.findall(r"#(\d+)", node.details[-1])}
    forward = [node.index for node in graph.nodes if node.kind != "adjoint"]
    assert owners == set(forward)  # every forward value's gradient is drawn


def test_a_few_hundred_values_stay_apart_and_inputs_arrive_in_order():
    """Is a graph of a few hundred values (an MLPResNet step and its gradients) laid out with no
    two boxes overlapping, each op's inputs arriving left to right in input order?"""
    graph = graph_view.trace(resnet_step(), grads=True)
    assert 200 <= len(graph.nodes) <= graph_view.MAX_NODES and graph.notes == []
    panel = graph_view._panel(graph)
    widths = np.array([max(map(len, lines)) + 2 for lines in panel.lines])
    x, y = panel.placed.x, panel.placed.y
    for row in np.unique(y):
        slots = np.flatnonzero(y == row)
        order = slots[np.argsort(x[slots])]
        gaps = np.diff(x[order]) - (widths[order][:-1] + widths[order][1:]) / 2
        assert (gaps >= 1).all(), f"boxes overlap in the row at y={row}"
    for node in graph.nodes:
        ends = [
            route[-1][0]
            for edge, route in zip(graph.edges, panel.placed.routes, strict=True)
            if edge.target == node.index
        ]
        assert ends == sorted(ends), node.title


def test_module_tree_finds_what_parameters_finds():
    """Does the module tree hold exactly the Parameters that parameters() returns, reached
    through sub-modules and lists, edges named by attribute, and running statistics shown as
    plain Tensors?"""
    model = lecture_modules.MultiPathScaleAdd(num_paths=3)
    tree = graph_view.module_tree(model)
    assert sum(node.kind == "parameter" for node in tree.nodes) == len(model.parameters()) == 6
    assert [node.title for node in tree.nodes][:3] == ["MultiPathScaleAdd", "list of 3", "ScaleAdd"]
    assert {edge.label for edge in tree.edges} == {"paths", "[0]", "[1]", "[2]", "s", "b"}
    norm = graph_view.module_tree(ndl.nn.BatchNorm1d(4))
    kinds = {edge.label: norm.nodes[edge.target].kind for edge in norm.edges}
    assert kinds["weight"] == kinds["bias"] == "parameter"
    assert kinds["running_mean"] == kinds["running_var"] == "tensor"


class FakeValue:
    """A student's half-made value: public op, inputs and cached_data only."""

    def __init__(self, op=None, inputs=(), data=None, fails=None):
        self.op, self.inputs, self.cached_data, self.fails = op, list(inputs), data, fails

    def realize_cached_data(self):
        if self.fails is not None:
            raise self.fails
        return self.cached_data


class Broken:
    """An op."""


def test_what_cannot_be_shown_is_said():
    """Are an input that is not a needle value, an op that fails, a stub, the values that
    wait for them, and a graph cut at max_nodes each named in the notes?"""
    leaf = FakeValue(data=np.ones(3))
    failing = FakeValue(Broken(), [leaf, np.zeros(3)], fails=ValueError("shapes (3,) and (4,)"))
    stub = FakeValue(Broken(), [leaf], fails=NotImplementedError("Log.compute in needle/ops/x.py"))
    waiting = FakeValue(Broken(), [failing, stub])
    graph = graph_view.trace(waiting)
    notes = "\n".join(graph.notes)
    assert "input 1 is a ndarray" in notes
    assert "not computed: ValueError: shapes (3,) and (4,)" in notes
    assert re.search(r"not computed: Log\.compute in \S*needle/ops/x\.py is not implemented", notes)
    assert "1 more not computed, as they need those values" in notes
    assert [node.problem is not None for node in graph.nodes] == [False, True, True, True]
    cut = graph_view.trace(expression(), max_nodes=3)
    assert len(cut.nodes) == 3 and "only the 3 values nearest the output" in cut.notes[-1]
    assert "not a needle Tensor" in graph_view.trace(np.ones(2)).notes[0]


SKELETON_SCRIPT = """
import json, sys
import numpy as np
import needle as ndl
from grader import graph_view
a = ndl.Tensor(np.ones((2, 2), dtype="float32"))
b = ndl.Tensor(np.ones((2, 2), dtype="float32"))
ndl.autograd.LAZY_MODE = True
y = (ndl.exp(a * b) / 2.0).sum()
ndl.autograd.LAZY_MODE = False
graph = graph_view.trace(y)
graph_view.draw([graph], ["skeleton"]).savefig(sys.argv[1])
print(json.dumps({"nodes": len(graph.nodes), "edges": len(graph.edges), "notes": graph.notes,
                  "problems": [node.problem for node in graph.nodes]}))
"""


def test_graph_of_the_skeleton_says_what_is_not_implemented(tmp_path):
    """On the untouched hw/, is a graph recorded in LAZY_MODE drawn, with each value that
    cannot be computed naming the stub (as the stub names itself, under hw/) or its input?"""
    done = subprocess.run(
        [sys.executable, "-c", SKELETON_SCRIPT, str(tmp_path / "skeleton.png")],
        cwd=ROOT / "notebooks",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "hw"), str(ROOT)])},
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert (found["nodes"], found["edges"]) == (6, 5)  # a, b, a * b, exp, / 2, sum
    stubs = [STUB.search(note) for note in found["notes"]]
    named = [match for match in stubs if match]
    assert named, found["notes"]
    name, file = named[0].groups()
    assert f'raise NotImplementedError("{name} in {file}")' in (ROOT / "hw" / file).read_text()
    assert any(problem and "needs #" in problem for problem in found["problems"]), found
    assert (tmp_path / "skeleton.png").read_bytes().startswith(b"\x89PNG")
