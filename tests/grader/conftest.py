"""Helpers for the grader's tests: grade a folder, or a copy of solutions/ with one edit.

`grade_edited` is the tool for planted mistakes:

    def test_logsumexp_without_max_shift(grade_edited):
        scores = grade_edited(
            "needle/ops/ops_logarithmic.py", OLD_TEXT, NEW_TEXT, problems=["logsumexp", "adam"]
        )
        assert scores["logsumexp"] < 8 and scores["adam"] == 7

It copies solutions/needle and solutions/apps to a temporary folder, replaces OLD_TEXT (which must
occur exactly once) by NEW_TEXT in that one file, grades, and returns {problem id: score}. With
`full=True` it returns the whole RunResult instead (checks and their messages):

    result = grade_edited(path, OLD_TEXT, NEW_TEXT, problems=["logsumexp"], full=True)

`grade_patch(patch)` does the same with a self-test patch (grader.selftest.patches), and `kit` is a
scratch copy of the kit's tracked files, to change freely.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from grader import REPO_ROOT, pipeline, selftest
from grader import problems as registry
from grader.assign import strip_tree, write_tree
from grader.problems import PROBLEM_IDS
from grader.results import RunResult
from grader.selftest import patches
from grader.selftest.patches import Patch

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
FULL = {registry.load(pid).PROBLEM.id: registry.load(pid).PROBLEM.points for pid in PROBLEM_IDS}


def copy_solutions(dest: Path) -> Path:
    """A copy of solutions/needle and solutions/apps in `dest` (as the self-test makes them)."""
    return selftest.copy_solutions(dest)


def edit_file(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected exactly one occurrence of {old!r}"
    path.write_text(text.replace(old, new))


@pytest.fixture
def solutions_copy(tmp_path: Path) -> Path:
    """A fresh copy of solutions/needle and solutions/apps (edit it freely)."""
    return copy_solutions(tmp_path / "submission")


@pytest.fixture
def skeleton(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untouched skeleton, generated from solutions/ by the stripper."""
    dest = tmp_path_factory.mktemp("skeleton") / "hw"
    write_tree(strip_tree(SOLUTIONS), dest)
    return dest


@pytest.fixture
def grade_edited(tmp_path: Path):
    """grade_edited(path, old, new, problems=None, full=False, **grade_kwargs) ->
    {problem id: score}, or the RunResult itself with full=True."""

    def run(
        path: str, old: str, new: str, problems=None, full: bool = False, **kwargs
    ) -> dict[str, float] | RunResult:
        root = copy_solutions(tmp_path / f"edit{len(list(tmp_path.iterdir()))}")
        edit_file(root / path, old, new)
        result = pipeline.grade(root, problems, **kwargs)
        if full:
            return result
        return {problem.id: problem.score for problem in result.problems}

    return run


@pytest.fixture
def grade_patch(tmp_path: Path):
    """grade_patch(patch, problems=None, full=False) -> {problem id: score} (or the RunResult):
    a copy of solutions/ with one self-test patch (grader.selftest.patches) applied, graded."""

    def run(patch: Patch, problems=None, full: bool = False) -> dict[str, float] | RunResult:
        root = copy_solutions(tmp_path / f"{patch.id}{len(list(tmp_path.iterdir()))}")
        patches.apply(patch, root)
        result = pipeline.grade(root, problems)
        if full:
            return result
        return {problem.id: problem.score for problem in result.problems}

    return run


def tracked_files() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return [name for name in done.stdout.split("\0") if name]


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    """A copy of the kit's files (as in the working tree), sharing the kit's virtual environment."""
    root = tmp_path / "kit"
    for name in tracked_files():
        source = REPO_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    return root
