"""Student-facing feedback: every stub of a problem is named, results print short."""

from __future__ import annotations

import numpy as np
import pytest

from grader import cases, compare, pipeline, regions
from grader import problems as registry
from grader.channel import ProbeOutput, StepError
from grader.problems import base, mlp_resnet
from grader.results import CheckResult, ProblemResult, RunResult

STUBBED = """
class Outer:
    def done(self):
        ### BEGIN YOUR SOLUTION
        return 1
        ### END YOUR SOLUTION

    def todo(self):
        ### BEGIN YOUR SOLUTION
        # a comment the student left
        raise NotImplementedError("Outer.todo in needle/x.py")

        ### END YOUR SOLUTION


def helper(x):
    ### BEGIN YOUR SOLUTION
    raise NotImplementedError()
    ### END YOUR SOLUTION


def started(x):
    ### BEGIN YOUR SOLUTION
    y = x + 1
    raise NotImplementedError("started in needle/x.py")
    ### END YOUR SOLUTION
"""


def test_a_region_holding_only_the_raise_is_a_stub():
    assert regions.stub_qualnames(STUBBED) == ["Outer.todo", "helper"]


def test_a_file_that_does_not_parse_has_no_stubs_to_report():
    assert regions.stub_qualnames(STUBBED + "\ndef broken(:\n") == []


def test_skeleton_names_every_own_stub_of_every_problem(skeleton):
    """Does each problem of the untouched skeleton list all of its regions, not the first one?"""
    result = pipeline.grade(skeleton, ["nn_basic", "layernorm", "ops_backward", "mlp_resnet"])
    for problem in result.problems:
        own = [f"{name} in {path}" for path, name in registry.load(problem.id).PROBLEM.regions]
        assert list(problem.stubs) == own, problem.id
        assert problem.to_implement[: len(own)] == tuple(own), problem.id


def test_a_finished_function_is_no_longer_listed(solutions_copy):
    path = solutions_copy / "needle/nn/nn_basic.py"
    text = path.read_text()
    body = "        return self.fn(x) + x\n"
    assert text.count(body) == 1
    path.write_text(text.replace(body, '        raise NotImplementedError("Residual.forward")\n'))
    (problem,) = pipeline.grade(solutions_copy, ["nn_basic"]).problems
    assert problem.stubs == ("Residual.forward in needle/nn/nn_basic.py",)
    assert 0 < problem.score < problem.max_score


def test_results_print_in_one_short_line():
    checks = (CheckResult("a", True), CheckResult("b", False, "x" * 500))
    problem = ProblemResult("logsumexp", "LogSumExp", 8, checks)
    assert repr(problem) == "ProblemResult(id='logsumexp', score=4, max_score=8, status='partial')"
    assert repr(checks[1]) == "CheckResult(name='b', passed=False)"
    run = RunResult("hw", (problem,), hidden=True, seed=7)
    assert repr(run) == (
        "RunResult(submission='hw', score=4, max_score=8, problems=1, hidden=True, seed=7)"
    )


def test_cases_and_probe_outputs_print_without_their_arrays():
    case = cases.make_case(registry.load("adam"), 1)
    assert repr(case).startswith("Case(problem='adam', inputs=") and len(repr(case)) < 80
    output = ProbeOutput({"a": np.zeros(10_000)}, {"step": StepError("E", "m")})
    assert repr(output) == "ProbeOutput(arrays=1, errors=['step'])"


def test_no_relative_error_next_to_an_expected_zero():
    got, expected = np.array([0.5, -0.0193]), np.array([0.5, 0.0])
    message = compare.mismatch(got, expected, 1e-4, 1e-5, reveal=True)
    assert message == (
        "max abs error 0.0193 at index (1,): expected 0, got -0.0193 (1 of 2 elements off)"
    )
    away = compare.mismatch(np.array([1.1, 2.0]), np.array([1.0, 2.0]), 1e-4, 1e-5, reveal=True)
    assert "(relative 0.1)" in away and "expected 1, got 1.1" in away


def test_hidden_mismatch_names_no_values():
    message = compare.mismatch(np.array([0.5, -0.0193]), np.zeros(2), 1e-4, 1e-5, reveal=False)
    assert (
        message
        == "values differ from the reference at index (0,) (2 of 2 elements beyond tolerance)"
    )


def test_a_key_error_with_a_tensor_repr_becomes_a_sentence():
    text = base.explain_error(
        "KeyError", " [ 0.43540959  1.3473382 ]])", "needle/autograd.py:339", ()
    )
    assert "0.4354" not in text and text.startswith("KeyError (needle/autograd.py:339); hint:")
    assert "topological order (inputs before outputs)" in text
    elsewhere = base.explain_error("KeyError", "'w'", "needle/optim.py:12", ())
    assert elsewhere == "KeyError: 'w' (needle/optim.py:12)"


def test_failed_forward_names_where_the_layer_order_differs():
    """Does a wrong model forward say where its layers, in the order built, leave the spec's?"""
    (check,) = [c for c in mlp_resnet.CHECKS if c.name.startswith("forward with given weights, t")]
    wanted = np.array([1, 2, 4, 1, 6, 2, 5, 1, 6, 2])
    mine = wanted.copy()
    mine[4], mine[5] = 2, 6
    got = {"forward": np.ones((2, 3)), "structure": mine}
    expected = {"forward": np.zeros((2, 3)), "structure": wanted}
    with pytest.raises(compare.Verdict) as public:
        check.judge(got, expected, True)
    text = str(public.value)
    assert "position 4" in text
    assert "expected ... ReLU, Residual, Linear, norm, ReLU, Dropout, Linear ..." in text
    assert "yours ... ReLU, Residual, Linear, ReLU, norm, Dropout, Linear ..." in text
    with pytest.raises(compare.Verdict) as hidden:
        check.judge(got, expected, False)
    assert "differ from the spec at 4" in str(hidden.value) and "ReLU" not in str(hidden.value)
    # The same layers nested otherwise (no difference in the walk) add no hint.
    with pytest.raises(compare.Verdict) as plain:
        check.judge({**got, "structure": wanted}, expected, True)
    assert "hint" not in str(plain.value)


def test_hidden_gradient_message_says_what_each_comparison_is_against():
    """Is the comparison with the student's own finite differences not called "the reference"?"""
    check = compare.gradient("d f / d x", "grad", "num")
    expected = {"grad": np.array([1.0, 2.0, 3.0])}
    got = {"grad": np.array([1.0, 2.5, 3.0]), "num": np.array([1.0, 2.0, 3.7])}
    with pytest.raises(compare.Verdict) as hidden:
        check.judge(got, expected, False)
    text = str(hidden.value)
    assert "your gradient disagrees with finite differences of your own forward" in text
    assert "values differ from those finite differences at index (2,)" in text, text
    assert (
        text.count("differ from the reference") == 1 and "3.7" not in text and "2.5" not in text
    ), text


def test_expected_and_got_are_printed_with_enough_digits_to_differ():
    message = compare.mismatch(np.array([1e10 + 0.01]), np.array([1e10]), 0.0, 1e-3, reveal=True)
    assert message.endswith(": expected 10000000000, got 10000000000.01"), message
    close = compare.mismatch(np.array([1.0000001]), np.array([1.0]), 0.0, 1e-9, reveal=True)
    assert "expected 1, got 1.0000001" in close, close
    assert compare.distinct(0.1, 0.1 + 2**-55) == ("0.1", "0.10000000000000003")
