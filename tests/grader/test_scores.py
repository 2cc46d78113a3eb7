"""End-to-end scores: the reference earns everything, the skeleton nothing, runs are repeatable."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest

from grader import REPO_ROOT, cases, pipeline, references
from grader import problems as registry
from grader.assign import find_regions
from grader.results import NOT_IMPLEMENTED

SOLUTIONS = REPO_ROOT / "solutions"


def scores(result):
    return {problem.id: problem.score for problem in result.problems}


def failures(result):
    return {
        problem.id: problem.error or [c.message for c in problem.checks if not c.passed]
        for problem in result.problems
        if problem.score < problem.max_score
    }


@pytest.mark.authoring
def test_points_sum_to_100():
    assert registry.total_points() == 100


@pytest.mark.authoring
def test_every_solution_region_belongs_to_exactly_one_problem():
    declared = [region for module in registry.load_all() for region in module.PROBLEM.regions]
    assert len(declared) == len(set(declared)), "a region is claimed by two problems"
    found = {(region.path, region.qualname) for region in find_regions(SOLUTIONS)}
    assert found - set(declared) == set(), "regions no problem grades"
    assert set(declared) - found == set(), "problems claim regions that do not exist"


def test_solutions_score_full_marks_on_public_cases():
    result = pipeline.grade(SOLUTIONS)
    assert failures(result) == {}
    assert result.score == registry.total_points()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2024])
def test_solutions_score_full_marks_on_hidden_cases(seed):
    result = pipeline.grade(SOLUTIONS, hidden=True, seed=seed)
    assert failures(result) == {}
    assert result.score == registry.total_points()


def test_hidden_cases_differ_from_public_ones():
    module = registry.load("logsumexp")
    public = cases.make_case(module, cases.PUBLIC_SEED)
    hidden = cases.make_case(module, 7)
    assert public.digest != hidden.digest
    assert cases.make_case(module, 7).digest == hidden.digest


def every_check(result) -> list[tuple]:
    return [
        (problem.id, problem.score, check.name, check.passed, check.message)
        for problem in result.problems
        for check in problem.checks
    ]


@pytest.mark.slow
def test_ten_repeated_runs_give_identical_scores_and_messages(solutions_copy):
    """Do ten runs over every problem give the same partial credit, check by check, word for word?
    (A submission with mistakes, so that partial scores and failure messages are compared.)"""
    nn_basic = solutions_copy / "needle" / "nn" / "nn_basic.py"
    text = nn_basic.read_text()
    for old, new in [
        # BatchNorm with the variance not divided by N, Dropout without rescaling:
        ("var = (centered**2).sum(axes=(0,)) / batch_size", "var = (centered**2).sum(axes=(0,))"),
        ("return x * mask / (1 - self.p)", "return x * mask"),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    nn_basic.write_text(text)
    runs = [every_check(pipeline.grade(solutions_copy)) for _ in range(10)]
    assert 0 < sum(score for _, score, *_ in {r[:2] for r in runs[0]}) < 100
    assert any(not passed for *_, passed, _ in runs[0])
    for run in runs[1:]:
        assert run == runs[0]


def test_untouched_skeleton_scores_zero_and_names_what_to_implement(skeleton):
    result = pipeline.grade(skeleton)
    assert result.score == 0
    for problem in result.problems:
        assert problem.status == NOT_IMPLEMENTED, (problem.id, problem.error)
        own = {
            f"{qualname} in {path}" for path, qualname in registry.load(problem.id).PROBLEM.regions
        }
        # Every one of its own stubs is named (read from the source), then any stub of another
        # problem its checks ran into.
        assert set(problem.stubs) == own, problem.id
        assert own <= set(problem.to_implement), problem.id
        assert all(" in needle/" in stub or " in apps/" in stub for stub in problem.to_implement)


@pytest.mark.authoring
@pytest.mark.slow
def test_public_references_are_current():
    """Does grader/references/public.npz hold what `make references` computes now?"""
    fresh, problems = references.compute()
    assert problems == []
    stored = references.load()
    assert sorted(stored) == sorted(fresh), "run `make references`"
    for name, array in fresh.items():
        assert stored[name].shape == array.shape, f"{name}: run `make references`"
        assert np.array_equal(stored[name], array, equal_nan=True), f"{name}: run `make references`"


def test_stale_references_are_reported_not_used(monkeypatch):
    module = registry.load("dropout")
    case = cases.make_case(module, cases.PUBLIC_SEED)
    case.digest = "0" * 64
    outputs, why = references.public_outputs(case)
    assert outputs is None and "stale" in why


@pytest.mark.slow
def test_reference_check_refuses_what_the_solutions_no_longer_give(tmp_path, capsys):
    """Does `grader references --check` (run by `make release`) fail when a solution's output
    changed since `make references`, and pass on the committed tree?"""
    solutions = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, solutions, ignore=shutil.ignore_patterns("__pycache__"))
    stored = tmp_path / "public.npz"  # a copy: the check must never write, but if it did...
    shutil.copyfile(references.PUBLIC_FILE, stored)
    args = argparse.Namespace(solutions=solutions, out=stored, jobs=2, check=True)
    assert references.run(args) == 0
    ops = solutions / "needle" / "ops" / "ops_logarithmic.py"
    original = "return array_api.reshape(out, array_api.sum(out, axis=self.axes).shape)"
    text = ops.read_text()
    assert text.count(original) == 1
    ops.write_text(text.replace(original, original + " + 0.01"))
    assert references.run(args) == 1
    assert "public references are stale" in capsys.readouterr().err
