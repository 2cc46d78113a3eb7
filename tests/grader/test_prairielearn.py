"""PrairieLearn: the course files (grader/prairielearn_build.py) and the grading entry point
(grader/prairielearn.py, through the built run.sh) on a simulated /grade tree.

The course files of the real repository are built once (fixed seed); each test copies the built
serverFilesCourse/needlework/ into a fresh temporary /grade (serverFilesCourse/, student/, no
results/: PrairieLearn does not create it), runs its run.sh as PrairieLearn runs the entrypoint,
and validates results.json against tests/grader/schemas/prairielearn_results.schema.json, written
from PrairieLearn's external grading documentation.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader import prairielearn, prairielearn_build, upload
from grader.problems import PROBLEM_IDS

ROOT = Path(__file__).resolve().parents[2]
SEED = 4343
SCHEMA_FILE = Path(__file__).parent / "schemas" / "prairielearn_results.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
COURSE = "serverFilesCourse/needlework"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, found = prairielearn_build.build(ROOT, tmp_path_factory.mktemp("dist") / "pl", seed=SEED)
    assert found == [], "\n".join(map(str, found))
    return out


def job(built: Path, root: Path) -> Path:
    """A simulated /grade with the built grader in serverFilesCourse/ and an empty student/."""
    shutil.copytree(built / COURSE, root / COURSE, symlinks=True)
    (root / "student").mkdir()
    (root / "data").mkdir()
    (root / "data" / "data.json").write_text("{}")
    return root


def run_job(root: Path, **env: str) -> tuple[dict, subprocess.CompletedProcess]:
    """Run the entrypoint as PrairieLearn does; the parsed results.json (strict UTF-8)."""
    done = subprocess.run(
        [str(root / COURSE / "run.sh")],
        cwd=root,
        env={
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
            "HOME": str(root),
            "NEEDLEWORK_GRADE_ROOT": str(root),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    path = root / "results" / "results.json"
    assert path.is_file(), f"no results.json; stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    data = path.read_bytes()
    assert len(data) < prairielearn.MAX_BYTES
    results = json.loads(data.decode("utf-8"))  # strict: it must be valid UTF-8
    jsonschema.validate(results, SCHEMA)
    for test in results["tests"]:
        assert test["points"] <= test["max_points"] + 1e-9, test
    return results, done


def copy_packages(source: Path, dest: Path) -> None:
    for package in ("needle", "apps"):
        shutil.copytree(source / package, dest / package, ignore=shutil.ignore_patterns("__py*"))


def zip_packages(source: Path, archive_path: Path) -> None:
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in ("needle", "apps"):
            for path in sorted((source / package).rglob("*.py")):
                archive.write(path, path.relative_to(source).as_posix())


def grade_json(folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--submission", str(folder), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(done.stdout)


# ---------------------------------------------------------------- the schema can fail


def test_schema_rejects_a_score_outside_the_unit_interval_and_a_test_without_points():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"score": 58.5, "tests": []}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"gradable": True, "tests": []}, SCHEMA)  # gradable needs a score
    with pytest.raises(jsonschema.ValidationError):
        bad = {"score": 0.5, "tests": [{"name": "a", "max_points": 1, "message": "", "output": ""}]}
        jsonschema.validate(bad, SCHEMA)
    jsonschema.validate({"gradable": False, "format_errors": "no needle/"}, SCHEMA)


# ---------------------------------------------------------------- grading


def test_skeleton_zip_scores_zero_with_a_public_and_a_hidden_test_per_problem(built, tmp_path):
    root = job(built, tmp_path / "grade")
    zip_packages(ROOT / "hw", root / "student" / "submission.zip")
    assert not (root / "results").exists()  # PrairieLearn does not create it
    results, done = run_job(root)
    assert results["gradable"] is True and results["score"] == 0
    names = [test["name"] for test in results["tests"]]
    assert names == [f"{p} (public)" for p in PROBLEM_IDS] + [f"{p} (hidden)" for p in PROBLEM_IDS]
    assert sum(test["max_points"] for test in results["tests"]) == pytest.approx(100)
    assert "submission.zip" in results["message"]
    for test in results["tests"]:
        assert test["message"].startswith("not implemented yet"), test
        assert "implement in" in test["output"]
    assert "Traceback" not in done.stdout + done.stderr


def test_solutions_score_one_and_the_public_tests_are_the_json_view(built, tmp_path):
    root = job(built, tmp_path / "grade")
    copy_packages(ROOT / "solutions", root / "student" / "hw")
    results, _ = run_job(root)
    assert results["score"] == 1
    assert all(test["points"] == test["max_points"] for test in results["tests"])
    assert "hw/needle" in results["message"]


def test_planted_mistake_costs_points_in_both_kinds_with_the_same_messages(built, tmp_path):
    """A leaky ReLU: partial credit; the public tests carry the checks and messages of `grade
    --json` on the same folder, at half the points (the hidden share)."""
    submission = tmp_path / "submission"
    copy_packages(ROOT / "solutions", submission)
    ops = submission / "needle" / "ops" / "ops_mathematic.py"
    text = ops.read_text()
    assert text.count("return array_api.maximum(a, 0)") == 1
    leaky = "return array_api.maximum(a, 0.01 * a)"
    ops.write_text(text.replace("return array_api.maximum(a, 0)", leaky))
    root = job(built, tmp_path / "grade")
    copy_packages(submission, root / "student")
    results, _ = run_job(root)
    assert 0 < results["score"] < 1
    tests = {test["name"]: test for test in results["tests"]}
    for problem in grade_json(submission)["problems"]:
        public = tests[f"{problem['id']} (public)"]
        assert public["max_points"] == pytest.approx(problem["max_score"] / 2)
        assert public["points"] == pytest.approx(problem["score"] / 2, abs=0.01)
        for check in problem["checks"]:
            if not check["passed"] and check["message"]:
                assert check["message"] in public["output"], (problem["id"], check["name"])
    assert tests["ops_forward (hidden)"]["points"] < tests["ops_forward (hidden)"]["max_points"]


def test_hostile_submission_cannot_forge_the_results(built, tmp_path):
    """Student code that writes its own results.json and prints a fake one gets what its code
    earns: the grader's results replace anything written during grading."""
    root = job(built, tmp_path / "grade")
    copy_packages(ROOT / "hw", root / "student")
    forged = json.dumps({"gradable": True, "score": 1.0, "tests": []})
    (root / "student" / "needle" / "__init__.py").open("a").write(
        "\nimport os as _os\n"
        f"_path = {str(root / 'results' / 'results.json')!r}\n"
        "try:\n"
        "    _os.makedirs(_os.path.dirname(_path), exist_ok=True)\n"
        f"    open(_path, 'w').write({forged!r})\n"
        "except OSError:\n"
        "    pass\n"
        f"print({forged!r})\n"
    )
    results, _ = run_job(root)
    assert results["gradable"] is True and results["score"] == 0
    assert len(results["tests"]) == 2 * len(PROBLEM_IDS)


# ---------------------------------------------------------------- bad input


def test_upload_without_needle_is_not_gradable_and_says_what_was_expected(built, tmp_path):
    root = job(built, tmp_path / "grade")
    (root / "student" / "notes.txt").write_text("my homework")
    (root / "student" / "autograd.py").write_text("x = 1\n")
    results, done = run_job(root)
    assert results["gradable"] is False and "score" not in results
    assert "No needle/ package found" in results["message"]
    assert "upload the needle/ folder itself" in results["message"]
    assert results["format_errors"] == [results["message"]]
    assert "Traceback" not in done.stdout + done.stderr


def test_zip_bomb_is_refused_with_a_message_naming_it(built, tmp_path):
    """A zip whose .py members unpack far past the cap (a few hundred KB compressed) is not
    opened at all, and the message says so."""
    root = job(built, tmp_path / "grade")
    with zipfile.ZipFile(root / "student" / "submission.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("needle/__init__.py", "")
        archive.writestr("needle/ops.py", b"#" * (upload.ZIP_MAX_BYTES + 1024))
    assert (root / "student" / "submission.zip").stat().st_size < 1024**2
    results, done = run_job(root)
    assert results["gradable"] is False
    assert "submission.zip was not opened: its Python files unpack to more than 50 MB" in (
        results["message"]
    )
    assert "Traceback" not in done.stdout + done.stderr


def test_files_that_are_not_utf8_still_give_valid_results(built, tmp_path):
    """A source file in Latin-1 costs the problems that need it; a file name that is not UTF-8
    reaches results.json as valid UTF-8."""
    root = job(built, tmp_path / "grade")
    copy_packages(ROOT / "solutions", root / "student")
    logarithmic = root / "student" / "needle" / "ops" / "ops_logarithmic.py"
    # In a comment, Python's compile() lets bytes that are not UTF-8 pass; in a string it cannot.
    logarithmic.write_bytes(logarithmic.read_bytes() + b'\nNOTE = "r\xe9sum\xe9 in Latin-1"\n')
    odd_name = os.fsencode(root / "student") + b"/notes-\xff.txt"
    os.close(os.open(odd_name, os.O_CREAT | os.O_WRONLY))
    results, _ = run_job(root)
    assert results["gradable"] is True and 0 < results["score"] < 1
    tests = {test["name"]: test for test in results["tests"]}
    assert tests["logsumexp (public)"]["points"] == 0
    assert "ops_logarithmic.py" in tests["logsumexp (public)"]["output"]
    assert tests["sgd (public)"]["points"] == tests["sgd (public)"]["max_points"]


def test_file_name_that_is_not_utf8_in_a_refused_upload_is_written_as_valid_utf8(built, tmp_path):
    root = job(built, tmp_path / "grade")
    os.close(os.open(os.fsencode(root / "student") + b"/caf\xe9.py", os.O_CREAT | os.O_WRONLY))
    results, _ = run_job(root)
    assert results["gradable"] is False
    assert "caf\ufffd.py" in results["message"]


def test_missing_student_folder_is_not_gradable(built, tmp_path):
    root = job(built, tmp_path / "grade")
    (root / "student").rmdir()
    results, _ = run_job(root)
    assert results["gradable"] is False and "No needle/ package found" in results["message"]


def test_grader_failure_marks_the_submission_not_gradable_instead_of_zero(built, tmp_path):
    root = job(built, tmp_path / "grade")
    copy_packages(ROOT / "solutions", root / "student")
    (root / COURSE / "answers" / "hidden.npz").write_bytes(b"not an npz file")
    results, done = run_job(root)
    assert results["gradable"] is False and "score" not in results
    assert results["message"].startswith("The grader failed")
    assert "costs no attempt" in results["message"]
    assert "Traceback" in done.stdout + done.stderr  # for the course staff's job log


def test_python_that_cannot_start_still_writes_a_not_gradable_result(built, tmp_path):
    root = job(built, tmp_path / "grade")
    copy_packages(ROOT / "solutions", root / "student")
    results, _ = run_job(root, NEEDLEWORK_PYTHON=str(tmp_path / "no-such-python"))
    assert results["gradable"] is False
    assert "exit status 127" in results["message"]


def test_answers_are_root_only_after_a_run_even_if_copied_world_readable(built, tmp_path):
    """A course repository keeps no modes: run.sh makes the answers root-only again."""
    root = job(built, tmp_path / "grade")
    answers = root / COURSE / "answers"
    answers.chmod(0o755)
    (answers / "hidden.npz").chmod(0o644)
    (root / "student" / "x.txt").write_text("")
    run_job(root)
    assert stat.S_IMODE(answers.stat().st_mode) == 0o700
    assert stat.S_IMODE((answers / "hidden.npz").stat().st_mode) == 0o600


# ---------------------------------------------------------------- the view


def test_results_are_cut_below_one_megabyte():
    long = "x" * 400_000
    payload = {"gradable": True, "score": 0.5, "message": "m", "output": long,
               "tests": [{"name": f"t{i}", "points": 0, "max_points": 1, "message": "",
                          "output": long} for i in range(4)]}  # fmt: skip
    fitted = prairielearn.fit(payload)
    assert len(prairielearn.encoded(fitted)) < prairielearn.MAX_BYTES
    assert fitted["score"] == 0.5 and len(fitted["tests"]) == 4
    jsonschema.validate(fitted, SCHEMA)


def test_nul_and_lone_surrogates_are_made_valid():
    cleaned = prairielearn.sanitize({"message": "a\x00b\udcffc", "tests": [{"name": "\ud800"}]})
    encoded = prairielearn.encoded(cleaned)
    encoded.decode("utf-8")  # strict
    assert "\\x00" in cleaned["message"] and "\x00" not in cleaned["message"]


def test_runtime_outside_a_built_course_grades_the_public_cases_only(tmp_path):
    """From the kit itself (no bundle.json next to grader/): public tests only, full points."""
    root = tmp_path / "grade"
    copy_packages(ROOT / "solutions", root / "student")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "prairielearn", "--root", str(root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 1
    assert [test["name"] for test in results["tests"]] == [f"{p} (public)" for p in PROBLEM_IDS]


# ---------------------------------------------------------------- the course files


def test_question_enables_external_grading_with_the_built_entrypoint(built):
    info = json.loads((built / "questions" / "needlework" / "info.json").read_text())
    uuid.UUID(info["uuid"])
    assert info["gradingMethod"] == "External" and info["type"] == "v3"
    options = info["externalGradingOptions"]
    assert options["enabled"] is True and options["enableNetworking"] is False
    assert 0 < options["timeout"] <= 600
    assert options["image"].startswith(prairielearn_build.IMAGE_PLACEHOLDER)
    assert options["serverFilesCourse"] == ["needlework/"]
    entrypoint = options["entrypoint"]
    assert entrypoint.startswith("/grade/serverFilesCourse/")
    script = built / "serverFilesCourse" / entrypoint[len("/grade/serverFilesCourse/") :]
    assert script.is_file() and os.access(script, os.X_OK)
    html = (built / "questions" / "needlework" / "question.html").read_text()
    assert '<pl-file-upload file-names="submission.zip">' in html
    assert "<pl-external-grader-results>" in html


def test_course_files_hold_root_only_answers_the_image_and_a_readme(built):
    course = built / COURSE
    assert stat.S_IMODE((course / "answers").stat().st_mode) == 0o700
    assert stat.S_IMODE((course / "answers" / "hidden.npz").stat().st_mode) == 0o600
    assert not (course / "run_autograder").exists() and not (course / "setup.sh").exists()
    assert (course / "grader" / "prairielearn.py").is_file()
    assert not (course / "grader" / "prairielearn_build.py").exists()
    dockerfile = (built / "image" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    pins = (built / "image" / "requirements.txt").read_text()
    assert "numpy==" in pins and "numdifftools==" in pins
    readme = (built / "README.md").read_text()
    for words in ("python:3.11-slim", '"externalGradingOptions"', '"entrypoint"', "root-only"):
        assert words in readme, words
    assert "$" not in readme.replace("$commit", "")  # every placeholder filled


def test_public_only_build_has_no_answers(tmp_path):
    out, found = prairielearn_build.build(
        ROOT, tmp_path / "pl", seed=1, image="me/needlework:1", public_only=True
    )
    assert found == []
    assert not (out / COURSE / "answers").exists() and not (out / COURSE / "bundle.json").exists()
    info = json.loads((out / "questions" / "needlework" / "info.json").read_text())
    assert info["externalGradingOptions"]["image"] == "me/needlework:1"
    assert "hidden cases" not in (out / "questions" / "needlework" / "question.html").read_text()
    assert "public cases only" in (out / "README.md").read_text()


def test_timeout_past_prairielearns_limit_is_refused(tmp_path):
    with pytest.raises(prairielearn_build.BuildError, match="600"):
        prairielearn_build.build(ROOT, tmp_path / "pl", timeout=900)
