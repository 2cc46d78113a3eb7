"""`python -m grader release`: build the student release in dist/ and prove it leaks no solution.

    dist/release/                   the folder handed out (also the zip's content)
        README.md  Makefile         from grader/release_template/
        .github/workflows/          classroom.yml: GitHub Classroom grades every push (public cases)
        requirements.txt            the student's pins, taken from the repository's requirements.txt
        hw/needle/  hw/apps/        the skeleton, exactly as committed
        notebooks/*.ipynb           outputs and execution counts cleared
        grader/                     only the files in GRADER_FILES (see below)
    dist/needlework-release.zip     the same tree under one top folder, needlework-release/

What of the grader a student may see is an explicit allow-list, GRADER_FILES: glob patterns relative
to grader/. Nothing else is shipped: no solutions/, no tests/, no instructor tools (assign, release,
references, batch, the hidden-case machinery), no .git, no bench/, no dist/. A file matched by the
allow-list is still left out when its text holds the line `# needlework: instructor-only`.

The pipeline, in order (each step relies on the one before):
1. check that hw/ is what the stripper makes from solutions/ now (a stale hw/ is an error);
2. copy hw/, the cleared notebooks, the allowed grader files and the templates into a fresh folder;
3. check that the shipped grader imports only shipped grader modules, and that every third-party
   module imported by the shipped code and notebooks is in the student requirements;
4. write the zip (sorted members, fixed modes, every member dated by `source_date`: the date of
   the last commit, or SOURCE_DATE_EPOCH when set, so the same tree gives the same bytes);
5. run the leak scanner (grader/leaks.py) over the folder and the zip. Last, so that it sees exactly
   what is handed out; on a leak both outputs are deleted and the build fails.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import assign, leaks

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "release_template"
ZIP_NAME = "needlework-release.zip"
ZIP_TOP = "needlework-release"
INSTRUCTOR_ONLY = "# needlework: instructor-only"

# The grader a student may see: what `make grade` and `make data` need, and the public references.
GRADER_FILES = (
    "__init__.py",
    "__main__.py",
    "cli.py",
    "grade.py",
    "pipeline.py",
    "cases.py",
    "submission.py",
    "regions.py",
    "judge.py",
    "runner.py",
    "sandbox.py",
    "probe.py",
    "channel.py",
    "compare.py",
    "results.py",
    "report.py",
    "problems/*.py",
    "references.py",
    "references/public.*",
    "digits.py",
    "notebook.py",
    "graph_view.py",
    "gradient_view.py",
    "classroom.py",
    "junit.py",
    "platforms.py",
)
# Grader modules that never ship (hidden cases need solutions/ and the instructor's seed). Shipped
# code may import them only inside a function that runs in instructor mode.
INSTRUCTOR_MODULES = ("grader.hidden",)

# Third-party modules the release may import, and the requirement that provides each.
STUDENT_REQUIREMENTS = {
    "numpy": "numpy",
    "scipy": "scipy",
    "numdifftools": "numdifftools",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "IPython": "ipykernel",
    "ipykernel": "ipykernel",
}
LOCAL_PACKAGES = {"needle", "apps", "grader"}


class ReleaseError(RuntimeError):
    """The release cannot be built as asked; the message says what to fix."""


@dataclass
class Release:
    """What a build produced."""

    folder: Path
    zip_path: Path
    files: list[str] = field(default_factory=list)  # relative to folder, posix
    excluded: list[str] = field(default_factory=list)  # allow-listed but marked instructor-only
    leaks: list[leaks.Leak] = field(default_factory=list)


# ---------------------------------------------------------------- 1. the skeleton is current


def check_skeleton(root: Path) -> None:
    stale = assign.differences(assign.strip_tree(root / "solutions"), root / "hw")
    if stale:
        raise ReleaseError(
            f"hw/ is out of date with solutions/ in {len(stale)} file(s) "
            f"({', '.join(stale[:5])}): run `make hw` first"
        )


# ---------------------------------------------------------------- 2. copy


def _copy_skeleton(root: Path, out: Path) -> None:
    for rel, path in assign._walk(root / "hw"):
        target = out / "hw" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def clear_notebook(data: bytes) -> bytes:
    """A notebook with every output, execution count and execution time stamp removed."""
    notebook = json.loads(data)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()


def _copy_notebooks(root: Path, out: Path) -> None:
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        target = out / "notebooks" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(clear_notebook(path.read_bytes()))


def copy_grader(root: Path, out: Path, patterns: tuple[str, ...]) -> list[str]:
    """Copy the allow-listed grader files; return the ones left out as instructor-only."""
    excluded = []
    for pattern in patterns:
        matches = sorted(p for p in (root / "grader").glob(pattern) if p.is_file())
        if not matches:
            raise ReleaseError(
                f"grader/{pattern} is in GRADER_FILES (grader/release.py) but matches no file"
            )
        for path in matches:
            rel = path.relative_to(root).as_posix()
            if "__pycache__" in path.parts:
                continue
            if INSTRUCTOR_ONLY.encode() in path.read_bytes():
                excluded.append(rel)
                continue
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return excluded


def student_requirements(root: Path) -> str:
    """The repository's pinned lines for the packages a student needs, in its order."""
    wanted = set(STUDENT_REQUIREMENTS.values())
    lines = ["# What the student kit needs; `make venv` installs it.\n"]
    found = set()
    for line in (root / "requirements.txt").read_text().splitlines():
        name = line.split("==")[0].strip().lower()
        if name in wanted:
            lines.append(line.strip() + "\n")
            found.add(name)
    if found != wanted:
        raise ReleaseError(f"requirements.txt has no pin for {sorted(wanted - found)}")
    return "".join(lines)


# The student release's own files; the workflow grades each push for GitHub Classroom.
TEMPLATE_FILES = ("README.md", "Makefile", ".github/workflows/classroom.yml")


def _copy_templates(root: Path, out: Path) -> None:
    for name in TEMPLATE_FILES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE / name, out / name)
    (out / "requirements.txt").write_text(student_requirements(root))


# ---------------------------------------------------------------- 3. imports


def _python_sources(out: Path) -> list[tuple[str, str]]:
    """(location, code) for every shipped .py file and every notebook code cell."""
    sources = [
        (path.relative_to(out).as_posix(), path.read_text()) for path in sorted(out.rglob("*.py"))
    ]
    for path in sorted(out.rglob("*.ipynb")):
        where = path.relative_to(out).as_posix()
        for index, cell in enumerate(json.loads(path.read_text()).get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            source = cell["source"]
            text = "".join(source) if isinstance(source, list) else source
            # IPython magics and shell escapes are not Python.
            lines = [line for line in text.splitlines() if line.lstrip()[:1] not in ("%", "!")]
            sources.append((f"{where}:cells[{index}]", "\n".join(lines)))
    return sources


def _imports(code: str) -> list[tuple[int, str, int, list[str], bool]]:
    """(line, module, level, names, in_function) of each import outside try blocks.

    Optional imports sit in try blocks; `in_function` marks a lazy import inside a function.
    """
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Try):
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name, 0, [], in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                names = [alias.name for alias in child.names]
                found.append((child.lineno, child.module or "", child.level, names, in_function))
            nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, in_function or nested)

    try:
        visit(ast.parse(code), False)
    except SyntaxError:
        return []  # a notebook cell with cell magics; the notebooks' own tests execute them
    return found


def _absolute(where: str, module: str, level: int) -> str:
    """The absolute name of a (possibly relative) import made in the file `where`."""
    if not level:
        return module
    package = Path(where).parent.parts
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _is_module(base: Path, dotted: str) -> bool:
    rel = base.joinpath(*dotted.split("."))
    return rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file()


def check_imports(out: Path, root: Path) -> None:
    """Shipped grader code imports shipped grader modules; third-party imports are required."""
    problems = []
    for where, code in _python_sources(out):
        for line, module, level, names, in_function in _imports(code):
            if level and not where.startswith("grader/"):
                continue  # relative imports inside needle/apps stay inside the skeleton
            module = _absolute(where, module, level)
            top = module.split(".")[0]
            if top == "grader":
                if module != "grader" and not _is_module(out, module):
                    problems.append(f"{where}:{line}: imports {module}, which the release lacks")
                    continue
                # `from grader import x` may import the module grader.x.
                for dotted in [module, *(f"{module}.{name}" for name in names)]:
                    if in_function and dotted in INSTRUCTOR_MODULES:
                        continue
                    if _is_module(root, dotted) and not _is_module(out, dotted):
                        problems.append(
                            f"{where}:{line}: imports {dotted}, which GRADER_FILES "
                            "(grader/release.py) does not ship"
                        )
            elif top not in LOCAL_PACKAGES and top not in sys.stdlib_module_names:
                if top not in STUDENT_REQUIREMENTS:
                    problems.append(
                        f"{where}:{line}: imports {top}, which is not in the student "
                        "requirements (STUDENT_REQUIREMENTS in grader/release.py)"
                    )
    if problems:
        raise ReleaseError("\n".join(problems))


# ---------------------------------------------------------------- 4. zip


# The oldest date a zip member can carry (zip's dates start in 1980).
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z


def source_date(root: Path) -> int:
    """The time (seconds since 1970, UTC) every zip member is dated with.

    SOURCE_DATE_EPOCH when it is set (the reproducible-builds convention), else the committer
    date of the last commit of `root`, else (no git, or not a repository) the newest modification
    time of the files the release is made from. Any of them is the same for the same sources, so
    the zip stays byte for byte reproducible, and a student sees when the kit last changed.
    """
    given = os.environ.get("SOURCE_DATE_EPOCH")
    if given is not None:
        if not given.strip().isdigit():
            raise ReleaseError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {given!r}")
        return int(given)
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode == 0 and done.stdout.strip().isdigit():
            return int(done.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass  # no git: fall back to the files
    sources = [root / "requirements.txt", *(root / "hw").rglob("*"), *(root / "grader").rglob("*")]
    sources += (root / "notebooks").glob("*.ipynb")
    return int(max(path.stat().st_mtime for path in sources if path.is_file()))


def zip_date(seconds: int) -> tuple[int, int, int, int, int, int]:
    """`seconds` as a zip member's (year, month, day, hour, minute, second) in UTC; zip keeps
    even seconds only, and nothing before 1980."""
    return time.gmtime(max(seconds, ZIP_EPOCH))[:6]


def write_zip(folder: Path, zip_path: Path, date: int) -> None:
    """Deterministic zip of `folder` under ZIP_TOP/: sorted members, fixed modes, every member
    dated `date` (seconds since 1970)."""
    date_time = zip_date(date)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{ZIP_TOP}/{path.relative_to(folder).as_posix()}")
            info.date_time = date_time
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


# ---------------------------------------------------------------- the pipeline


def build(
    root: Path = REPO_ROOT, dist: Path | None = None, grader_files: tuple[str, ...] | None = None
) -> Release:
    """Build the release of the repository at `root` into `dist` (default root/dist).

    Raises ReleaseError when it cannot be built; returns a Release whose `leaks` is non-empty
    (and whose outputs have been deleted) when the leak scanner found solution lines.
    """
    root = Path(root)
    grader_files = GRADER_FILES if grader_files is None else grader_files
    dist = Path(dist) if dist is not None else root / "dist"
    folder, zip_path = dist / "release", dist / ZIP_NAME
    check_skeleton(root)
    if folder.exists():
        shutil.rmtree(folder)
    zip_path.unlink(missing_ok=True)
    folder.mkdir(parents=True)
    try:
        _copy_skeleton(root, folder)
        _copy_notebooks(root, folder)
        excluded = copy_grader(root, folder, grader_files)
        _copy_templates(root, folder)
        check_imports(folder, root)
        write_zip(folder, zip_path, source_date(root))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        zip_path.unlink(missing_ok=True)
        raise
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    release = Release(folder, zip_path, files, excluded)
    release.leaks = leaks.scan(root / "solutions", root / "hw", [folder, zip_path], dist)
    if release.leaks:
        shutil.rmtree(folder)
        zip_path.unlink()
    return release


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the repository to release")
    parser.add_argument("--dist", type=Path, default=None, help="output folder (default ROOT/dist)")


def run(args: argparse.Namespace) -> int:
    try:
        release = build(args.root, args.dist)
    except (ReleaseError, assign.MarkerError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    for path in release.excluded:
        print(f"release: left out {path} (marked instructor-only)")
    if release.leaks:
        for leak in release.leaks:
            print(f"LEAK {leak}", file=sys.stderr)
        print(
            f"release: {len(release.leaks)} solution line(s) found in the release; "
            "nothing was written",
            file=sys.stderr,
        )
        return 1
    size = release.zip_path.stat().st_size
    print(
        f"release: {len(release.files)} files in {release.folder}, "
        f"{release.zip_path} ({size / 1024:.0f} KiB); leak scan clean"
    )
    return 0
