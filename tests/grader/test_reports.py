"""Outputs: the JSON object, Gradescope's results.json, the batch gradebook, notebook check cells,
the channel's validation and the pure scoring function."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from grader import REPO_ROOT, notebook, report
from grader import problems as registry
from grader.channel import ChannelError, ProbeOutput, StepError, decode, encode
from grader.results import CheckResult, ProblemResult, RunResult, problem_score

SOLUTIONS = REPO_ROOT / "solutions"


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def test_json_and_gradescope_outputs_validate(tmp_path, skeleton):
    results = tmp_path / "results.json"
    completed = cli(
        "grade",
        "--submission",
        str(skeleton),
        "--problem",
        "dropout",
        "sgd",
        "--json",
        "--gradescope",
        str(results),
    )
    report = json.loads(completed.stdout)
    assert set(report) >= {"score", "max_score", "problems"}
    assert report["score"] == 0
    assert report["max_score"] == registry.total_points(["dropout", "sgd"])
    for problem in report["problems"]:
        assert set(problem) >= {"id", "score", "max_score", "status", "checks"}
        for check in problem["checks"]:
            assert set(check) == {"name", "passed", "message"}
            assert isinstance(check["passed"], bool) and isinstance(check["message"], str)
    gradescope = json.loads(results.read_text())
    assert gradescope["score"] == 0
    assert [t["max_score"] for t in gradescope["tests"]] == [
        registry.points("dropout"),
        registry.points("sgd"),
    ]
    for test in gradescope["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in {"passed", "failed"} and test["visibility"] == "visible"
        assert "implement" in test["output"]


def test_terminal_report_ends_with_total_and_names_failures(solutions_copy):
    path = solutions_copy / "needle/nn/nn_basic.py"
    text = path.read_text()
    assert text.count("return x * mask / (1 - self.p)") == 1
    path.write_text(text.replace("return x * mask / (1 - self.p)", "return x * mask"))
    completed = cli("grade", "--submission", str(solutions_copy), "--problem", "dropout")
    lines = completed.stdout.strip().splitlines()
    assert lines[-1].startswith("Total: ")
    assert "FAIL" in completed.stdout and lines[-1] != "Total: 4/4"


def test_batch_writes_one_row_per_submission_even_for_hostile_ones(tmp_path, skeleton):
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in ("needle", "apps"):
        (folder / "alice").mkdir(exist_ok=True)
        os.symlink(SOLUTIONS / name, folder / "alice" / name)  # symlinks are not followed
    shutil.copytree(SOLUTIONS / "needle", folder / "bob" / "needle")
    shutil.copytree(skeleton, folder / "carol")
    shutil.copytree(SOLUTIONS / "needle", folder / "mallory" / "needle")
    init = folder / "mallory" / "needle" / "__init__.py"
    init.write_text("import os\nos._exit(3)\n" + init.read_text())
    out = tmp_path / "gradebook.csv"
    cli("batch", str(folder), "--jobs", "2", "--out", str(out), "--problem", "dropout", "sgd")
    rows = {row["submission"]: row for row in csv.DictReader(io.StringIO(out.read_text()))}
    assert sorted(rows) == ["alice", "bob", "carol", "mallory"]
    assert float(rows["bob"]["total"]) == registry.total_points(["dropout", "sgd"])
    assert rows["alice"]["total"] == rows["carol"]["total"] == rows["mallory"]["total"] == "0"
    assert "without reporting" in rows["mallory"]["notes"]


def test_notebook_check_prints_one_problem_and_the_score_line(capsys):
    result = notebook.check("dropout", SOLUTIONS)
    printed = capsys.readouterr().out.strip().splitlines()
    points = registry.points("dropout")
    assert printed[-1] == f"Score for dropout: {points}/{points}"
    assert result.score == points


def test_channel_round_trip_and_rejections():
    output = ProbeOutput({"a": np.arange(3.0), "b": np.array(True)}, {"s": StepError("E", "m")})
    frame = encode(output, "ab" * 16)
    back = decode(frame, "ab" * 16)
    assert np.array_equal(back.arrays["a"], np.arange(3.0)) and back.errors["s"].type == "E"
    with pytest.raises(ChannelError):
        decode(frame, "cd" * 16)  # another run's nonce
    with pytest.raises(ChannelError):
        decode(frame[:-5], "ab" * 16)  # truncated
    objects = ProbeOutput({"a": np.array([object()], dtype=object)})
    with pytest.raises((ChannelError, ValueError)):
        decode(encode(objects, "ab" * 16), "ab" * 16)
    strings = ProbeOutput({"a": np.array(["text"])})
    with pytest.raises(ChannelError):
        decode(encode(strings, "ab" * 16), "ab" * 16)


def test_score_is_the_weighted_fraction_of_passed_checks():
    checks = (CheckResult("a", True, weight=2.0), CheckResult("b", False), CheckResult("c", True))
    assert problem_score(8, checks) == 6
    assert problem_score(8, checks, error="timed out") == 0
    assert problem_score(8, ()) == 0


def test_short_report_folds_a_series_and_shows_causes_first():
    """Does a failed diagnostic check come first, with a series of steps folded into one line?"""
    steps = tuple(
        CheckResult(
            f"after step {k}",
            k == 1,
            f"off at step {k}",
            kind="trajectory",
            group="steps 1-8",
            member=f"at step {k}",
        )
        for k in range(1, 9)
    )
    cause = CheckResult("moment stored corrected", False, "expected 0.1, got 1", kind="diagnostic")
    problem = ProblemResult("adam", "Adam", 7, (*steps, cause))
    assert report.problem_lines(problem)[1:] == [
        "    FAIL moment stored corrected: expected 0.1, got 1",
        "    FAIL steps 1-8: 7 of 8 failed; first at step 2: off at step 2",
    ]
    every = report.problem_lines(problem, limit=None)
    assert len(every) == 1 + 8 and every[1].startswith("    FAIL moment stored corrected")
    gradescope = report.gradescope(RunResult("hw", (problem,)))["tests"][0]["output"]
    assert gradescope.count("FAIL") == 8


@pytest.mark.parametrize(("flag", "folder"), [("1", "solutions"), ("0", "hw"), (None, "hw")])
def test_check_cells_grade_the_folder_the_set_up_cell_named_when_needle_did_not_import(
    monkeypatch, tmp_path, flag, folder
):
    """With needle not imported, is the folder NEEDLEWORK_SOLUTIONS names (as in the notebooks'
    set-up cell: solutions/ for "1", else hw/, under the kit root above the current folder)
    the one graded?"""
    kit = tmp_path / "kit"
    for name in ("grader", "notebooks", "hw", "solutions"):
        (kit / name).mkdir(parents=True)
    monkeypatch.delitem(sys.modules, "needle", raising=False)
    if flag is None:
        monkeypatch.delenv("NEEDLEWORK_SOLUTIONS", raising=False)
    else:
        monkeypatch.setenv("NEEDLEWORK_SOLUTIONS", flag)
    monkeypatch.chdir(kit / "notebooks")
    assert notebook.default_submission() == kit / folder
    monkeypatch.chdir(tmp_path)  # no kit above: the grader's own
    assert notebook.default_submission() == REPO_ROOT / folder


def test_terminal_json_and_gradescope_show_the_same_checks_messages_and_stubs(tmp_path):
    """Do the three views of one graded submission, with mistakes and a stub, agree?"""
    from grader import assign, pipeline

    root = tmp_path / "submission"
    for package in ("needle", "apps"):
        shutil.copytree(SOLUTIONS / package, root / package)
    # Adam storing its bias-corrected first moment, and LogSumExp still a stub.
    optim = root / "needle" / "optim.py"
    text = optim.read_text()
    stored = "            m += (1 - self.beta1) * g\n"
    assert text.count(stored) == 1
    corrected = stored + "            self.m[w] = m / (1 - self.beta1**self.t)\n"
    optim.write_text(text.replace(stored, corrected))
    skeleton = assign.strip_tree(SOLUTIONS)
    logarithmic = "needle/ops/ops_logarithmic.py"
    (root / logarithmic).write_bytes(skeleton[logarithmic])
    result = pipeline.grade(root, ["logsumexp", "adam", "softmax_loss"])
    assert any(not p.to_implement and p.score < p.max_score for p in result.problems)
    as_json = report.as_json(result)
    gradescope = {test["name"].split(":")[0]: test for test in report.gradescope(result)["tests"]}
    terminal = report.terminal(result)
    for problem, entry in zip(result.problems, as_json["problems"], strict=True):
        failed = [check for check in problem.checks if not check.passed]
        assert entry["to_implement"] == list(problem.to_implement)
        assert [(c["name"], c["message"]) for c in entry["checks"] if not c["passed"]] == [
            (check.name, check.message) for check in failed
        ]
        output = gradescope[problem.id]["output"]
        for stub in problem.to_implement:
            name, _, path = stub.partition(" in ")
            assert name in output and path in output and name in terminal
        for check in failed:
            if not check.not_implemented:
                assert f"FAIL {check.name}: {check.message}" in output
                shown = check.group or check.name
                assert f"FAIL {shown}" in terminal


def test_a_failed_problem_shows_its_hint_and_a_passed_one_does_not(tmp_path):
    from grader import assign, pipeline
    from grader import problems as registry

    root = tmp_path / "submission"
    for package in ("needle", "apps"):
        shutil.copytree(SOLUTIONS / package, root / package)
    logarithmic = "needle/ops/ops_logarithmic.py"
    (root / logarithmic).write_bytes(assign.strip_tree(SOLUTIONS)[logarithmic])
    result = pipeline.grade(root, ["logsumexp", "sgd"])
    failed, passed = result.problems
    text = report.terminal(result)
    hint = registry.load("logsumexp").PROBLEM.hint
    assert hint and f"hint: {hint}" in text and f"hint: {hint}" in report.problem_text(failed)
    assert report.as_json(result)["problems"][0]["hint"] == hint
    assert f"hint: {registry.load('sgd').PROBLEM.hint}" not in report.problem_text(passed)


def test_every_missing_prerequisite_is_listed_at_once_and_labelled(tmp_path):
    """With its own code done, does a problem name all the other problems' stubs it needs, as
    such, and never under its own "implement in"?"""
    from grader import assign, pipeline

    root = tmp_path / "submission"
    for package in ("needle", "apps"):
        shutil.copytree(SOLUTIONS / package, root / package)
    ops = "needle/ops/ops_mathematic.py"
    (root / ops).write_bytes(assign.strip_tree(SOLUTIONS)[ops])
    (problem,) = pipeline.grade(root, ["softmax_loss"]).problems
    lines = report.problem_lines(problem)
    assert not any(line.strip().startswith("implement in") for line in lines), lines
    label = "also needs (graded in other problems) in needle/ops/ops_mathematic.py:"
    start = lines.index(f"    {label}")
    listed = " ".join(lines[start + 1 : start + 3])
    for name in (
        "Summation.compute",
        "EWiseDiv.compute",
        "DivScalar.compute",
        "Summation.gradient",
    ):
        assert name in listed, lines


def test_a_probe_killed_from_outside_is_not_blamed_on_memory_alone():
    from grader import judge, submission
    from grader.runner import RunOutcome

    text = judge.failure_text(RunOutcome(None, returncode=-9), submission.Submission(SOLUTIONS))
    assert text.startswith("the grading process was killed by SIGKILL (stopped from outside")
    assert "memory limit of 3 GB is one possible cause" in text and "another process" in text
