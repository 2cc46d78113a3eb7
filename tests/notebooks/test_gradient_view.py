"""Pictures of failed gradient checks (grader/gradient_view.py), shown by the check cells.

A planted mistake, ReLU.gradient returning out_grad unmasked, fails exactly one gradient check
of ops_backward ("relu gradient wrt input 0") on exactly the elements whose input is negative.
Graded through the pipeline here, the picture must outline those elements and no others; run as
the notebook's check cell in a real kernel, it must appear below the report on the public case,
and neither it nor any expected value may appear for a hidden case or a correct submission.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from kernel import execute  # noqa: E402

from grader import gradient_view, pipeline  # noqa: E402
from grader import problems as registry  # noqa: E402
from grader.cases import PUBLIC_SEED, make_cases  # noqa: E402
from grader.compare import elements_off, mismatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "ops_backward"
CHECK = "relu gradient wrt input 0"
OUTPUT = "grad_relu/0"
CORRECT = (
    "        mask = Tensor.make_const((a > 0).astype(a.dtype))\n        return out_grad * mask\n"
)
PLANTED = "        return out_grad  # the mask forgotten\n"
HIDDEN_SEED = 4242


def plant(library: Path) -> Path:
    """`library` (a copy of solutions/) with ReLU.gradient no longer masking out_grad."""
    ops = library / "needle" / "ops" / "ops_mathematic.py"
    text = ops.read_text()
    assert text.count(CORRECT) == 1, "ReLU.gradient in solutions/ changed: update CORRECT"
    ops.write_text(text.replace(CORRECT, PLANTED))
    return library


def copy_library(destination: Path) -> Path:
    shutil.copytree(ROOT / "solutions", destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def grade_keeping_outputs(folder: Path, hidden: bool = False):
    """(the problem's result, what the pipeline handed to the notebook's view: {id: (case,
    outputs, references)}), grading ops_backward of `folder` the way a check cell does."""
    judged: dict[str, tuple] = {}

    def keep(case, output, expected) -> None:
        judged[case.problem.id] = (case, output, expected)

    result = pipeline.grade(
        folder, [PROBLEM], hidden=hidden, seed=HIDDEN_SEED, jobs=1, public_outputs=keep
    )
    return result.problems[0], judged


def outlined(figure, panel: str) -> set[tuple[int, int]]:
    """The (row, column) of every element outlined in the panel titled `panel`."""
    (ax,) = [ax for ax in figure.axes if ax.get_title() == panel]
    cells = set()
    for patch in ax.patches:
        match = re.fullmatch(r"off-(\d+)-(\d+)", patch.get_gid() or "")
        if match:
            cells.add((int(match.group(1)), int(match.group(2))))
    return cells


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    return plant(copy_library(tmp_path_factory.mktemp("planted") / "submission"))


def test_planted_gradient_mistake_outlines_exactly_the_elements_off(planted):
    """Does the failed check's picture outline, in each of its three panels, exactly the elements
    the check holds against the student: those where ReLU's input is negative, as many as the
    message counts?"""
    problem, judged = grade_keeping_outputs(planted)
    failed = [check for check in problem.checks if not check.passed]
    assert [check.name for check in failed] == [CHECK], failed
    case, output, expected = judged[PROBLEM]
    failures = gradient_view.failed_gradients(case, problem, output, expected)
    assert [failure.check for failure in failures] == [CHECK]
    failure = failures[0]
    assert failure.expected.shape == (3, 4)
    np.testing.assert_array_equal(failure.got, output.arrays[OUTPUT])
    np.testing.assert_array_equal(failure.expected, expected[OUTPUT])

    relu_input = case.inputs["relu/0"]
    negative = {(int(r), int(c)) for r, c in zip(*np.nonzero(relu_input < 0), strict=True)}
    assert 0 < len(negative) < relu_input.size  # some elements right, some off
    counted = re.search(r"\((\d+) of 12 elements off\)", failed[0].message)
    assert counted and int(counted.group(1)) == len(negative), failed[0].message

    figure = gradient_view.figure(failure)
    for panel in gradient_view.PANELS:
        assert outlined(figure, panel) == negative, panel
    assert CHECK in figure._suptitle.get_text()
    assert f"{len(negative)} of 12 elements off" in figure._suptitle.get_text()
    assert gradient_view.png(failure).startswith(b"\x89PNG")


def test_elements_off_are_the_elements_mismatch_counts():
    """Does the picture's rule for an element off agree with the message's count, NaN and inf
    included?"""
    rng = np.random.default_rng(0)
    expected = rng.normal(size=(4, 5)) * 10
    # 40% off by 1e-3 relative; the rest by 5e-7 relative: within rtol 1e-6, beyond atol 1e-8.
    wrong = rng.random((4, 5)) < 0.4
    got = expected * (1 + np.where(wrong, 1e-3, 5e-7))
    off = elements_off(got, expected, 1e-6, 1e-8)
    np.testing.assert_array_equal(off, wrong)
    message = mismatch(got, expected, 1e-6, 1e-8, True)
    assert f"({int(wrong.sum())} of 20 elements off)" in message, message
    got[1, 1], got[2, 2] = np.nan, np.inf
    assert elements_off(got, expected, 1e-6, 1e-8)[[1, 2], [1, 2]].all()


def test_three_d_gradient_shows_the_slice_with_most_elements_off_titled_with_its_index():
    """For a (2, 3, 4) gradient with 1 element off in slice 0 and 3 in slice 1, is slice 1
    drawn, with its index in the title and exactly its 3 elements outlined?"""
    expected = np.linspace(-1.0, 1.0, 24).reshape(2, 3, 4)
    got = expected.copy()
    got[0, 2, 2] += 1.0
    got[1, 0, 1] += 1.0
    got[1, 2, 0] -= 1.0
    got[1, 2, 3] += 0.5
    failure = gradient_view.GradientFailure("summation_axes gradient", expected, got, 1e-6, 1e-8)
    assert gradient_view.plane(failure.off) == (1,)
    figure = gradient_view.figure(failure)
    title = figure._suptitle.get_text()
    assert "[1, :, :] of shape (2, 3, 4)" in title, title
    assert "3 of 12 elements off here, 4 of 24 in all" in title, title
    for panel in gradient_view.PANELS:
        assert outlined(figure, panel) == {(0, 1), (2, 0), (2, 3)}, panel
    (yours,) = [ax for ax in figure.axes if ax.get_title() == "yours"]
    np.testing.assert_array_equal(yours.images[0].get_array(), got[1])


def test_one_d_gradient_is_one_row():
    failure = gradient_view.GradientFailure("v", np.zeros(5), np.array([0, 1, 0, 0, 1.0]), 0, 0)
    figure = gradient_view.figure(failure)
    assert outlined(figure, "yours - expected") == {(0, 1), (0, 4)}
    assert "shape (5,)" in figure._suptitle.get_text()


def test_hidden_cases_are_never_handed_to_the_view(planted):
    """Graded as a hidden case, does the same mistake fail with nothing handed to the picture
    code (no outputs, no references)?"""
    problem, judged = grade_keeping_outputs(planted, hidden=True)
    assert [check.name for check in problem.checks if not check.passed] == [CHECK]
    assert judged == {}


# --- the check cell, in a real kernel -------------------------------------------------------


def text_of(cell) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


def images_of(cell) -> list:
    return [out for out in cell.outputs if "image/png" in out.get("data", {})]


def all_text(cell) -> str:
    """Every text in the cell's outputs, streams and displayed data alike."""
    parts = [text_of(cell)]
    for out in cell.outputs:
        parts.extend(str(value) for key, value in out.get("data", {}).items() if "text" in key)
    return "\n".join(parts)


@pytest.fixture(scope="module")
def check_cells(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """A copy of the kit whose hw/ is solutions/ with the planted mistake; notebook 00's own
    set-up cell and ops_backward check cell, then the same check on the hidden case and on the
    untouched solutions/, executed in one kernel. The executed cells by name."""
    kit = tmp_path_factory.mktemp("kit")
    for folder in ("grader", "notebooks", "solutions"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, kit / folder, ignore=ignore)
    plant(copy_library(kit / "hw"))
    source = nbformat.read(ROOT / "notebooks" / "00_ops_and_autodiff.ipynb", as_version=4)
    code = [cell for cell in source.cells if cell.cell_type == "code"]
    setup = code[0]
    (public,) = [cell for cell in code if f'_ = check("{PROBLEM}")' in cell.source]
    nb = nbformat.v4.new_notebook(metadata=source.metadata)
    nb.cells = [
        setup.copy(),
        public.copy(),
        nbformat.v4.new_code_cell(f'_ = check("{PROBLEM}", hidden=True, seed={HIDDEN_SEED})'),
        nbformat.v4.new_code_cell(f'_ = check("{PROBLEM}", submission=KIT_ROOT / "solutions")'),
    ]
    executed = execute(kit / "notebooks" / "00_ops_and_autodiff.ipynb", nb=nb)
    assert "hw/needle" in text_of(executed.cells[0]), text_of(executed.cells[0])
    return dict(zip(("setup", "public", "hidden", "correct"), executed.cells, strict=True))


@pytest.mark.slow
def test_check_cell_shows_the_picture_below_the_report_then_the_score(check_cells):
    """Does the notebook's own check cell, on the planted mistake, print the report, then show
    one PNG picture, then print the score line last?"""
    cell = check_cells["public"]
    assert len(images_of(cell)) == 1, cell.outputs
    kinds = [out.output_type for out in cell.outputs]
    picture = kinds.index("display_data")
    assert f"FAIL {CHECK}" in "".join(
        out.get("text", "") for out in cell.outputs[:picture] if out.output_type == "stream"
    )
    assert cell.outputs[-1].output_type == "stream"
    assert cell.outputs[-1].text.strip().splitlines()[-1].startswith(f"Score for {PROBLEM}: ")


@pytest.mark.slow
def test_hidden_case_shows_no_picture_and_no_expected_value(check_cells):
    """Graded as a hidden case, does the same mistake fail with text only: no image, no error
    magnitude, and none of the hidden expected gradient's values anywhere in the outputs?"""
    from grader import hidden

    cell = check_cells["hidden"]
    said = all_text(cell)
    assert f"FAIL {CHECK}" in said, said
    assert not images_of(cell)
    assert [out.output_type for out in cell.outputs] == ["stream"] * len(cell.outputs)
    assert "max abs error" not in said and not re.search(r"expected -?\d", said), said
    case = make_cases(HIDDEN_SEED, [PROBLEM])[0]
    public_case = make_cases(PUBLIC_SEED, [PROBLEM])[0]
    assert not np.array_equal(case.inputs["relu/0"], public_case.inputs["relu/0"])
    references, why = hidden.reference_outputs(case)
    assert references is not None, why
    for value in references[OUTPUT].ravel():
        for digits in (4, 5, 6):
            text = f"{value:.{digits}g}"
            if "." in text:  # "0" or "1" would be found in any text
                assert text not in said, (value, said)


@pytest.mark.slow
def test_correct_submission_shows_no_picture(check_cells):
    cell = check_cells["correct"]
    assert not images_of(cell), cell.outputs
    points = registry.points("ops_backward")
    score_line = f"Score for ops_backward: {points}/{points}"
    assert text_of(cell).strip().endswith(score_line), text_of(cell)
