"""The JUnit XML view (grader/junit.py, `python -m grader grade --junit FILE`), read back with a
real consumer, junitparser, the library CI plugins build on; its counts must match the JSON view
of the same results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import junitparser
import pytest

from grader import junit, report
from grader.results import CheckResult, ProblemResult, RunResult

ROOT = Path(__file__).resolve().parents[2]
RELU = ("needle/ops/ops_mathematic.py", "return array_api.maximum(a, 0)")


def read_back(path: Path) -> dict[str, dict]:
    """{suite name: {"tests", "failures", "errors", "cases": {case name: (kind, message)}}} as
    junitparser reads the file; kind is "passed", "failure" or "error"."""
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = {}
    for suite in xml:
        cases = {}
        for case in suite:
            if case.is_passed:
                cases[case.name] = ("passed", "")
            else:
                (outcome,) = case.result
                kind = "error" if isinstance(outcome, junitparser.Error) else "failure"
                cases[case.name] = (kind, outcome.message)
        suites[suite.name] = {
            "tests": suite.tests,
            "failures": suite.failures,
            "errors": suite.errors,
            "cases": cases,
        }
    return suites


def assert_matches_json(suites: dict[str, dict], data: dict) -> None:
    """One suite per problem, one case per check: same names, outcomes, messages and counts."""
    assert list(suites) == [problem["id"] for problem in data["problems"]]
    for problem in data["problems"]:
        suite = suites[problem["id"]]
        if problem["error"]:
            assert suite["cases"] == {problem["id"]: ("error", problem["error"])}
            assert (suite["tests"], suite["failures"], suite["errors"]) == (1, 0, 1)
            continue
        failed = [check for check in problem["checks"] if not check["passed"]]
        assert suite["tests"] == len(problem["checks"]) == len(suite["cases"])
        assert suite["failures"] == len(failed) and suite["errors"] == 0
        for check in problem["checks"]:
            kind, message = suite["cases"][check["name"]]
            if check["passed"]:
                assert kind == "passed"
            else:
                assert kind == "failure"
                assert message == check["message"] or message.startswith("not implemented yet")


def made_up_run() -> RunResult:
    checks = (
        CheckResult("forward", True),
        CheckResult("gradient", False, "max error 0.5 at [1, 2] (expected 1.0, got 1.5)"),
        CheckResult("given op", True, weight=0.0),
        CheckResult("step", False, weight=2.0, not_implemented="Adam.step in needle/optim.py"),
    )
    return RunResult(
        "hw",
        (
            ProblemResult("adam", "Adam", 7, checks, seconds=1.25),
            ProblemResult("logsumexp", "LogSumExp", 8, error="did not finish within 20 s"),
        ),
    )


def test_made_up_run_reads_back_with_the_counts_of_the_json_view(tmp_path):
    result = made_up_run()
    junit.write(result, tmp_path / "out" / "junit.xml")
    suites = read_back(tmp_path / "out" / "junit.xml")
    assert_matches_json(suites, report.as_json(result))
    assert suites["adam"]["cases"]["step"] == (
        "failure",
        "not implemented yet: Adam.step in needle/optim.py",
    )
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    assert (xml.tests, xml.failures, xml.errors) == (5, 2, 1)


def test_suite_properties_carry_the_problems_score():
    root = junit.document(made_up_run()).getroot()
    (adam, _) = root.findall("testsuite")
    properties = {p.get("name"): p.get("value") for p in adam.find("properties")}
    assert properties == {"title": "Adam", "score": "1.75", "max_score": "7", "status": "partial"}
    assert adam.find("system-out").text == report.problem_text(made_up_run().problems[0], None)


def test_characters_xml_cannot_hold_are_escaped_and_the_file_still_parses(tmp_path):
    """A student's exception text may carry NUL, escape codes and lone surrogates."""
    hostile = "boom\x00\x1b[31m red \udcff end <&>\"'"
    result = RunResult("hw", (ProblemResult("p", "P", 1, (CheckResult("c\x07", False, hostile),)),))
    junit.write(result, tmp_path / "junit.xml")
    suites = read_back(tmp_path / "junit.xml")
    kind, message = suites["p"]["cases"]["c\\x07"]
    assert kind == "failure"
    assert message == "boom\\x00\\x1b[31m red \\udcff end <&>\"'"


def test_planted_mistake_reads_back_as_the_json_view_of_the_same_run(grade_edited, tmp_path):
    """A leaky ReLU: its failed checks and their messages, as junitparser reads them."""
    result = grade_edited(
        RELU[0], RELU[1], "return array_api.maximum(a, 0.01 * a)",
        problems=["ops_forward", "softmax_loss"], full=True,
    )  # fmt: skip
    assert 0 < result.problems[0].score < result.problems[0].max_score
    junit.write(result, tmp_path / "junit.xml")
    suites = read_back(tmp_path / "junit.xml")
    assert_matches_json(suites, report.as_json(result))
    assert any(kind == "failure" for kind, _ in suites["ops_forward"]["cases"].values())


def test_a_broken_writer_is_caught(tmp_path, monkeypatch):
    """Can the read-back fail? A writer that drops failures must not match the JSON."""
    result = made_up_run()
    monkeypatch.setattr(junit, "_failures", lambda problem: 0)
    junit.write(result, tmp_path / "junit.xml")
    with pytest.raises(AssertionError):
        assert_matches_json(read_back(tmp_path / "junit.xml"), report.as_json(result))


def test_grade_command_writes_junit_beside_the_json_of_the_same_run(tmp_path):
    out = tmp_path / "reports" / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--submission", str(ROOT / "hw"), "--json",
         "--problem", "logsumexp", "dropout", "--junit", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    suites = read_back(out)
    assert_matches_json(suites, data)
    assert sum(suite["failures"] for suite in suites.values()) > 0


def test_every_new_view_of_one_run_has_the_same_checks_messages_and_scores(grade_edited, tmp_path):
    """JUnit, the Classroom runner results and PrairieLearn's results.json render one RunResult
    (a leaky ReLU) with the checks, messages and scores of the JSON view."""
    from grader import classroom, prairielearn

    result = grade_edited(
        RELU[0], RELU[1], "return array_api.maximum(a, 0.01 * a)",
        problems=["ops_forward", "nn_basic", "logsumexp"], full=True,
    )  # fmt: skip
    data = report.as_json(result)
    junit.write(result, tmp_path / "junit.xml")
    suites = read_back(tmp_path / "junit.xml")
    assert_matches_json(suites, data)
    runners = classroom.runner_results(result)
    learn = {test["name"]: test for test in prairielearn.results(result)["tests"]}
    for problem, json_problem in zip(result.problems, data["problems"], strict=True):
        failed = {c["name"]: c["message"] for c in json_problem["checks"] if not c["passed"]}
        tests = runners[problem.id]["tests"]
        assert sum(test["score"] for test in tests) == pytest.approx(json_problem["score"])
        assert runners[problem.id]["max_score"] == json_problem["max_score"]
        weighted = [check.name for check in problem.checks if check.weight > 0]
        assert [test["name"] for test in tests] == weighted
        for test in tests:
            if test["status"] == "fail" and failed[test["name"]]:
                assert test["message"] == failed[test["name"]]
        page = learn[f"{problem.id} (public)"]
        assert (page["points"], page["max_points"]) == (json_problem["score"], problem.max_score)
        for message in failed.values():
            assert message in page["output"]
    assert 0 < data["problems"][0]["score"] < data["problems"][0]["max_score"]
