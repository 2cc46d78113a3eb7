"""The student release (grader/release.py) and its leak scanner (grader/leaks.py).

Most tests build the release of a small repository made in a temporary folder from the stripper's
fixtures, so that a leak can be planted anywhere without touching the real tree; the last ones build
the real repository into a temporary dist/.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import assign, leaks, release
from grader.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures_assign"
FAKE_GRADER = ("__init__.py", "__main__.py", "cli.py", "references/public.*")
SOLUTION_LINE = "return Scale(c).compute(x)"  # needle/ops/ops_math.py:33 of the fixtures
SOLUTION_WHERE = "needle/ops/ops_math.py:33"


def make_notebook(path: Path, code: str = "import needle\nprint(needle.scale(2.0, 3.0))") -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code, execution_count=3)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="6.0\n")]
    notebook.cells = [nbformat.v4.new_markdown_cell("# Part 1\nEdit `scale`."), cell]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small repository: fixture solutions, their skeleton, a notebook and a tiny grader."""
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "solutions", root / "solutions")
    assign.write_tree(assign.strip_tree(root / "solutions"), root / "hw")
    make_notebook(root / "notebooks" / "part1.ipynb")
    (root / "grader" / "references").mkdir(parents=True)
    for name in ("__init__.py", "__main__.py", "cli.py"):
        shutil.copyfile(REPO / "grader" / name, root / "grader" / name)
    (root / "grader" / "references" / "public.json").write_text('{"case": [1.0, 2.0]}\n')
    (root / "grader" / "hidden.py").write_text("SEED = 1234\n")
    shutil.copyfile(REPO / "requirements.txt", root / "requirements.txt")
    return root


def build(root: Path, **kwargs) -> release.Release:
    return release.build(root, root / "dist", grader_files=kwargs.pop("grader_files", FAKE_GRADER))


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


# ---------------------------------------------------------------- contents


def test_release_ships_skeleton_notebooks_allowed_grader_and_templates_only(repo):
    """Does the release hold exactly hw/, the notebooks, the allow-listed grader and templates?"""
    built = build(repo)
    assert built.leaks == []
    expected = sorted(
        [".github/workflows/classroom.yml", "Makefile", "README.md", "requirements.txt"]
        + ["notebooks/part1.ipynb"]
        + [f"hw/{rel}" for rel, _ in assign._walk(repo / "hw")]
        + ["grader/__init__.py", "grader/__main__.py", "grader/cli.py"]
        + ["grader/references/public.json"]
    )
    assert built.files == expected
    assert zip_names(built.zip_path) == [f"needlework-release/{rel}" for rel in expected]


def test_skeleton_files_are_shipped_byte_for_byte(repo):
    """Is every hw/ file in the release identical to the committed skeleton?"""
    built = build(repo)
    for rel, path in assign._walk(repo / "hw"):
        assert (built.folder / "hw" / rel).read_bytes() == path.read_bytes()


def test_notebooks_are_shipped_with_outputs_cleared(repo):
    """Are outputs and execution counts gone, and is the notebook still valid?"""
    built = build(repo)
    notebook = nbformat.read(built.folder / "notebooks/part1.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert "needle.scale" in code[0].source


def test_missing_notebooks_folder_is_fine(repo):
    """Does a repository without notebooks/ still build?"""
    shutil.rmtree(repo / "notebooks")
    assert build(repo).leaks == []


def test_student_requirements_are_the_repository_pins_of_what_students_need(repo):
    """Are the student's requirements pinned exactly like the repository's, tools left out?"""
    shipped = (build(repo).folder / "requirements.txt").read_text().splitlines()
    pins = set((REPO / "requirements.txt").read_text().splitlines())
    packages = [line for line in shipped if not line.startswith("#")]
    assert {line.split("==")[0] for line in packages} == set(release.STUDENT_REQUIREMENTS.values())
    assert set(packages) <= pins
    assert not any(line.startswith(("pytest", "ruff", "jupytext")) for line in packages)


def test_zip_is_reproducible(repo):
    """Does building the same tree twice give the same zip bytes?"""
    first = build(repo).zip_path.read_bytes()
    assert build(repo).zip_path.read_bytes() == first


def zip_dates(path: Path) -> set[tuple[int, ...]]:
    with zipfile.ZipFile(path) as archive:
        return {info.date_time for info in archive.infolist()}


def as_zip_date(seconds: int) -> tuple[int, ...]:
    """What a zip reader gives back for a member dated `seconds` (UTC, even seconds)."""
    year, month, day, hour, minute, second = time.gmtime(seconds)[:6]
    return (year, month, day, hour, minute, second - second % 2)


def commit_all(root: Path, date: str) -> None:
    """`root` as a git repository with one commit dated `date` (committer and author)."""
    env = {**os.environ, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    identity = ["-c", "user.name=Kit", "-c", "user.email=kit@example.invalid"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "kit"]):
        subprocess.run(["git", "-C", str(root), *command], check=True, env=env)


def test_zip_members_carry_the_last_commit_date_and_stay_reproducible(repo, monkeypatch):
    """Is every member dated by the last commit (not a fixed 2020-01-01), and do two builds give
    the same bytes even after the files' modification times changed?"""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    commit_all(repo, "2031-05-17T09:24:37Z")
    first = build(repo).zip_path.read_bytes()
    assert zip_dates(build(repo).zip_path) == {(2031, 5, 17, 9, 24, 36)}
    for path in (repo / "hw").rglob("*.py"):
        os.utime(path, (1e9, 1e9))
    assert build(repo).zip_path.read_bytes() == first


def test_source_date_epoch_dates_the_zip_members(repo, monkeypatch):
    """Does SOURCE_DATE_EPOCH, when set, date every member instead of the commit?"""
    commit_all(repo, "2031-05-17T09:24:37Z")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000001")
    built = build(repo)
    assert zip_dates(built.zip_path) == {as_zip_date(1700000001)}
    assert build(repo).zip_path.read_bytes() == built.zip_path.read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(release.ReleaseError, match="SOURCE_DATE_EPOCH must be whole seconds"):
        build(repo)


def test_outside_git_the_zip_is_dated_by_the_newest_source_file(repo, monkeypatch):
    """Without a repository, are members dated by the newest file the release is made from?"""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(repo.parent))  # no repository above either
    for path in [*repo.rglob("*")]:
        if path.is_file():
            os.utime(path, (1.6e9, 1.6e9))
    os.utime(repo / "hw" / "needle" / "__init__.py", (1.75e9, 1.75e9))
    assert zip_dates(build(repo).zip_path) == {as_zip_date(1750000000)}


# ---------------------------------------------------------------- what the grader may ship


def test_grader_files_outside_the_allow_list_are_not_shipped(repo):
    """Is a grader module not on the allow-list (here hidden.py) left out?"""
    assert "grader/hidden.py" not in build(repo).files


def test_allow_listed_file_marked_instructor_only_is_left_out(repo):
    """Is an allow-listed file holding the instructor-only line excluded, and reported?"""
    (repo / "grader/references/public.json").unlink()
    (repo / "grader/references/public.py").write_text(f"{release.INSTRUCTOR_ONLY}\nX = 1\n")
    (repo / "grader/references/public.npz").write_bytes(b"arrays")
    built = build(repo)
    assert built.excluded == ["grader/references/public.py"]
    assert "grader/references/public.py" not in built.files
    assert "grader/references/public.npz" in built.files


def test_allow_list_entry_matching_nothing_is_an_error(repo):
    """Does a stale allow-list entry stop the build, naming the entry?"""
    with pytest.raises(release.ReleaseError, match="grader/grade.py is in GRADER_FILES"):
        build(repo, grader_files=(*FAKE_GRADER, "grade.py"))


def test_shipped_grader_importing_an_unshipped_module_is_an_error(repo):
    """Would the release grader import a module it does not ship? Then the build fails."""
    (repo / "grader/cli.py").write_text("from grader import hidden\nfrom . import hidden as h\n")
    with pytest.raises(release.ReleaseError) as caught:
        build(repo)
    assert "grader/cli.py:1: imports grader.hidden" in str(caught.value)
    assert "grader/cli.py:2: imports grader.hidden" in str(caught.value)
    assert not (repo / "dist/release").exists()


def test_notebook_importing_a_grader_module_the_release_lacks_is_an_error(repo):
    """Would a notebook's check cell import a grader module that is not there?"""
    make_notebook(repo / "notebooks/part1.ipynb", "from grader.notebook import check\n")
    with pytest.raises(release.ReleaseError, match="imports grader.notebook, which the release"):
        build(repo)


def test_instructor_module_may_be_imported_lazily_only(repo, monkeypatch):
    """May shipped code import an instructor-only module inside a function (instructor mode)?"""
    lazy = "def hidden_mode():\n    from grader import hidden\n\n    return hidden\n"
    (repo / "grader/cli.py").write_text(lazy)
    monkeypatch.setattr(release, "INSTRUCTOR_MODULES", ())
    with pytest.raises(release.ReleaseError, match="grader/cli.py:2: imports grader.hidden"):
        build(repo)
    monkeypatch.setattr(release, "INSTRUCTOR_MODULES", ("grader.hidden",))
    assert "grader/hidden.py" not in build(repo).files


def test_third_party_import_missing_from_the_student_requirements_is_an_error(repo):
    """Does the build catch code (here a notebook cell) that needs a package students lack?"""
    make_notebook(repo / "notebooks" / "part2.ipynb", "import torch\n")
    with pytest.raises(release.ReleaseError, match="part2.ipynb:cells.1.:1: imports torch"):
        build(repo)
    make_notebook(
        repo / "notebooks" / "part2.ipynb",
        "try:\n    import torch\nexcept ImportError:\n    pass\n",
    )
    assert build(repo).leaks == []


def test_stale_skeleton_stops_the_build(repo):
    """Is a release refused while hw/ differs from what the stripper makes?"""
    (repo / "hw/needle/ops/ops_math.py").write_text("edited\n")
    with pytest.raises(release.ReleaseError, match="run `make hw` first"):
        build(repo)


# ---------------------------------------------------------------- the leak scanner


def assert_leak_fails_the_build(root: Path, where: str, capsys) -> None:
    """The CLI build fails, names the release location and the solution line, and deletes all."""
    code = cli_main(["release", "--root", str(root)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"LEAK {where}" in err, err
    assert f"contains the solution line {SOLUTION_WHERE}" in err
    assert not (root / "dist/release").exists()
    assert not (root / "dist" / release.ZIP_NAME).exists()


def test_solution_line_pasted_into_a_notebook_fails_the_build(repo, capsys, monkeypatch):
    """Is a solution line in a notebook cell found, with the notebook, cell and line named?"""
    monkeypatch.setattr(release, "GRADER_FILES", FAKE_GRADER)
    make_notebook(repo / "notebooks/part1.ipynb", f"x = 1\n{SOLUTION_LINE}\n")
    assert_leak_fails_the_build(repo, "release/notebooks/part1.ipynb:cells[1].source:2", capsys)


def test_solution_line_in_notebook_metadata_fails_the_build(repo, capsys, monkeypatch):
    """Is a solution line anywhere in the notebook JSON (here cell metadata) found?"""
    monkeypatch.setattr(release, "GRADER_FILES", FAKE_GRADER)
    notebook = nbformat.read(repo / "notebooks/part1.ipynb", as_version=4)
    notebook.cells[1].metadata["note"] = f"hint: {SOLUTION_LINE}"
    nbformat.write(notebook, repo / "notebooks/part1.ipynb")
    assert_leak_fails_the_build(
        repo, "release/notebooks/part1.ipynb:cells[1].metadata.note:1", capsys
    )


def test_solution_line_in_a_grader_file_fails_the_build(repo, capsys, monkeypatch):
    """Is a re-indented, re-spaced solution line in a shipped grader file found?"""
    monkeypatch.setattr(release, "GRADER_FILES", FAKE_GRADER)
    with (repo / "grader/cli.py").open("a") as file:
        file.write("\n\ndef _answer(x, c):\n  return Scale( c ).compute( x )  # reference\n")
    lines = (repo / "grader/cli.py").read_text().count("\n")
    assert_leak_fails_the_build(repo, f"release/grader/cli.py:{lines}", capsys)


def test_solution_line_in_public_reference_data_fails_the_build(repo, capsys, monkeypatch):
    """Is a solution line inside a binary data file (an .npz holding text) found?"""
    monkeypatch.setattr(release, "GRADER_FILES", FAKE_GRADER)
    (repo / "grader/references/public.json").unlink()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("note.npy", b"\x93NUMPY\x00\x01" + SOLUTION_LINE.encode() + b"\xff\x00")
    (repo / "grader/references/public.npz").write_bytes(buffer.getvalue())
    assert_leak_fails_the_build(repo, "release/grader/references/public.npz!note.npy:1", capsys)


def test_leak_inside_the_zip_and_notebook_outputs_is_found(tmp_path):
    """Does the scanner read zip members, and notebook outputs (which a release clears anyway)?"""
    secrets = leaks.secrets_of(
        assign.find_regions(FIXTURES / "solutions"), [FIXTURES / "expected_hw"]
    )
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"a\n{SOLUTION_LINE}\n")]
    notebook.cells = [cell]
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as archive:
        archive.writestr("top/notebooks/a.ipynb", nbformat.writes(notebook))
        archive.writestr("top/ok.txt", "nothing here\n")
    found = leaks.Scanner(secrets).scan_path(tmp_path / "r.zip", tmp_path)
    assert [str(leak).split(": contains")[0] for leak in found] == [
        "r.zip!top/notebooks/a.ipynb:cells[0].outputs[0].text:2"
    ]
    assert found[0].secret.solution == SOLUTION_WHERE


def test_trivial_comment_and_public_lines_are_not_secrets():
    """Are blank, comment, short, bare-call and skeleton lines excluded, and real lines kept?"""
    assert leaks.is_trivial("        return out")
    assert leaks.is_trivial("    pass")
    assert leaks.is_trivial("    )")
    assert leaks.is_trivial("    # the mean over the batch: x.sum((0,)) / n")
    assert leaks.is_trivial("        loss.backward()")
    assert leaks.is_trivial("        super().__init__()")
    assert not leaks.is_trivial("        return array_api.exp(a)")
    region = assign.Region("m.py", 1, 5, "f", ("    x = given_helper(a, b)", "    y = solve(x, b)"))
    secrets = leaks.secrets_of([region], [])
    assert {secret.key for secret in secrets} == {"x=given_helper(a,b)", "y=solve(x,b)"}
    assert secrets[1].solution == "m.py:3"


def test_lines_already_in_the_skeleton_are_not_secrets(tmp_path):
    """Is a region line that also appears as given code in hw/ left out of the secrets?"""
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw/given.py").write_text("    a, b = node.inputs  # given\n")
    body = ("    a, b = node.inputs", "    return a * b + b * b")
    region = assign.Region("m.py", 1, 4, "f", body)
    secrets = leaks.secrets_of([region], [tmp_path / "hw"])
    assert [secret.key for secret in secrets] == ["returna*b+b*b"]


# ---------------------------------------------------------------- the real repository


@pytest.fixture(scope="module")
def real_release(tmp_path_factory) -> release.Release:
    return release.build(REPO, tmp_path_factory.mktemp("dist"))


def test_real_release_builds_without_leaks(real_release):
    """Does the repository's own release build, scan clean, and hold no instructor material?"""
    assert real_release.leaks == []
    tops = {rel.split("/")[0] for rel in real_release.files}
    allowed = {"hw", "notebooks", "grader", "README.md", "Makefile", "requirements.txt", ".github"}
    assert tops <= allowed
    grader_files = [rel for rel in real_release.files if rel.startswith("grader/")]
    for rel in grader_files:
        assert any(Path(rel).relative_to("grader").match(p) for p in release.GRADER_FILES), rel
    for forbidden in ("grader/assign.py", "grader/release.py", "grader/leaks.py"):
        assert forbidden not in real_release.files
    # The self-test's planted mistakes are solution text with a twist: instructors only.
    assert not [rel for rel in real_release.files if rel.startswith("grader/selftest")]


def test_real_release_zip_is_dated_by_the_last_commit(real_release):
    """Does the zip carry the repository's last commit date (as JupyterLab's "Modified" will
    show), unless SOURCE_DATE_EPOCH says otherwise?"""
    expected = release.source_date(REPO)
    if "SOURCE_DATE_EPOCH" not in os.environ:
        log = ["git", "-C", str(REPO), "log", "-1", "--format=%ct"]
        assert expected == int(subprocess.run(log, capture_output=True, text=True).stdout)
    assert zip_dates(real_release.zip_path) == {as_zip_date(expected)}


def test_real_release_skeleton_is_the_committed_hw(real_release):
    """Is the released hw/ exactly the repository's hw/?"""
    shipped = {rel[3:] for rel in real_release.files if rel.startswith("hw/")}
    assert shipped == {rel for rel, _ in assign._walk(REPO / "hw")}


def grade_json(folder: Path, extra: list[str] = ()) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--submission", "hw", "--json", *extra],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def copy_of_repo(target: Path) -> Path:
    """The repository's working tree without .git, .venv, dist, caches and notebooks."""
    caches = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache")

    def skip(folder: str, names: list[str]) -> set[str]:
        top_level = {"dist", "data"} if Path(folder) == REPO else set()
        return set(caches(folder, names)) | (top_level & set(names))

    shutil.copytree(REPO, target, ignore=skip)
    shutil.rmtree(target / "notebooks", ignore_errors=True)  # not needed to grade
    return target


@pytest.mark.slow
def test_release_unzipped_alone_grades_skeleton_zero_and_solutions_full(tmp_path):
    """Does the zip, unpacked in an empty folder, grade: skeleton 0 with a line per problem,
    and full marks once the solution bodies are copied in?"""
    built = release.build(copy_of_repo(tmp_path / "repo"), tmp_path / "dist")
    assert built.leaks == []
    with zipfile.ZipFile(built.zip_path) as archive:
        archive.extractall(tmp_path / "unpacked")
    folder = tmp_path / "unpacked" / release.ZIP_TOP
    done = subprocess.run(
        ["make", "grade", f"PYTHON={sys.executable}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    untouched = grade_json(folder)
    assert untouched["score"] == 0
    for problem in untouched["problems"]:
        assert problem["id"] in done.stdout, f"no line for {problem['id']} in:\n{done.stdout}"
    assert len(untouched["problems"]) >= 10
    solved = assign.restore_tree(folder / "hw", REPO / "solutions")
    assign.write_tree(solved, folder / "hw")
    full = grade_json(folder)
    assert full["score"] == full["max_score"] > 0, [
        (p["id"], p["score"], p["max_score"]) for p in full["problems"]
    ]


def make_dry_run(folder: Path, *args: str) -> str:
    # Under `make test` the outer make's variables would make this one print "Entering directory".
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(
        ["make", "-n", *args], cwd=folder, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_student_makefile_creates_the_environment_then_grades(repo):
    """Does `make grade` set up .venv from the shipped requirements, then grade hw/?"""
    folder = build(repo).folder
    steps = make_dry_run(folder, "grade")
    assert "-m venv .venv" in steps
    assert "pip install --quiet -r requirements.txt" in steps
    assert steps.rstrip().endswith(".venv/bin/python -m grader grade --submission hw")


def test_student_makefile_grades_one_problem_with_a_given_python(repo):
    """Does `make grade PROBLEM=id PYTHON=...` grade one problem without creating .venv?"""
    steps = make_dry_run(build(repo).folder, "grade", "PROBLEM=logsumexp", "PYTHON=python3")
    assert "venv" not in steps
    assert steps.strip() == "python3 -m grader grade --submission hw --problem logsumexp"


def lab_command(folder: Path, *args: str) -> str:
    """The line of `make -n lab` that starts JupyterLab, continuation lines joined."""
    steps = make_dry_run(folder, "lab", *args).replace("\\\n", " ")
    return next(line for line in steps.splitlines() if "jupyter" in line and "import" not in line)


def test_student_makefile_has_data_and_lab(repo):
    """Do `make data` and `make lab` write the digits and start JupyterLab rooted at the kit
    folder (so hw/ can be opened and saved) and opened at notebooks/?"""
    folder = build(repo).folder
    assert "python3 -m grader data --out data/digits" in make_dry_run(
        folder, "data", "PYTHON=python3"
    )
    command = lab_command(folder, "PYTHON=python3").split()
    assert command[:3] == ["python3", "-m", "jupyterlab"], command
    assert f'--ServerApp.root_dir="{folder}"' in command, command
    assert "--LabApp.default_url=/lab/tree/notebooks" in command, command


def test_repository_makefile_lab_serves_the_repository_at_notebooks():
    """Does the instructors' `make lab` root JupyterLab at the repository, at notebooks/?"""
    command = lab_command(REPO).split()
    assert command[0] == ".venv/bin/jupyter" and command[1] == "lab", command
    assert f'--ServerApp.root_dir="{REPO}"' in command, command
    assert "--LabApp.default_url=/lab/tree/notebooks" in command, command


def test_student_makefile_installs_the_jupyterlab_the_kit_is_tested_with():
    """Is the JupyterLab that the release's `make lab` installs the one pinned for the tests?"""
    pins = (REPO / "requirements.txt").read_text().splitlines()
    pinned = next(line for line in pins if line.startswith("jupyterlab=="))
    assert f"install --quiet {pinned}" in (release.TEMPLATE / "Makefile").read_text()
