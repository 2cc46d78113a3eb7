"""The README's checklist for adding a problem, followed step by step in a scratch copy of the kit.

A small throwaway problem (`clip`: the factor that clips a gradient's norm, one point taken from
`sgd`) is added exactly as "To add or change a problem" says: a solution region in a function of
its own, `make hw`, a declaration listed in PROBLEM_IDS, `make references`, a task line and a check
cell in a notebook synced with jupytext, a planted mistake and an alternative in the self-test's
data; then `make check-problem ID=clip` and the tests that concern a problem must pass. If the
checklist goes stale (a step missing, a step the kit no longer needs), this test fails.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from grader import REPO_ROOT

pytestmark = pytest.mark.slow

SOLUTION = '''

def clip_factor(norm: float, max_norm: float) -> float:
    """The factor that scales a gradient of L2 norm `norm` to norm at most `max_norm`:
    min(1, max_norm / norm)."""
    ### BEGIN YOUR SOLUTION
    if norm <= max_norm:
        return 1.0
    return max_norm / norm
    ### END YOUR SOLUTION
'''

DECLARATION = '''"""clip: optim.clip_factor, the factor of gradient-norm clipping."""

from __future__ import annotations

import numpy as np

from grader.compare import close
from grader.problems.base import Problem

PROBLEM = Problem(
    id="clip",
    title="Gradient clipping factor",
    points=1,
    regions=(("needle/optim.py", "clip_factor"),),
    files=("needle/optim.py",),
    hint="follow clip_factor's docstring (needle/optim.py)",
)
MAX_NORM = 1.5


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"norms": rng.uniform(0.1, 4.0, 12)}


def probe(p) -> None:
    import needle as ndl

    with p.step("factors"):
        norms = p.inputs["norms"]
        p.put("factors", np.array([ndl.optim.clip_factor(float(n), MAX_NORM) for n in norms]))


CHECKS = [close("clip factors for norms below and above max_norm", "factors")]
'''

NOTEBOOK_CELLS = """
# %% [markdown] deletable=false editable=false
# ## Clipping the gradient's norm
#
# > **Your task:** `clip_factor` in `hw/needle/optim.py`.

# %% deletable=false editable=false tags=["check"]
# DO NOT EDIT: grades problem "clip" of the folder needle was imported from.
_ = check("clip")
"""

SELFTEST_DATA = """[[mistake]]
id = "clip_factor_always_divides"
says = "clip_factor scales every gradient to max_norm, also the short ones"
region = "needle/optim.py:clip_factor"
old = '''
    if norm <= max_norm:
        return 1.0
'''
new = ""

[[alternative]]
id = "clip_factor_as_a_min"
says = "clip_factor as min(1, max_norm / norm)"
region = "needle/optim.py:clip_factor"
old = '''
    if norm <= max_norm:
        return 1.0
    return max_norm / norm
'''
new = '''
    return min(1.0, max_norm / norm)
'''
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: {old!r}"
    path.write_text(text.replace(old, new))


def run(kit: Path, *command: str, timeout: int = 600) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    done = subprocess.run(
        list(command), cwd=kit, capture_output=True, text=True, timeout=timeout, env=env
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output[-4000:]}"
    return output


def test_a_problem_added_by_the_readme_checklist_passes_the_fast_check_and_the_tests(kit):
    readme = (REPO_ROOT / "README.md").read_text()
    checklist = readme[readme.index("### To add or change a problem") :]
    checklist = checklist[: checklist.index("\n### ", 5)]
    steps = re.findall(r"^\d\. \*\*(\w[\w -]*)\.\*\*", checklist, re.MULTILINE)
    assert steps == [
        "Solution",
        "Skeleton",
        "Declaration",
        "Notebook",
        "Self-test data",
        "Fast check",
        "Everything",
    ], steps

    # 1. Solution: a function of its own, its rule in the docstring.
    (kit / "solutions/needle/optim.py").write_text(
        (kit / "solutions/needle/optim.py").read_text() + SOLUTION
    )
    # 2. Skeleton.
    run(kit, "make", "hw")
    assert (
        'raise NotImplementedError("clip_factor in needle/optim.py")'
        in (kit / "hw/needle/optim.py").read_text()
    )
    # 3. Declaration, listed in PROBLEM_IDS after sgd, its point taken from sgd; references;
    # the Classroom workflow's runner.
    (kit / "grader/problems/clip.py").write_text(DECLARATION)
    edit(kit / "grader/problems/__init__.py", '    "sgd",\n', '    "sgd",\n    "clip",\n')
    sgd = kit / "grader/problems/sgd.py"
    points = int(re.search(r"^    points=(\d+),$", sgd.read_text(), re.MULTILINE).group(1))
    edit(sgd, f"    points={points},\n", f"    points={points - 1},\n")
    run(kit, "make", "references")
    classroom = kit / "grader/release_template/.github/workflows/classroom.yml"
    edit(
        classroom,
        "          SGD_RESULTS: ${{ steps.grade.outputs.sgd }}\n",
        "          SGD_RESULTS: ${{ steps.grade.outputs.sgd }}\n"
        "          CLIP_RESULTS: ${{ steps.grade.outputs.clip }}\n",
    )
    runners = re.search(r"^ *runners: .*$", classroom.read_text(), re.MULTILINE).group(0)
    edit(classroom, runners, re.sub(r"(?<=[ ,])sgd(?=,|$)", "sgd,clip", runners))
    # 4. Notebook: a task line and a check cell, then jupytext --sync.
    notebook = kit / "notebooks/06_optimizers.py"
    notebook.write_text(notebook.read_text() + NOTEBOOK_CELLS)
    run(kit, ".venv/bin/jupytext", "--sync", "--quiet", str(notebook))
    # 5. Self-test data.
    (kit / "grader/selftest/data/clip.toml").write_text(SELFTEST_DATA)

    # 6. The fast check.
    output = run(kit, "make", "check-problem", "ID=clip")
    assert re.search(r"^clip +1 +1/1 +1/1$", output, re.MULTILINE), output[-3000:]
    assert re.search(r"^ +caught +clip_factor_always_divides +leaves 0/1$", output, re.MULTILINE)
    assert re.search(r"^ +kept +clip_factor_as_a_min +leaves 1/1$", output, re.MULTILINE)
    assert "canaries: skeleton 0/1 (ok), solutions 1/1 (ok); release leak scan: clean" in output

    # 7. The tests that concern a problem: the planted mistakes and alternatives of `clip`, full
    # marks on the solutions and zero on the skeleton, the report's totals and the notebook checks.
    pytest = (".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    run(
        kit,
        *pytest,
        "tests/grader/test_planted_mistakes.py::"
        "test_planted_mistake_loses_points_on_its_own_problem_only[clip_factor_always_divides]",
        "tests/grader/test_correct_alternatives.py::"
        "test_correct_alternative_keeps_full_marks[clip_factor_as_a_min]",
    )
    run(
        kit,
        *pytest,
        "-n",
        "2",
        "-m",
        "not slow",
        "tests/grader/test_scores.py",
        "tests/grader/test_reports.py",
        "tests/notebooks/test_notebooks.py",
    )
