"""The Gradescope autograder bundle (built by grader/autograder.py, run by grader/gradescope.py).

The bundle of the real repository is built once (fixed seed), unpacked into a simulated
/autograder tree in a temporary folder (source/, submission/, results/), and its run_autograder is
run as Gradescope would, with this venv's python first on PATH instead of setup.sh's environment.
Locating the submission is tested directly on small folder layouts.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader import (
    autograder,
    cases,
    leaks,
    references,
    upload,
)
from grader import problems as registry
from grader.assign import find_regions

ROOT = Path(__file__).resolve().parents[2]
SEED = 4242
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> autograder.Bundle:
    out = tmp_path_factory.mktemp("dist") / "autograder.zip"
    built = autograder.build(ROOT, out, seed=SEED)
    assert not built.leaks, "\n".join(map(str, built.leaks))
    return built


def test_bundle_holds_no_self_test_data(bundle):
    """The planted mistakes and alternatives are for instructors: not in the bundle."""
    assert bundle.files and not [name for name in bundle.files if "selftest" in name]


def unpack(bundle: autograder.Bundle, root: Path) -> Path:
    """A simulated /autograder: the zip in source/ (modes as the zip says), an empty submission/."""
    source = root / "source"
    with zipfile.ZipFile(bundle.zip_path) as archive:
        archive.extractall(source)
        for info in archive.infolist():
            mode = stat.S_IMODE(info.external_attr >> 16)
            if mode:
                os.chmod(source / info.filename, mode)
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path, **env: str) -> dict:
    """Run source/run_autograder as Gradescope does; return the parsed results.json."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        [str(root / "source" / "run_autograder")],
        cwd=root,
        env={"PATH": path, "AUTOGRADER_ROOT": str(root), "HOME": str(root), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results = root / "results" / "results.json"
    assert results.is_file(), f"no results.json; stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return json.loads(results.read_text())


def copy_packages(source: Path, dest: Path) -> None:
    for package in ("needle", "apps"):
        shutil.copytree(source / package, dest / package, ignore=shutil.ignore_patterns("__py*"))


def assert_gradescope_format(results: dict) -> None:
    """Gradescope's results.json: a numeric score, and tests with the fields it reads."""
    assert isinstance(results["score"], int | float)
    assert results.get("visibility", "visible") in VISIBILITIES
    assert isinstance(results.get("execution_time", 0), int)
    assert isinstance(results["tests"], list)
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], int | float) and isinstance(test["max_score"], int | float)
        assert 0 <= test["score"] <= test["max_score"], test["name"]
        assert test["status"] in ("passed", "failed"), test["name"]
        assert isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES
    if results["tests"]:
        assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))


def by_name(results: dict) -> dict[str, dict]:
    return {test["name"]: test for test in results["tests"]}


# ---------------------------------------------------------------- running the bundle


@pytest.mark.slow
def test_copy_of_solutions_scores_full_marks_in_public_and_hidden_tests(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    copy_packages(ROOT / "solutions", root / "submission")
    results = run_autograder(root)
    assert_gradescope_format(results)
    full = json.loads((root / "source" / autograder.MANIFEST).read_text())["problems"]
    assert results["score"] == pytest.approx(sum(full.values()))
    tests = by_name(results)
    assert set(tests) == {f"{p} ({kind})" for p in full for kind in ("public", "hidden")}
    for problem, points in full.items():
        public, hidden = tests[f"{problem} (public)"], tests[f"{problem} (hidden)"]
        assert public["max_score"] + hidden["max_score"] == pytest.approx(points)
        assert public["status"] == hidden["status"] == "passed", public["output"] + hidden["output"]
        assert public["visibility"] == "visible"
        assert hidden["visibility"] == "after_due_date"
    assert "needle/ package at needle" in results["output"]


@pytest.mark.slow
def test_untouched_skeleton_nested_in_hw_is_found_and_scores_zero(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    copy_packages(ROOT / "hw", root / "submission" / "hw")
    results = run_autograder(root)
    assert_gradescope_format(results)
    assert "needle/ package at hw/needle (with apps/)" in results["output"]
    assert results["score"] == 0
    assert len(results["tests"]) == 2 * len(registry.PROBLEM_IDS)
    for test in results["tests"]:
        assert test["score"] == 0 and test["status"] == "failed"
        assert "implement in needle/" in test["output"] or "implement in apps/" in test["output"]


@pytest.mark.slow
def test_public_tests_say_what_make_grade_says(bundle, tmp_path):
    """Does the bundle's public test of each problem carry make grade's checks, messages and
    to-implement list, for a submission with a mistake and a stub?"""
    from grader import assign, pipeline, report

    root = unpack(bundle, tmp_path)
    submission = root / "submission"
    copy_packages(ROOT / "solutions", submission)
    logarithmic = "needle/ops/ops_logarithmic.py"
    (submission / logarithmic).write_bytes(assign.strip_tree(ROOT / "solutions")[logarithmic])
    optim = submission / "needle" / "optim.py"
    text = optim.read_text()
    moment = "            m += (1 - self.beta1) * g\n"
    assert text.count(moment) == 1, "the reference Adam's first-moment update has changed"
    optim.write_text(text.replace(moment, moment.replace("(1 - self.beta1) * g", "2 * g")))
    tests = by_name(run_autograder(root))
    local = report.gradescope(pipeline.grade(submission))["tests"]
    for problem, test in zip(registry.PROBLEM_IDS, local, strict=True):
        bundled = tests[f"{problem} (public)"]
        # The first line holds the points, which the bundle splits between public and hidden.
        assert bundled["output"].splitlines()[1:] == test["output"].splitlines()[1:], problem
    assert "implement in needle/ops/ops_logarithmic.py" in tests["logsumexp (public)"]["output"]
    assert "FAIL" in tests["adam (public)"]["output"]


@pytest.mark.slow
def test_submission_without_needle_scores_zero_and_says_what_was_expected(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    (root / "submission" / "homework.ipynb").write_text("{}")
    (root / "submission" / "src").mkdir()
    results = run_autograder(root)
    assert_gradescope_format(results)
    assert results["score"] == 0
    assert "No needle/ package found" in results["output"]
    assert "homework.ipynb, src/" in results["output"]
    assert results["tests"][0]["max_score"] == registry.total_points()


@pytest.mark.slow
def test_answers_are_root_only_after_a_run_even_if_unpacked_world_readable(bundle, tmp_path):
    root = tmp_path
    with zipfile.ZipFile(bundle.zip_path) as archive:
        archive.extractall(root / "source")  # zipfile ignores the stored modes
    os.chmod(root / "source" / "run_autograder", 0o755)
    os.chmod(root / "source" / autograder.ANSWERS_FILE, 0o644)
    (root / "submission").mkdir()
    run_autograder(root)
    for rel in (autograder.ANSWERS_DIR, autograder.ANSWERS_FILE):
        mode = stat.S_IMODE((root / "source" / rel).stat().st_mode)
        assert mode & 0o077 == 0, f"{rel} has mode {oct(mode)}"


@pytest.mark.slow
def test_grader_failure_still_writes_a_zero_result_with_a_message(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    copy_packages(ROOT / "solutions", root / "submission")
    (root / "source" / autograder.ANSWERS_FILE).write_bytes(b"not an npz file")
    results = run_autograder(root)
    assert_gradescope_format(results)
    assert results["score"] == 0
    assert "The autograder failed while grading" in results["output"]


@pytest.mark.slow
def test_python_that_cannot_start_still_writes_a_zero_result(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    results = run_autograder(root, AUTOGRADER_PYTHON="/bin/false")
    assert_gradescope_format(results)
    assert results["score"] == 0
    assert "exit status 1 before writing results" in results["output"]


@pytest.mark.slow
def test_stale_results_json_is_replaced(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 100, "tests": []}')
    results = run_autograder(root, AUTOGRADER_PYTHON="/bin/false")
    assert results["score"] == 0


# ---------------------------------------------------------------- what the bundle holds


@pytest.mark.slow
def test_bundle_has_gradescope_entry_points_at_its_root_and_root_only_answers(bundle):
    with zipfile.ZipFile(bundle.zip_path) as archive:
        modes = {
            info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()
        }
        requirements = archive.read("requirements.txt").decode()
        answers = np.load(io.BytesIO(archive.read(autograder.ANSWERS_FILE)), allow_pickle=False)
        seed = int(answers[autograder.SEED_KEY])
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert modes[autograder.ANSWERS_FILE] == 0o600
    assert modes[f"{autograder.ANSWERS_DIR}/"] == 0o700
    assert all(mode == 0o644 for name, mode in modes.items() if name.startswith("grader/"))
    assert not any(name.startswith(("solutions/", "hw/", "tests/")) for name in modes)
    assert "grader/hidden.py" not in modes and "grader/release.py" not in modes
    assert seed == SEED
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines()]
    for name in ("numpy", "scipy", "numdifftools"):
        assert next(p for p in pins if p.startswith(f"{name}==")) in requirements.splitlines()


@pytest.mark.slow
def test_hidden_cases_are_those_of_grade_hidden_with_the_bundle_seed(bundle):
    with zipfile.ZipFile(bundle.zip_path) as archive:
        hidden = np.load(io.BytesIO(archive.read(autograder.ANSWERS_FILE)), allow_pickle=False)
        digest = bytes(hidden[f"logsumexp/{references.DIGEST_KEY}"]).decode()
    public = bytes(references.load()[f"logsumexp/{references.DIGEST_KEY}"]).decode()
    assert digest != public
    # the cases of `grade --hidden --seed SEED`, so an instructor can reproduce them locally
    assert digest == cases.make_case(registry.load("logsumexp"), SEED).digest


# ---------------------------------------------------------------- building


def copy_repository(dest: Path) -> Path:
    for folder in ("solutions", "hw", "grader"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "requirements.txt", dest / "requirements.txt")
    return dest


def test_stale_skeleton_is_refused(tmp_path):
    root = copy_repository(tmp_path / "repo")
    with open(root / "hw" / "needle" / "autograd.py", "a") as handle:
        handle.write("\n# edited by hand\n")
    with pytest.raises(autograder.BundleError, match="make hw"):
        autograder.build(root, tmp_path / "autograder.zip", seed=1)
    assert not (tmp_path / "autograder.zip").exists()


def test_public_references_that_differ_from_the_solutions_are_stale():
    stored = {"a/x": np.arange(3.0), "a/__inputs__": np.frombuffer(b"d", np.uint8)}
    assert references.stale_keys(dict(stored), stored) == []
    changed = {**stored, "a/x": np.array([0.0, 1.0, 2.5])}
    assert references.stale_keys(changed, stored) == ["a/x"]
    assert references.stale_keys({**stored, "a/y": np.zeros(1)}, stored) == ["a/y"]
    retyped = {**stored, "a/x": np.arange(3.0, dtype=np.float32)}
    assert references.stale_keys(retyped, stored) == ["a/x"]


@pytest.mark.slow
def test_solution_line_planted_in_the_grader_fails_the_build(tmp_path):
    root = copy_repository(tmp_path / "repo")
    secret = leaks.secrets_of(find_regions(root / "solutions"), [root / "hw"])[0]
    with open(root / "grader" / "results.py", "a") as handle:
        handle.write(f'\nEXAMPLE = """\n{secret.text.strip()}\n"""\n')
    out = tmp_path / "dist" / "autograder.zip"
    built = autograder.build(root, out, seed=1)
    assert any(leak.where.startswith("bundle/grader/results.py") for leak in built.leaks)
    assert any(leak.where.startswith("autograder.zip!grader/results.py") for leak in built.leaks)
    assert not out.exists()


def test_hidden_share_outside_the_open_unit_interval_is_refused(tmp_path):
    with pytest.raises(autograder.BundleError, match="hidden-share.*got 1.5"):
        autograder.build(ROOT, tmp_path / "a.zip", seed=1, hidden_share=1.5)


# ---------------------------------------------------------------- locating the submission


def make_package(folder: Path, with_apps: bool = True) -> None:
    (folder / "needle").mkdir(parents=True)
    (folder / "needle" / "__init__.py").write_text("")
    if with_apps:
        (folder / "apps").mkdir()


@pytest.mark.parametrize(
    "layout",
    ["", "hw", "needlework-release/hw", "My Homework/hw"],
    ids=["top", "hw", "release", "spaces"],
)
def test_needle_folder_is_found_up_to_three_levels_down(tmp_path, layout):
    base = tmp_path / "submission"
    make_package(base / layout)
    located = upload.find_submission(base, tmp_path / "scratch")
    assert located.folder == base / layout
    assert "(with apps/)" in located.note


def test_needle_folder_four_levels_down_is_not_found(tmp_path):
    base = tmp_path / "submission"
    make_package(base / "a" / "b" / "c")
    with pytest.raises(upload.SubmissionNotFound, match="No needle/ package"):
        upload.find_submission(base, tmp_path / "scratch")


def test_shallowest_needle_wins_and_the_others_are_named(tmp_path):
    base = tmp_path / "submission"
    make_package(base / "hw")
    make_package(base / "old" / "copy", with_apps=False)
    located = upload.find_submission(base, tmp_path / "scratch")
    assert located.folder == base / "hw"
    assert "old/copy/needle" in located.note


def test_macos_metadata_and_symlinked_needle_are_ignored(tmp_path):
    base = tmp_path / "submission"
    make_package(base / "__MACOSX")
    make_package(tmp_path / "elsewhere")
    base.joinpath("linked").mkdir()
    (base / "linked" / "needle").symlink_to(tmp_path / "elsewhere" / "needle")
    with pytest.raises(upload.SubmissionNotFound):
        upload.find_submission(base, tmp_path / "scratch")


def test_needle_folder_without_init_is_not_a_package(tmp_path):
    base = tmp_path / "submission"
    (base / "needle").mkdir(parents=True)
    (base / "needle" / "autograd.py").write_text("")
    with pytest.raises(upload.SubmissionNotFound, match="needle/ holding __init__.py"):
        upload.find_submission(base, tmp_path / "scratch")


def test_uploaded_contents_of_needle_get_a_hint(tmp_path):
    base = tmp_path / "submission"
    base.mkdir()
    for name in ("__init__.py", "autograd.py"):
        (base / name).write_text("")
    with pytest.raises(upload.SubmissionNotFound, match="upload the needle/ folder itself"):
        upload.find_submission(base, tmp_path / "scratch")


def test_zip_in_the_submission_is_opened_and_only_safe_python_files_extracted(tmp_path):
    base = tmp_path / "submission"
    base.mkdir()
    with zipfile.ZipFile(base / "hw.zip", "w") as archive:
        archive.writestr("hw/needle/__init__.py", "")
        archive.writestr("hw/apps/mlp_resnet.py", "")
        archive.writestr("hw/data/big.bin", b"\0" * 1000)
        archive.writestr("../escape.py", "")
        archive.writestr("/absolute.py", "")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    located = upload.find_submission(base, scratch)
    assert (located.folder / "needle" / "__init__.py").is_file()
    assert (located.folder / "apps" / "mlp_resnet.py").is_file()
    assert located.note.startswith("Graded the needle/ package at hw.zip: hw/needle")
    extracted = sorted(p.relative_to(scratch).as_posix() for p in scratch.rglob("*") if p.is_file())
    assert extracted == ["unzipped0/hw/apps/mlp_resnet.py", "unzipped0/hw/needle/__init__.py"]
    assert not (tmp_path / "escape.py").exists()


def test_broken_zip_is_skipped(tmp_path):
    base = tmp_path / "submission"
    base.mkdir()
    (base / "hw.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(upload.SubmissionNotFound, match="hw.zip"):
        upload.find_submission(base, tmp_path / "scratch")


@pytest.mark.slow
def test_student_code_cannot_read_the_answers(bundle, request):
    """Does the privilege drop plus the root-only answers keep a submission from reading them?"""
    if os.geteuid() != 0:
        pytest.skip("probes drop to an unprivileged user only when the grader runs as root")
    # Like /autograder, and unlike pytest's tmp_path (0700), the tree is open to other users: only
    # the answers' own modes protect them.
    root = unpack(bundle, Path(tempfile.mkdtemp(prefix="needlework-autograder-")))
    root.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    copy_packages(ROOT / "solutions", root / "submission")
    answers = root / "source" / autograder.ANSWERS_FILE
    init = root / "submission" / "needle" / "__init__.py"
    init.write_text(
        "try:\n"
        f"    open({str(answers)!r}, 'rb').read(1)\n"
        "except OSError:\n"
        "    pass\n"
        "else:\n"
        "    raise ImportError('this submission read the answers')\n" + init.read_text()
    )
    results = run_autograder(root)
    assert "read the answers" not in json.dumps(results)
    assert results["score"] == registry.total_points()


@pytest.mark.slow
def test_hidden_tests_never_show_expected_values(bundle, tmp_path):
    root = unpack(bundle, tmp_path)
    copy_packages(ROOT / "solutions", root / "submission")
    ops = root / "submission" / "needle" / "ops" / "ops_mathematic.py"
    line = "return a**self.scalar"
    assert ops.read_text().count(line) == 1
    ops.write_text(ops.read_text().replace(line, f"{line} * 1.5"))
    results = run_autograder(root)
    tests = by_name(results)
    public, hidden = tests["ops_forward (public)"], tests["ops_forward (hidden)"]
    assert "max abs error" in public["output"] and "expected" in public["output"]
    assert hidden["status"] == "failed"
    assert "values differ from the reference" in hidden["output"]
    for test in results["tests"]:
        if test["name"].endswith("(hidden)"):
            assert "max abs error" not in test["output"], test["output"]
            assert "expected " not in test["output"].replace("expected shape", ""), test["output"]
