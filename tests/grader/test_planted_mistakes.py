"""Planted mistakes: each common student mistake, planted alone in a copy of solutions/, must cost
points on its own problem, and nowhere else except in the problems that genuinely run the edited
code (say a wrong ReLU forward, which Linear + ReLU networks use).

The mistakes are the self-test's data (grader/selftest/data/<problem>.toml, read by
grader.selftest.patches): one list for these tests and for `make selftest`. Each mistake states
exactly which other problems lose points (`also_costs`), with the reason (`why`: the dependency
stated in their declarations); the test demands that set, no more and no fewer: a problem that
stops losing points (a new stand-in) or starts losing them (a lost one) both show up. A problem
that runs the edited code but is not affected by this edit (BatchNorm sums over axis 0, where a
gradient that forgets the axes still broadcasts right) is not in the set. All problems are graded
for every mistake, so collateral damage anywhere is caught.
"""

from __future__ import annotations

import re

import pytest

from grader import problems as registry
from grader.selftest import patches

pytestmark = pytest.mark.slow

FULL = {pid: registry.load(pid).PROBLEM.points for pid in registry.PROBLEM_IDS}

MISTAKES = [patch for patch in patches.load() if patch.kind == "mistake"]


# Mistakes whose own problem's failure message must say something specific:
# mistake id -> (check name, words that must appear in its message).
MESSAGES = {
    "logsumexp_without_max_shift": (
        "logsumexp stays finite and correct at 1e5 (float32)",
        ("inf",),
    ),
    "log_gradient_ignores_out_grad": (
        "log gradient wrt input 0",
        ("disagrees with finite differences of your own forward",),
    ),
    "relu_forward_leaky": ("relu", ("relu forward", "expected")),
    "batchnorm_unbiased_variance": ("training forward, step 1", ("max abs error", "expected")),
    "batchnorm_eps_outside_sqrt": (
        "forward on a nearly constant feature (variance below eps)",
        ("only the nearly constant feature", "eps belongs inside the square root"),
    ),
    "batchnorm_batch_statistics_in_eval": (
        "eval mode uses the running statistics",
        ("expected",),
    ),
    "batchnorm_running_stats_are_parameters": (
        "two parameters (running stats are not Parameters)",
        ("len(parameters())", "expected"),
    ),
    "batchnorm_running_stats_keep_the_graph": (
        "no graph kept alive across steps",
        ("live tensors grow",),
    ),
    "adam_stores_bias_corrected_moments": (
        "first moment m stored without bias correction",
        ("expected",),
    ),
    "sgd_modifies_grad_in_place": ("leaves .grad untouched", ("p.grad",)),
    "xavier_uniform_fan_in_only": ("xavier_uniform distribution", ("sample std", "expected")),
    "dropout_p_as_keep_probability": (
        "drops a fraction p and rescales by 1/(1-p)",
        ("DROP probability",),
    ),
    "topo_sort_pre_order": ("topological order", ("differs", "expected")),
    "topo_sort_reversed": (
        "gradient of a leaf used three times",
        ("KeyError (needle/autograd.py:", "topological order (inputs before outputs)"),
    ),
    "residual_block_relu_before_norm": (
        "forward with given weights, training mode (a fixed Dropout mask)",
        (
            "expected ... ReLU, Residual, Linear, norm, ReLU",
            "yours ... ReLU, Residual, Linear, ReLU, norm",
        ),
    ),
    "randb_true_with_probability_one_minus_p": (
        "randb (seeded values)",
        ("at index (0, 0): expected 0, got 1",),
    ),
    "logsumexp_gradient_ignores_out_grad": (
        "logsumexp gradient, axes (1,)",
        ("your forward is right", "disagrees with finite differences of your own forward"),
    ),
    "linear_bias_shape_out": ("Linear bias shape (1, out)", ("expected [1, 3], got [3]",)),
}


@pytest.mark.authoring
def test_every_problem_has_planted_mistakes_and_the_messages_name_real_ones():
    ids = [mistake.id for mistake in MISTAKES]
    assert len(ids) >= 25
    assert {mistake.problem for mistake in MISTAKES} == set(FULL)
    assert set(MESSAGES) <= set(ids) and set(VISIBLE) <= set(ids)


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda mistake: mistake.id)
def test_planted_mistake_loses_points_on_its_own_problem_only(grade_patch, mistake):
    scores = grade_patch(mistake)
    assert scores[mistake.problem] < FULL[mistake.problem], (
        f"{mistake.id} is not caught: {mistake.problem} scores full marks"
    )
    losing = {pid for pid, score in scores.items() if pid != mistake.problem and score < FULL[pid]}
    assert losing == set(mistake.also_costs), (
        f"{mistake.id}: other problems losing points {sorted(losing)}, "
        f"declared {sorted(mistake.also_costs)}"
    )


@pytest.mark.parametrize("mistake_id", sorted(MESSAGES))
def test_planted_mistake_message_names_the_failure(grade_patch, mistake_id):
    mistake = patches.find(mistake_id)
    check_name, words = MESSAGES[mistake_id]
    result = grade_patch(mistake, [mistake.problem], full=True)
    (problem,) = result.problems
    assert problem.error == ""
    failed = {check.name: check.message for check in problem.checks if not check.passed}
    assert check_name in failed, f"{check_name!r} passed; failed checks: {sorted(failed)}"
    for message in failed.values():
        assert message.strip() and "Traceback" not in message, message
    for word in words:
        assert word in failed[check_name], failed[check_name]
    # A relative error next to an expected 0 (a division by ~0, 1e+298) tells a student nothing.
    for message in failed.values():
        for relative in re.findall(r"relative ([-+.e\d]+)\)", message):
            assert float(relative) < 1e6, message


@pytest.mark.parametrize(
    "mistake_id", ["batchnorm_unbiased_variance", "batchnorm_batch_statistics_in_eval"]
)
def test_nearly_constant_feature_check_names_both_causes_when_all_features_are_off(
    grade_patch, mistake_id
):
    """Does a wrong variance (not eps) get a message that does not blame eps alone?"""
    mistake = patches.find(mistake_id)
    result = grade_patch(mistake, [mistake.problem], full=True)
    checks = {check.name: check for check in result.problems[0].checks}
    check = checks["forward on a nearly constant feature (variance below eps)"]
    if mistake_id == "batchnorm_batch_statistics_in_eval":
        assert check.passed  # a training-mode check: eval mode does not enter it
        return
    assert not check.passed
    assert "other features are off too" in check.message, check.message
    assert "biased" in check.message and "sqrt(var + eps)" in check.message, check.message


# Mistakes whose diagnostic check must be visible in the short terminal report:
# mistake id -> words of the failed check that names the cause.
VISIBLE = {
    "adam_stores_bias_corrected_moments": "FAIL first moment m stored without bias correction",
    "batchnorm_unbiased_variance": "FAIL normalised batch has mean 0 and variance 1",
}


@pytest.mark.parametrize("mistake_id", sorted(VISIBLE))
def test_terminal_report_shows_the_check_that_names_the_cause(grade_patch, mistake_id):
    """Does the short report show the diagnostic check, with trajectories folded into one line?"""
    from grader import report

    mistake = patches.find(mistake_id)
    result = grade_patch(mistake, [mistake.problem], full=True)
    lines = report.problem_lines(result.problems[0])
    assert any(line.strip().startswith(VISIBLE[mistake_id]) for line in lines), lines
    assert len(lines) <= 1 + report.MAX_FAILURES_SHOWN + 1, lines
    assert not any("more failed checks" in line for line in lines), lines
