"""The homework notebooks: committed clean and paired with their sources, and executed in a real
Jupyter kernel, against solutions/ (everything runs, plots appear, full marks) and against the
untouched hw/ the way JupyterLab's Run All does (stopping at the first error): no cell raises, the
demonstrations name the stub they need in one line, and every check cell prints its score.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest
from kernel import execute

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
DEMONSTRATION_MARK = "# DO NOT EDIT: demonstration"
# Notebooks whose pictures show on the untouched skeleton, and what the picture cells print.
SKELETON_PICTURES = {
    "00_ops_and_autodiff": "is not implemented yet",  # the graph, computed values missing
    "03_modules": "Parameters found",  # the module tree needs only given code
}
NUMPY_ONLY = "(numpy only)"
# What `with demonstration():` prints when the body meets a stub.
NOT_YET = re.compile(r"^Not implemented yet: ([\w.]+) in hw/((?:needle|apps)/[\w/]+\.py)\. ")

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


def images_of(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [out for out in cell.outputs if "image/png" in out.get("data", {})]


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


def test_there_is_a_notebook_per_part():
    assert len(NOTEBOOK_PATHS) == 10, [path.name for path in NOTEBOOK_PATHS]


@pytest.mark.authoring
@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_notebook_is_valid_and_committed_without_outputs(path):
    nb = read(path)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [], f"{path.name}: outputs in {cell.source[:60]!r}"
        assert cell.execution_count is None, f"{path.name}: execution count in {cell.source[:60]!r}"


@pytest.mark.authoring
def test_every_notebook_has_a_paired_source_and_back():
    assert [p.stem for p in NOTEBOOK_PATHS] == [p.stem for p in SOURCE_PATHS]


@pytest.mark.authoring
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
    assert "from grader.notebook import check, demonstration" in setups[0].source
    assert "ndl, data, init, nn, optim = load_needle(LIBRARY, KIT_ROOT)" in setups[0].source
    # `%load_ext autoreload` would say "already loaded" each time the cell runs again.
    assert "start_autoreload()" in setups[0].source
    assert "load_ext" not in setups[0].source


def body_lines(cell: nbformat.NotebookNode) -> list[str]:
    """The lines of a cell after its leading comment lines."""
    lines = cell.source.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return lines


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_demonstrations_that_use_needle_run_inside_demonstration(path):
    """Does every demonstration cell not marked numpy-only run its statements inside `with
    demonstration():` (only imports of the standard library and function definitions before),
    so that a stub it meets does not stop Run All?"""
    for cell in code_cells(read(path)):
        first_line = cell.source.splitlines()[0]
        if not first_line.startswith(DEMONSTRATION_MARK) or NUMPY_ONLY in first_line:
            continue
        where = f"{path.name}: {first_line!r}"
        assert "with demonstration():" in body_lines(cell), where
        outside = body_lines(cell)[: body_lines(cell).index("with demonstration():")]
        for line in outside:
            assert line == "" or line.startswith(("import ", "def ", " ", '"')), (where, line)


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


@pytest.mark.authoring
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


@pytest.mark.authoring
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


@pytest.mark.authoring
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
        assert not not_yet_lines(cell), f"{cell.source[:60]!r}: {not_yet_lines(cell)}"
        if "plot" in tags(cell):
            assert images_of(cell), f"no image/png output from {cell.source[:60]!r}"
        if "check" in tags(cell):
            problem, score, max_score = last_score(cell)
            assert cell.outputs[-1].output_type == "stream", "the score line must come last"
            assert problem == CHECK_CALL.search(cell.source).group(1)
            assert max_score > 0 and score == max_score, stdout_of(cell)
    assert any(images_of(cell) for cell in cells), f"{path.name} shows no picture"


def not_yet_lines(cell: nbformat.NotebookNode) -> list[str]:
    return [line for line in stdout_of(cell).splitlines() if line.startswith("Not implemented")]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=ids)
def test_run_all_reaches_every_check_cell_against_hw(path):
    """Run as JupyterLab's Run All (stop at the first error) on the untouched skeleton: does every
    cell run without an error, does every demonstration that meets a stub name it in one line
    (the stub's own message, under hw/), and does every check grade hw/ below full marks?"""
    nb = execute(path, use_solutions=False)
    cells = code_cells(nb)
    assert "hw/needle" in stdout_of(cells[0]), stdout_of(cells[0])
    messages = stub_messages()
    stopped = 0
    for cell in cells:
        assert cell.execution_count is not None, f"not executed: {cell.source[:60]!r}"
        assert not errors_of(cell), cell.source[:60]
        for line in not_yet_lines(cell):
            where = f"{cell.source[:60]!r}: {line}"
            assert cell.source.startswith(DEMONSTRATION_MARK), where
            match = NOT_YET.match(line)
            assert match, where
            assert f"{match.group(1)} in {match.group(2)}" in messages, where
            stopped += 1
        if "check" in tags(cell):
            problem, score, max_score = last_score(cell)
            assert score < max_score, f"{problem}: the untouched skeleton got {score}/{max_score}"
        if "plot" in tags(cell) and not not_yet_lines(cell):  # it needed nothing missing
            assert images_of(cell), f"no image/png output from {cell.source[:60]!r}"
    if path.stem in SKELETON_PICTURES:
        pictures = [cell for cell in cells if images_of(cell)]
        assert pictures, f"{path.name}: no picture on the untouched skeleton"
        said = "".join(stdout_of(cell) for cell in pictures)
        assert SKELETON_PICTURES[path.stem] in said, said
    # Some demonstrations run on given code alone (Module.parameters, say); not all of them.
    assert stopped, "no demonstration met a stub on the untouched skeleton"


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
    every demonstration that needs needle repeat that one line instead of raising (no NameError
    cascade, Run All goes on), and do the numpy-only demonstrations and the check of a problem
    outside that file still run?"""
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
    assert f"needle could not be imported: fix {where} first" in stdout_of(setup), stdout_of(setup)
    assert quoted in stdout_of(setup), stdout_of(setup)
    checks = [cell for cell in cells if "check" in tags(cell)]
    numpy_only = [cell for cell in cells if NUMPY_ONLY in cell.source.splitlines()[0]]
    assert checks and numpy_only, "02_numerical_stability lost its check or numpy-only cells"
    said = f"needle could not be imported: fix {where} first"
    with_needle = 0
    for cell in cells:
        assert cell.execution_count is not None, f"not executed: {cell.source[:60]!r}"
        assert not errors_of(cell), f"{cell.source[:60]!r}: {errors_of(cell)}"
        if said in stdout_of(cell):
            assert "then re-run the set-up cell" in stdout_of(cell), stdout_of(cell)
            with_needle += 1
    for cell in numpy_only:
        assert "could not be imported" not in stdout_of(cell), stdout_of(cell)
    assert [last_score(cell)[0] for cell in checks] == ["logsumexp"]
    assert with_needle, "no demonstration used needle"


@pytest.mark.slow
def test_setup_cell_runs_again_silently_and_autoreload_still_picks_up_edits(tmp_path):
    """Run the set-up cell twice: does the second run print exactly what the first did (no "The
    autoreload extension is already loaded"), and is an edit of hw/ then picked up without a
    restart (a demonstration of LogSumExp stops at its stub, then runs once the file is edited)?"""
    from grader import assign

    kit = copy_of_the_kit(tmp_path)
    setup = code_cells(read(NOTEBOOK_PATHS[0]))[0]
    target = kit / "hw" / "needle" / "ops" / "ops_logarithmic.py"
    solved = assign.restore_tree(kit / "hw", ROOT / "solutions")
    new_text = solved["needle/ops/ops_logarithmic.py"].decode()
    demo = (
        "with demonstration():\n"
        "    print('LSE', ndl.logsumexp(ndl.Tensor(np.array([0.0, 0.0])), axes=(0,)).numpy())"
    )
    edit = (
        "import os, pathlib\n"
        f"pathlib.Path({str(target)!r}).write_text({new_text!r})\n"
        f"os.utime({str(target)!r}, (1e10, 1e10))  # a later time stamp than the import saw"
    )
    nb = nbformat.v4.new_notebook(metadata=read(NOTEBOOK_PATHS[0]).metadata)
    nb.cells = [nbformat.v4.new_code_cell(code) for code in (demo, edit, demo)]
    nb.cells[:0] = [setup.copy(), setup.copy()]
    nb = execute(kit / "notebooks" / "rerun.ipynb", use_solutions=False, nb=nb)
    first, second, before, _, after = nb.cells
    assert "hw/needle" in stdout_of(first), stdout_of(first)
    assert stdout_of(second) == stdout_of(first)
    assert "already loaded" not in stdout_of(second)
    assert not_yet_lines(before) and "LogSumExp.compute in hw/" in stdout_of(before)
    assert not not_yet_lines(after), stdout_of(after)
    assert np.isclose(float(stdout_of(after).split()[1]), np.log(2.0)), stdout_of(after)
