"""The homework notebooks: committed clean and paired with their sources, and executed in a real
Jupyter kernel, against solutions/ (everything runs, plots appear, full marks) and against the
untouched hw/ (execution reaches the end, and the only errors are the stubs' NotImplementedErrors).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from grader.problems import PROBLEM_IDS

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
SOURCE_PATHS = sorted(NOTEBOOKS.glob("*.py"))
PROBLEMS = set(PROBLEM_IDS)  # every graded problem has a check cell somewhere
LOCKED_MARK = "# DO NOT EDIT"
EXPERIMENT_MARK = "# YOUR EXPERIMENTS"
# `check(...)` returns the result; `_ =` keeps Jupyter from displaying it after the score line.
CHECK_CALL = re.compile(r'^_ = check\("(\w+)"\)$', re.MULTILINE)
SCORE_LINE = re.compile(r"^Score for (\w+): (\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")
# The message the stripper puts in every stub: "<Class.method> in <path inside hw/>".
STUB_MESSAGE = re.compile(r"^([\w.]+) in ((?:needle|apps)/[\w/]+\.py)$")
CELL_TIMEOUT = 300  # seconds for one cell; the longest (a few epochs of training) takes seconds

ids = [path.stem for path in NOTEBOOK_PATHS]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.metadata.get("tags", [])


def stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "") for out in cell.outputs if out.output_type == "stream"
    )


def errors_of(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [out for out in cell.outputs if out.output_type == "error"]


def last_score(cell: nbformat.NotebookNode) -> tuple[str, float, float]:
    """(problem, score, max score) from the last printed line of a check cell."""
    lines = [line for line in stdout_of(cell).splitlines() if line.strip()]
    assert lines, f"check cell printed nothing: {cell.source!r}"
    match = SCORE_LINE.match(lines[-1])
    assert match, f"last line of {cell.source!r} is not a score line: {lines[-1]!r}"
    return match.group(1), float(match.group(2)), float(match.group(3))


def stub_messages() -> set[str]:
    """The message of every NotImplementedError stub in hw/."""
    messages = set()
    for path in (ROOT / "hw").rglob("*.py"):
        messages.update(re.findall(r'raise NotImplementedError\("([^"]+)"\)', path.read_text()))
    return messages


def execute(path: Path, use_solutions: bool) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh ipykernel of this interpreter, from its folder.

    The kernel is "python3" resolved by ipykernel itself (no kernel spec directories searched),
    i.e. the interpreter running the tests, so nothing needs installing on a fresh machine.
    """
    env = {key: value for key, value in os.environ.items() if key != "NEEDLEWORK_SOLUTIONS"}
    if use_solutions:
        env["NEEDLEWORK_SOLUTIONS"] = "1"
    env["MPLBACKEND"] = "agg"  # the notebooks switch to inline; never open a window
    nb = read(path)
    manager = AsyncKernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    client = NotebookClient(
        nb,
        km=manager,
        timeout=CELL_TIMEOUT,
        allow_errors=not use_solutions,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=env)
    return nb


def test_there_is_a_notebook_per_part():
    assert len(NOTEBOOK_PATHS) == 10, [path.name for path in NOTEBOOK_PATHS]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_notebook_is_valid_and_committed_without_outputs(path):
    nb = read(path)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [], f"{path.name}: outputs in {cell.source[:60]!r}"
        assert cell.execution_count is None, f"{path.name}: execution count in {cell.source[:60]!r}"


def test_every_notebook_has_a_paired_source_and_back():
    assert [p.stem for p in NOTEBOOK_PATHS] == [p.stem for p in SOURCE_PATHS]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_notebook_is_in_sync_with_its_percent_source(path):
    """Does the .ipynb hold exactly the cells of its py:percent source? (`jupytext --sync`)"""
    nb = read(path)
    source = jupytext.read(path.with_suffix(".py"))
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert len(nb.cells) == len(source.cells), "cell count differs: run `jupytext --sync`"
    for index, (cell, paired) in enumerate(zip(nb.cells, source.cells, strict=True)):
        where = f"{path.name} cell {index}"
        assert cell.cell_type == paired.cell_type, where
        assert cell.source == paired.source, f"{where} differs: run `jupytext --sync`"
        for key in ("editable", "deletable", "tags"):
            assert cell.metadata.get(key) == paired.metadata.get(key), f"{where}: {key}"


def test_every_notebook_starts_with_the_same_setup_cell():
    setups = [code_cells(read(path))[0] for path in NOTEBOOK_PATHS]
    for path, setup in zip(NOTEBOOK_PATHS, setups, strict=True):
        assert tags(setup) == ["setup"], path.name
        assert setup.source == setups[0].source, f"{path.name}: set-up differs from the first"
    assert 'os.environ.get("NEEDLEWORK_SOLUTIONS") == "1"' in setups[0].source
    assert "from grader.notebook import check" in setups[0].source
    assert "ndl, data, init, nn, optim = load_needle(LIBRARY, KIT_ROOT)" in setups[0].source


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_cells_are_marked_locked_or_experiment(path):
    """Is every cell either locked (first line `# DO NOT EDIT`, not editable, not deletable) or
    a student's experiment cell (`# YOUR EXPERIMENTS`, editable)?"""
    nb = read(path)
    experiments = 0
    for cell in nb.cells:
        where = f"{path.name}: {cell.source[:60]!r}"
        first_line = cell.source.splitlines()[0] if cell.source else ""
        if cell.cell_type == "code" and first_line.startswith(EXPERIMENT_MARK):
            experiments += 1
            assert tags(cell) == ["experiment"], where
            assert cell.metadata.get("editable", True) is True, where
            continue
        if cell.cell_type == "code":
            assert first_line.startswith(LOCKED_MARK), where
        assert cell.metadata.get("editable") is False, where
        assert cell.metadata.get("deletable") is False, where
    assert experiments >= 1, f"{path.name} has no experiment cell"


def test_every_problem_has_a_check_cell_tagged_check():
    checked = set()
    for path in NOTEBOOK_PATHS:
        for cell in code_cells(read(path)):
            found = CHECK_CALL.findall(cell.source)
            assert bool(found) == ("check" in tags(cell)), f"{path.name}: {cell.source[:60]!r}"
            assert len(found) <= 1, f"{path.name}: one problem per check cell"
            checked.update(found)
    assert checked == PROBLEMS


def names(stub: str, text: str) -> bool:
    """Does `text` name the stub `Class.method` or `function` in backticks, either whole or as
    its class (`Class` or `Class(...)`, e.g. in a table of ops) together with the method?"""

    def quoted(name: str) -> bool:
        return re.search(rf"`{re.escape(name)}[`(]", text) is not None

    if quoted(stub):
        return True
    owner, _, method = stub.rpartition(".")
    return bool(owner) and quoted(owner) and quoted(method)


def test_every_stub_is_named_in_a_task_with_its_file():
    """Does some notebook tell the student about each function to implement, and its file?"""
    text = "\n".join(
        cell.source
        for path in NOTEBOOK_PATHS
        for cell in read(path).cells
        if cell.cell_type == "markdown"
    )
    messages = stub_messages()
    assert messages, "no stubs found in hw/"
    for message in sorted(messages):
        name, file = STUB_MESSAGE.match(message).groups()
        assert f"`hw/{file}`" in text, f"no notebook names the file hw/{file}"
        assert names(name, text), f"no notebook names `{name}` ({file})"
    for mentioned in set(re.findall(r"`(hw/[\w/]+\.py)`", text)):
        assert (ROOT / mentioned).is_file(), f"a notebook names {mentioned}, which does not exist"


def test_no_notebook_line_is_a_solution_line():
    """Would the release's leak scanner pass the notebooks and their sources?"""
    from grader.leaks import scan

    leaks = scan(ROOT / "solutions", ROOT / "hw", [NOTEBOOKS], ROOT)
    assert not leaks, "\n".join(str(leak) for leak in leaks)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_notebook_runs_cleanly_against_solutions(path):
    """Every cell runs, every plot is an image, every check reports full marks."""
    nb = execute(path, use_solutions=True)
    cells = code_cells(nb)
    assert "solutions/needle" in stdout_of(cells[0]), stdout_of(cells[0])
    for cell in cells:
        assert cell.execution_count is not None, cell.source[:60]
        assert not errors_of(cell), cell.source[:60]
        if "plot" in tags(cell):
            images = [out for out in cell.outputs if "image/png" in out.get("data", {})]
            assert images, f"no image/png output from {cell.source[:60]!r}"
        if "check" in tags(cell):
            problem, score, max_score = last_score(cell)
            assert cell.outputs[-1].output_type == "stream", "the score line must come last"
            assert problem == CHECK_CALL.search(cell.source).group(1)
            assert max_score > 0 and score == max_score, stdout_of(cell)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_notebook_stops_only_at_stubs_against_hw(path):
    """Run with errors allowed: every cell executes, every error is a stub's
    NotImplementedError naming the function to implement, and the checks grade hw/."""
    nb = execute(path, use_solutions=False)
    cells = code_cells(nb)
    assert "hw/needle" in stdout_of(cells[0]), stdout_of(cells[0])
    messages = stub_messages()
    for cell in cells:
        assert cell.execution_count is not None, f"not executed: {cell.source[:60]!r}"
        for error in errors_of(cell):
            where = f"{cell.source[:60]!r}: {error.ename}: {error.evalue}"
            assert error.ename == "NotImplementedError", where
            assert STUB_MESSAGE.match(error.evalue), where
            assert error.evalue in messages, where
        if "check" in tags(cell):
            assert not errors_of(cell), cell.source[:60]
            problem, score, max_score = last_score(cell)
            assert score < max_score, f"{problem}: the untouched skeleton got {score}/{max_score}"


def copy_of_the_kit(destination: Path) -> Path:
    """grader/, notebooks/ and hw/ copied to `destination`, to break a file of hw/ there."""
    for folder in ("grader", "notebooks", "hw"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, destination / folder, ignore=ignore)
    return destination


# A file of hw/ that does not import, made by rewriting its `class Optimizer:` line, and what the
# set-up cell must quote about it besides its file and line.
UNIMPORTABLE = {
    "syntax_error": ("class Optimizer\n", "SyntaxError: expected ':' in `class Optimizer`"),
    "missing_module": ("from .no_such_module import name\nclass Optimizer:\n", "no_such_module"),
}


@pytest.mark.slow
@pytest.mark.parametrize("planted", UNIMPORTABLE)
def test_a_file_that_does_not_import_is_named_once_and_checks_still_grade(tmp_path, planted):
    """With hw/needle/optim.py unimportable, does the set-up cell name its file and line, does
    every later error repeat that one ImportError (no NameError cascade), and do the numpy-only
    demonstrations and the check of a problem outside that file still run?"""
    replacement, quoted = UNIMPORTABLE[planted]
    kit = copy_of_the_kit(tmp_path)
    optim = kit / "hw" / "needle" / "optim.py"
    lines = optim.read_text().splitlines(keepends=True)
    line = lines.index("class Optimizer:\n") + 1
    lines[line - 1] = replacement
    optim.write_text("".join(lines))
    where = f"hw/needle/optim.py:{line}"

    nb = execute(kit / "notebooks" / "02_numerical_stability.ipynb", use_solutions=False)
    setup, *cells = code_cells(nb)
    assert not errors_of(setup), errors_of(setup)
    assert f"needle could not be imported: fix {where} first" in stdout_of(setup), stdout_of(setup)
    assert quoted in stdout_of(setup), stdout_of(setup)
    checks = [cell for cell in cells if "check" in tags(cell)]
    numpy_only = [cell for cell in cells if "(numpy only)" in cell.source.splitlines()[0]]
    assert checks and numpy_only, "02_numerical_stability lost its check or numpy-only cells"
    for cell in cells:
        assert cell.execution_count is not None, f"not executed: {cell.source[:60]!r}"
        for error in errors_of(cell):
            message = f"{cell.source[:60]!r}: {error.ename}: {error.evalue}"
            assert error.ename == "ImportError", message
            assert error.evalue.startswith(f"needle could not be imported: fix {where}"), message
    for cell in numpy_only + checks:
        assert not errors_of(cell), f"{cell.source[:60]!r}: {errors_of(cell)}"
    assert [last_score(cell)[0] for cell in checks] == ["logsumexp"]
    assert any(errors_of(cell) for cell in cells), "no demonstration used needle"
