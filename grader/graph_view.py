"""Pictures of needle's computational graphs, for the notebooks: `show_graph(tensor)`.

`show_graph(y)` draws the graph that produced the Tensor (or TensorTuple) `y`: one box per value,
with its op (and the op's settings, e.g. `Summation(axes=(1,))`), shape and dtype, its values when
they are few and, after `backward()`, its gradient; leaves grey, Parameters gold, outputs with a
thick border, and an arrow from each input to its consumer, numbered in input order when an op
has several. `show_graph(y, grads=True)` adds the graph of every gradient: the adjoint nodes that
`backward()` built out of needle ops (green), each saying whose adjoint it is.
`show_module_tree(model)` draws a Module's attributes as `parameters()` walks them.

The graph is read from what needle makes public on a value, and from nothing else: `op`,
`inputs`, `cached_data` (computed with `realize_cached_data()` when it is missing, e.g. in
LAZY_MODE), the data's shape and dtype, `grad`, `requires_grad`, and the class names Parameter,
Module and TensorTuple. The student's own `find_topo_sort` and `backward` are never called, so it
works on a half-finished needle; what it cannot show (a value whose op is not implemented yet, an
input that is not a needle value, a graph cut at `max_nodes`) is printed under the picture.

The layout is computed here with numpy and drawn with matplotlib (no Graphviz): nodes are put in
layers by their depth, long edges pass through invisible waypoints, the order within each layer
is improved by barycentre sweeps (fewer crossings), and nodes are then placed as close to their
neighbours as the spacing allows (an isotonic regression per layer).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Colours of the kinds of node (fill) and of a value that could not be computed (edge).
COLOURS = {
    "leaf": "#e6e6e6",
    "parameter": "#ffd972",
    "op": "#cfe0fc",
    "adjoint": "#cdeccd",
    "module": "#e3d7f5",
    "container": "#f2f2f2",
    "tensor": "#e6e6e6",
}
KIND_NAMES = {
    "leaf": "leaf (data)",
    "parameter": "Parameter",
    "op": "op result",
    "adjoint": "adjoint (built by backward)",
    "module": "Module",
    "container": "list / tuple / dict",
    "tensor": "Tensor, not a Parameter",
}
PROBLEM_EDGE = "#c0392b"
MAX_NODES = 400
SMALL = 6  # values of at most this many elements are written in the box
COMPACT_ABOVE = 60  # nodes: above this, a box shows only its op, shape and dtype
FONT_SIZE = 8.0
MIN_FONT_SIZE = 5.0
CHAR_INCHES = 0.6 * FONT_SIZE / 72  # width of one monospace character
LINE_INCHES = 1.25 * FONT_SIZE / 72  # height of one line of text
MAX_WIDTH_INCHES = 18.0


@dataclass
class Node:
    """One box of the picture."""

    index: int
    kind: str  # a key of COLOURS
    title: str
    details: list[str] = field(default_factory=list)
    problem: str | None = None  # what could not be shown about this node
    output: bool = False  # one of the values asked for


@dataclass
class Edge:
    """An arrow from `source` to `target`; `label` is written near the target (an input's
    position) or, with `middle`, halfway (an attribute name)."""

    source: int
    target: int
    label: str = ""
    middle: bool = False


@dataclass
class Graph:
    """What `show_graph` draws: nodes in topological order (inputs before consumers)."""

    nodes: list[Node]
    edges: list[Edge]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading needle's values


def _class_names(value: Any) -> set[str]:
    return {cls.__name__ for cls in type(value).__mro__}


def _is_value(value: Any) -> bool:
    """A needle Value as the API defines one: it has `op` and `inputs`."""
    return hasattr(value, "op") and hasattr(value, "inputs")


def _inputs(value: Any) -> list[Any]:
    inputs = getattr(value, "inputs", None)
    return list(inputs) if isinstance(inputs, list | tuple) else []


def _grad(value: Any) -> Any:
    try:
        return getattr(value, "grad", None)
    except Exception:  # a student's property that raises
        return None


def _not_implemented(error: NotImplementedError) -> str:
    from grader.notebook import not_implemented_yet

    return f"{not_implemented_yet(error)} is not implemented yet"


def _data(value: Any) -> tuple[Any, str | None]:
    """(the value's array or tuple of arrays, None) or (None, why it is not available)."""
    data = getattr(value, "cached_data", None)
    if data is not None:
        return data, None
    realize = getattr(value, "realize_cached_data", None)
    if realize is None:
        return None, "no cached_data and no realize_cached_data()"
    try:
        data = realize()
    except NotImplementedError as error:
        return None, f"not computed: {_not_implemented(error)}"
    except Exception as error:  # a student's op that fails: show it, do not stop
        text = f"{type(error).__name__}: {error}"
        return None, f"not computed: {text[:90]}"
    if data is None:
        return None, "not computed: realize_cached_data() returned None"
    return data, None


def _describe_array(data: Any) -> str:
    """'(2, 3) float32', or what else the data is."""
    if isinstance(data, tuple | list):
        parts = ", ".join(_describe_array(part) for part in data[:4])
        more = ", ..." if len(data) > 4 else ""
        return f"tuple of {len(data)}: {parts}{more}"
    shape, dtype = getattr(data, "shape", None), getattr(data, "dtype", None)
    if shape is None or dtype is None:
        return f"a {type(data).__name__}, not an array"
    return f"{tuple(shape)} {dtype}"


def _values_text(data: Any) -> str | None:
    """The values, on one line, when there are at most SMALL of them."""
    try:
        array = np.asarray(data)
    except Exception:
        return None
    if array.dtype == object or array.size > SMALL:
        return None
    return np.array2string(array.ravel(), precision=3, separator=" ", max_line_width=200)


def _op_title(op: Any) -> str:
    """The op's class and its simple public settings: `Summation(axes=(1,))`."""
    settings = []
    for key, setting in sorted(getattr(op, "__dict__", {}).items()):
        if key.startswith("_"):
            continue
        simple = isinstance(setting, int | float | bool | str | type(None)) or (
            isinstance(setting, tuple) and all(isinstance(x, int | float) for x in setting)
        )
        if simple:
            settings.append(f"{key}={setting!r}"[:24])
    return f"{type(op).__name__}({', '.join(settings)})" if settings else type(op).__name__


def _kind(value: Any, adjoint: bool) -> str:
    if adjoint:
        return "adjoint"
    if "Parameter" in _class_names(value):
        return "parameter"
    return "leaf" if getattr(value, "op", None) is None else "op"


def _collect(
    roots: list[Any], max_nodes: int, known: set[int] = frozenset()
) -> tuple[list[Any], bool]:
    """Up to `max_nodes` values reachable from `roots` through `inputs`, nearest first, not
    entering the `known` ones (ids); and whether some were left out."""
    seen: dict[int, Any] = {}
    queue = deque(root for root in roots if _is_value(root))
    cut = False
    while queue:
        value = queue.popleft()
        if id(value) in seen or id(value) in known:
            continue
        if len(seen) >= max_nodes:
            cut = True
            break
        seen[id(value)] = value
        queue.extend(x for x in _inputs(value) if _is_value(x) and id(x) not in seen)
    return list(seen.values()), cut


def _topological(values: list[Any]) -> list[Any]:
    """`values` with each after its inputs (post-order depth-first search, inputs left to
    right, as needle's own find_topo_sort), iteratively so that deep graphs fit."""
    kept = {id(value) for value in values}
    done: set[int] = set()
    order: list[Any] = []
    for root in values:
        stack = [(root, iter(_inputs(root)))]
        if id(root) in done:
            continue
        done.add(id(root))
        while stack:
            value, pending = stack[-1]
            for child in pending:
                if id(child) in kept and id(child) not in done:
                    done.add(id(child))
                    stack.append((child, iter(_inputs(child))))
                    break
            else:
                stack.pop()
                order.append(value)
    return order


def trace(
    outputs: Any, *, grads: bool = False, values: bool = True, max_nodes: int = MAX_NODES
) -> Graph:
    """The graph behind `outputs` (a value or a list of values) as data: see the module
    docstring. With `grads`, the graphs of the gradients too."""
    roots = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    notes: list[str] = []
    for root in roots:
        if not _is_value(root):
            notes.append(f"a {type(root).__name__} is not a needle Tensor: nothing to draw")
    forward, cut = _collect(roots, max_nodes)
    adjoint_of: dict[int, list[int]] = {}
    everything = list(forward)
    if grads:
        known = {id(value) for value in forward}
        grad_roots = [g for g in (_grad(value) for value in forward) if _is_value(g)]
        if not grad_roots:
            notes.append("no gradients: backward() has not run, or set no .grad")
        extra, grad_cut = _collect(grad_roots, max(max_nodes - len(forward), 0), known)
        cut = cut or grad_cut
        everything += extra
    ordered = _topological(everything)
    index = {id(value): i for i, value in enumerate(ordered)}
    forward_ids = {id(value) for value in forward}
    if grads:
        for value in forward:
            grad = _grad(value)
            if id(grad) in index:
                adjoint_of.setdefault(index[id(grad)], []).append(index[id(value)])
    compact = len(ordered) > COMPACT_ABOVE
    root_ids = {id(root) for root in roots}
    nodes, edges = [], []
    problems: dict[str, int] = {}
    nodes_problem: dict[int | None, str] = {}
    for i, value in enumerate(ordered):
        op = getattr(value, "op", None)
        is_adjoint = id(value) not in forward_ids
        kind = _kind(value, is_adjoint)
        if op is not None:
            title = _op_title(op)
        else:
            title = "Parameter" if kind == "parameter" else "leaf"
        if "TensorTuple" in _class_names(value):
            title += " -> tuple"
        node = Node(i, kind, title, [f"#{i}"], output=id(value) in root_ids)
        blocked = [index[id(x)] for x in _inputs(value) if nodes_problem.get(index.get(id(x)))]
        if getattr(value, "cached_data", None) is None and blocked:
            data, problem = None, f"not computed: needs #{blocked[0]}"  # its input failed
        else:
            data, problem = _data(value)
        if problem is not None:
            nodes_problem[i] = problem
        if problem is not None:
            node.problem = problem
            short = re.sub(r" in \S+\.py", "", problem)  # the file is in the notes below
            node.details.append(short if not compact else "not computed")
            problems[problem] = problems.get(problem, 0) + 1
        else:
            node.details[0] += "  " + _describe_array(data)
            shown = _values_text(data) if values and not compact else None
            if shown is not None:
                node.details.append(shown)
        if getattr(value, "requires_grad", None) is False and op is None and kind == "leaf":
            node.details[0] += "  (no grad)"
        if i in adjoint_of:
            owners = ", ".join(f"#{j}" for j in adjoint_of[i])
            node.details.append(f"adjoint of {owners}")
        grad = _grad(value)
        if grad is not None and not grads and not compact:
            grad_data = _data(grad)[0] if _is_value(grad) else grad
            shown = _values_text(grad_data) if grad_data is not None and values else None
            shape = getattr(grad_data, "shape", None)
            node.details.append(f"grad {shown if shown else tuple(shape or ())}")
        nodes.append(node)
        value_inputs = _inputs(value)
        for position, item in enumerate(value_inputs):
            if not _is_value(item):
                notes.append(f"#{i} {title}: input {position} is a {type(item).__name__}")
                continue
            if id(item) in index:
                label = str(position) if len(value_inputs) > 1 else ""
                edges.append(Edge(index[id(item)], i, label))
    for problem, count in problems.items():
        if "needs #" not in problem:
            notes.append(f"{count} of {len(nodes)} values {problem}")
    waiting = sum("needs #" in problem for problem in nodes_problem.values())
    if waiting:
        notes.append(f"{waiting} more not computed, as they need those values")
    if cut:
        notes.append(f"only the {max_nodes} values nearest the output are drawn")
    return Graph(nodes, edges, notes)


# ---------------------------------------------------------------- modules


def module_tree(module: Any, name: str = "model", max_nodes: int = MAX_NODES) -> Graph:
    """A Module's attributes as `Module.parameters()` walks them: sub-modules, lists, tuples
    and dicts, down to the Parameters (and the plain Tensors, which are not parameters)."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    seen: dict[int, int] = {}

    def add(value: Any) -> int | None:
        names = _class_names(value)
        if "Parameter" in names:
            kind, title, details = "parameter", "Parameter", [_describe_array(_data(value)[0])]
        elif "Tensor" in names:
            kind, title = "tensor", "Tensor, not a Parameter"
            details = [_describe_array(_data(value)[0])]
        elif "Module" in names:
            kind, title, details = "module", type(value).__name__, []
        elif isinstance(value, list | tuple | dict):
            kind, title, details = "container", f"{type(value).__name__} of {len(value)}", []
        else:
            return None
        if id(value) in seen:
            return seen[id(value)]
        if len(nodes) >= max_nodes:
            return None
        if not nodes:
            details.insert(0, name)
        node = Node(len(nodes), kind, title, details, output=not nodes)
        nodes.append(node)
        seen[id(value)] = node.index
        if kind == "module":
            children = [(key, v) for key, v in vars(value).items()]
        elif kind == "container":
            items = value.items() if isinstance(value, dict) else enumerate(value)
            children = [(f"[{key!r}]", v) for key, v in items]
        else:
            children = []
        for key, child in children:
            child_index = add(child)
            if child_index is not None:
                edges.append(Edge(node.index, child_index, str(key), middle=True))
        return node.index

    add(module)
    parameters = sum(node.kind == "parameter" for node in nodes)
    notes = [f"{parameters} Parameters found"]
    if len(nodes) >= max_nodes:
        notes.append(f"only the first {max_nodes} attributes are drawn")
    return Graph(nodes, edges, notes)


# ---------------------------------------------------------------- layout


def _isotonic(targets: np.ndarray) -> np.ndarray:
    """The non-decreasing sequence nearest to `targets` in least squares (pool adjacent
    violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for target in targets:
        blocks.append([float(target), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1] = [
                (blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count),
                blocks[-1][1] + count,
            ]
    return np.concatenate([np.full(int(count), mean) for mean, count in blocks])


def _crossings(upper: list[int], lower: list[int], links: list[tuple[int, int, float]]) -> int:
    """Edge crossings between two adjacent layers (orders given as lists of slot ids; a link is
    (upper slot, lower slot, where on the lower box it arrives, within +-0.5)): two links cross
    when their ends are in opposite orders on the two layers."""
    up = {v: i for i, v in enumerate(upper)}
    down = {v: i for i, v in enumerate(lower)}
    ends = np.array(
        [(up[a], down[b] + port) for a, b, port in links if a in up and b in down]
    ).reshape(-1, 2)
    top = np.sign(ends[:, None, 0] - ends[None, :, 0])
    bottom = np.sign(ends[:, None, 1] - ends[None, :, 1])
    return int((top * bottom < 0).sum()) // 2


def _mean_of(x: np.ndarray, slots: list[int], default: float) -> float:
    return sum(float(x[s]) for s in slots) / len(slots) if slots else float(default)


@dataclass
class Layout:
    """Centres (x in characters, y in lines; y grows downwards) and each edge's route."""

    x: np.ndarray
    y: np.ndarray
    routes: list[list[tuple[float, float]]]


def _layers(count: int, edges: list[Edge]) -> list[int]:
    """Each node's layer: one below its deepest input, then moved down to just above its first
    consumer (so that a leaf or a result waits next to where it is used)."""
    inputs: list[list[int]] = [[] for _ in range(count)]
    consumers: list[list[int]] = [[] for _ in range(count)]
    for edge in edges:
        inputs[edge.target].append(edge.source)
        consumers[edge.source].append(edge.target)
    layer = [0] * count
    for v in range(count):  # indices are topological
        layer[v] = 1 + max((layer[u] for u in inputs[v]), default=-1)
    for v in reversed(range(count)):
        if consumers[v]:
            layer[v] = min(layer[c] for c in consumers[v]) - 1
    return layer


def _order(
    layers: list[list[int]],
    above: list[list[int]],
    below: list[list[int]],
    links: list[tuple[int, int, float]],
) -> list[list[int]]:
    """The slots of each layer reordered by barycentre sweeps (down, up, ...): each slot goes
    to the mean position of its neighbours in the layer just swept; the order with the fewest
    crossings is kept."""
    depth = len(layers)
    level_of = {slot: level for level, slots in enumerate(layers) for slot in slots}
    between = [[link for link in links if level_of[link[0]] == level] for level in range(depth)]
    port = {(a, b): offset for a, b, offset in links}

    def crossings(order: list[list[int]]) -> int:
        return sum(_crossings(order[i], order[i + 1], between[i]) for i in range(depth - 1))

    best, fewest = [list(slots) for slots in layers], crossings(layers)
    for sweep in range(8):
        downwards = sweep % 2 == 0
        neighbours = above if downwards else below
        for level in range(1, depth) if downwards else range(depth - 2, -1, -1):
            swept = layers[level - 1] if downwards else layers[level + 1]
            position = {slot: i for i, slot in enumerate(swept)}
            keys = {}
            for i, slot in enumerate(layers[level]):
                if downwards:
                    linked = [position[n] for n in neighbours[slot]]
                else:  # an input sits above the side of its consumer where it arrives
                    linked = [position[n] + port[slot, n] for n in neighbours[slot]]
                keys[slot] = sum(linked) / len(linked) if linked else float(i)
            layers[level].sort(key=keys.__getitem__)
        count = crossings(layers)
        if count < fewest:
            best, fewest = [list(slots) for slots in layers], count
    return best


def _x_coordinates(layers, widths, neighbours) -> np.ndarray:
    """Centres in each layer: as near the mean of their neighbours as the boxes allow (3
    characters apart at least), a few rounds."""
    x = np.zeros(len(widths))

    def offsets(slots: list[int]) -> np.ndarray:
        gaps = [(widths[a] + widths[b]) / 2 + 3 for a, b in zip(slots, slots[1:], strict=False)]
        return np.cumsum([0.0, *gaps])

    for slots in layers:
        x[slots] = offsets(slots) - offsets(slots)[-1] / 2
    for _ in range(6):
        for slots in layers:
            wanted = np.array([_mean_of(x, neighbours[s], x[s]) for s in slots])
            x[slots] = _isotonic(wanted - offsets(slots)) + offsets(slots)
    if len(x):
        x -= (x - np.asarray(widths) / 2).min()  # the leftmost box starts at 0
    return x


def layout(widths: Sequence[float], heights: Sequence[float], edges: list[Edge]) -> Layout:
    """Layered layout of a DAG whose edges go from lower to higher node index (see the module
    docstring); x in characters, y in lines."""
    count = len(widths)
    layer = _layers(count, edges)
    # Slots: the nodes, then one waypoint for each layer that a long edge crosses.
    slot_layer, slot_width = list(layer), [float(w) for w in widths]
    chains: list[list[int]] = []
    for edge in edges:
        chain = [edge.source]
        for level in range(layer[edge.source] + 1, layer[edge.target]):
            slot_layer.append(level)
            slot_width.append(2.0)
            chain.append(len(slot_layer) - 1)
        chains.append([*chain, edge.target])
    arriving = [0] * count
    for edge in edges:
        arriving[edge.target] += not edge.middle
    links: list[tuple[int, int, float]] = []
    arrived = [0] * count
    for edge, chain in zip(edges, chains, strict=True):
        offset = 0.0
        if not edge.middle and arriving[edge.target] > 1:
            k = arriving[edge.target]
            offset = (arrived[edge.target] - (k - 1) / 2) / (k + 1)  # within +-0.5
            arrived[edge.target] += 1
        pairs = list(zip(chain, chain[1:], strict=False))
        links += [(a, b, offset if b == edge.target else 0.0) for a, b in pairs]
    above: list[list[int]] = [[] for _ in slot_layer]
    below: list[list[int]] = [[] for _ in slot_layer]
    for a, b, _ in links:
        above[b].append(a)
        below[a].append(b)
    layers: list[list[int]] = [[] for _ in range(max(slot_layer, default=0) + 1)]
    for slot, level in enumerate(slot_layer):
        layers[level].append(slot)
    layers = _order(layers, above, below, links)
    neighbours = [a + b for a, b in zip(above, below, strict=True)]
    x = _x_coordinates(layers, slot_width, neighbours)
    tallest = max(heights, default=1)
    y = np.array([tallest / 2 + level * (tallest + 3) for level in slot_layer], dtype=float)
    # Routes: from the bottom of the source through the waypoints to the top of the target,
    # where an op's inputs arrive side by side, left to right in input order.
    arrived = [0] * count
    routes = []
    for edge, chain in zip(edges, chains, strict=True):
        source, target = chain[0], chain[-1]
        end_x = x[target]
        if not edge.middle and arriving[target] > 1:
            spacing = min(widths[target] / arriving[target], 6.0)
            end_x += (arrived[target] - (arriving[target] - 1) / 2) * spacing
            arrived[target] += 1
        points = [(x[source], y[source] + heights[source] / 2)]
        points += [(x[slot], y[slot]) for slot in chain[1:-1]]
        points.append((end_x, y[target] - heights[target] / 2))
        routes.append(points)
    return Layout(x[:count], y[:count], routes)


# ---------------------------------------------------------------- drawing


@dataclass
class _Panel:
    """One graph, laid out, with its extent in characters (x) and lines (y)."""

    graph: Graph
    lines: list[list[str]]
    placed: Layout
    width: float
    height: float


def _panel(graph: Graph) -> _Panel:
    lines = [[node.title, *node.details] for node in graph.nodes]
    widths = np.array([max(len(line) for line in text) + 2 for text in lines], dtype=float)
    heights = np.array([len(text) + 1 for text in lines], dtype=float)
    placed = layout(widths, heights, graph.edges)
    width = max(float((placed.x + widths / 2).max(initial=0)), 30.0)
    height = max(float((placed.y + heights / 2).max(initial=0)), 4.0)
    return _Panel(graph, lines, placed, width, height)


def _draw_edges(ax, panel: _Panel, font: float) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    for number, (edge, route) in enumerate(
        zip(panel.graph.edges, panel.placed.routes, strict=True)
    ):
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(route) - 1)
        arrow = FancyArrowPatch(
            path=MplPath(route, codes),
            arrowstyle="-|>",
            mutation_scale=7 * font / FONT_SIZE,
            color="#555555",
            linewidth=0.8,
            zorder=1,
        )
        arrow.set_gid(f"edge-{edge.source}-{edge.target}-{number}")
        ax.add_patch(arrow)
        if not edge.label:
            continue
        if edge.middle:  # an attribute name, halfway
            (x0, y0), (x1, y1) = route[0], route[-1]
            where, align = ((x0 + x1) / 2, (y0 + y1) / 2), "center"
        else:  # an input's position, next to where it arrives
            where, align = (route[-1][0] + 0.4, route[-1][1] - 0.9), "left"
        ax.text(
            *where,
            edge.label,
            fontsize=font * 0.85,
            color="#333333",
            ha=align,
            va="center",
            zorder=3,
            family="monospace",
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )


def _draw_nodes(ax, panel: _Panel, font: float) -> None:
    for node, text, x, y in zip(
        panel.graph.nodes, panel.lines, panel.placed.x, panel.placed.y, strict=True
    ):
        box = {
            "boxstyle": "round,pad=0.35",
            "facecolor": COLOURS[node.kind],
            "edgecolor": PROBLEM_EDGE if node.problem else "#333333",
            "linewidth": 2.0 if node.output else 0.8,
            "linestyle": "--" if node.problem else "-",
        }
        label = ax.text(
            x,
            y,
            "\n".join(text),
            ha="center",
            va="center",
            fontsize=font,
            family="monospace",
            zorder=2,
            bbox=box,
        )
        label.set_gid(f"node-{node.index}")


def draw(graphs: Sequence[Graph], titles: Sequence[str | None] = ()):
    """A matplotlib Figure with the graphs side by side, inputs on top. Every node's text has
    the gid `node-<index>` and every arrow the gid `edge-<source>-<target>-<number>`, so that
    a saved SVG can be checked."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    panels = [_panel(graph) for graph in graphs]
    natural_width = sum(panel.width for panel in panels) * CHAR_INCHES + 0.5 * len(panels)
    scale = min(1.0, MAX_WIDTH_INCHES / natural_width)
    font = max(FONT_SIZE * scale, MIN_FONT_SIZE)
    height = max(panel.height for panel in panels) * LINE_INCHES * font / FONT_SIZE
    height = max(height + 4 * LINE_INCHES, 1.5)
    figure = Figure(figsize=(max(natural_width * scale, 4.0), height))
    ratios = [panel.width for panel in panels]
    axes = figure.subplots(1, len(panels), gridspec_kw={"width_ratios": ratios}, squeeze=False)
    named = [*titles, *[None] * len(panels)]
    kinds: list[str] = []
    tallest = max(panel.height for panel in panels)
    for ax, panel, title in zip(axes[0], panels, named, strict=False):
        ax.set_xlim(-1, panel.width + 1)
        ax.set_ylim(tallest + 1, -1)  # y grows downwards: inputs on top, panels top-aligned
        ax.axis("off")
        if title is not None:
            ax.set_title(f"{title} ({len(panel.graph.nodes)} nodes)", fontsize=font + 1)
        _draw_edges(ax, panel, font)
        _draw_nodes(ax, panel, font)
        for node in panel.graph.nodes:
            if node.kind not in kinds:
                kinds.append(node.kind)
    handles = [
        Patch(facecolor=COLOURS[kind], edgecolor="#333333", label=KIND_NAMES[kind])
        for kind in kinds
    ]
    if handles:
        figure.legend(
            handles=handles, loc="upper center", ncol=len(handles), fontsize=font, frameon=False
        )
    top = 1 - 4 * LINE_INCHES / height  # room for the legend and the titles
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=top, wspace=0.05)
    return figure


def _display(figure: Any) -> None:
    """Show `figure` in the notebook (IPython's display); outside IPython, do nothing."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(figure)


def show_graph(
    outputs: Any,
    *,
    grads: bool = False,
    values: bool = True,
    titles: Sequence[str] | str | None = None,
    max_nodes: int = MAX_NODES,
) -> Graph | list[Graph]:
    """Draw the graph behind a Tensor or TensorTuple (for a list of them, the graphs side by
    side) and print what it could not show. With `grads`, the gradients' graphs too. Returns
    the traced graph(s) (nodes, edges, notes) for a closer look."""
    several = isinstance(outputs, list)
    items = outputs if several else [outputs]
    names = [titles] if isinstance(titles, str) else list(titles or [])
    graphs = [trace(item, grads=grads, values=values, max_nodes=max_nodes) for item in items]
    _display(draw(graphs, names))
    for name, graph in zip([*names, *[None] * len(graphs)], graphs, strict=False):
        for note in graph.notes:
            print(f"{name}: {note}" if name and several else note)
    return graphs if several else graphs[0]


def show_module_tree(module: Any, name: str = "model") -> Graph:
    """Draw a Module's tree of attributes, as `parameters()` finds the Parameters in it."""
    graph = module_tree(module, name)
    _display(draw([graph], [f"{name} = {type(module).__name__}(...)"]))
    for note in graph.notes:
        print(note)
    return graph
