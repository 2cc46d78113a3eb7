"""Correct alternatives: implementations that differ from solutions/ in form but not in
mathematics (another variance formula, another stable LogSumExp, a rearranged Adam, an iterative
topological sort, ...) must keep full marks on every problem.

The alternatives are the self-test's data (grader/selftest/data/<problem>.toml, read by
grader.selftest.patches): one list for these tests and for `make selftest`.
"""

from __future__ import annotations

import pytest

from grader import problems as registry
from grader.selftest import patches

pytestmark = pytest.mark.slow

FULL = {pid: registry.load(pid).PROBLEM.points for pid in registry.PROBLEM_IDS}

ALTERNATIVES = [patch for patch in patches.load() if patch.kind == "alternative"]


def test_there_are_alternatives():
    assert len(ALTERNATIVES) >= 6


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda alternative: alternative.id)
def test_correct_alternative_keeps_full_marks(grade_patch, alternative):
    scores = grade_patch(alternative)
    lost = {pid: score for pid, score in scores.items() if score < FULL[pid]}
    assert lost == {}, f"{alternative.id} loses points in {lost}"
