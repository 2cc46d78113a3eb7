"""A submission's files: the one walker that decides what they are, and what reading them tells.

A submission is a folder holding `needle/` (and usually `apps/`), or laid out as the course's own
repository: `python/needle/` and `apps/` (then `python/needle/x.py` counts as `needle/x.py`, and
the probe makes `import python.needle` give the very modules `import needle` does). Its files are
the `.py` files below those two packages that are regular files (no symlink, neither the file nor
a folder on the way), outside `__pycache__`, and at most MAX_SOURCE_BYTES long. Everything else is
not part of the submission: it is not copied into a probe, not scanned, and a problem that needs
such a file reports it missing. Reading only (nothing here runs student code):
  - `broken`: files that do not parse, with a student-facing "SyntaxError in file:line: ..." text;
  - `stubs`: (path, qualname) of the solution regions still holding only the skeleton's raise.
"""

from __future__ import annotations

import ast
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.regions import parse_source, stub_qualnames

PACKAGES = ("needle", "apps")
MAX_SOURCE_BYTES = 2 * 1024 * 1024


# Where each package may be, first match wins: the kit's layout, then the course repository's.
LAYOUTS = ({"needle": "needle", "apps": "apps"}, {"needle": "python/needle", "apps": "apps"})


def package_folders(submission: Path) -> dict[str, Path]:
    """{package: folder} of the submission's layout (the kit's when neither holds needle/)."""
    submission = Path(submission)
    for layout in LAYOUTS:
        folder = submission / layout["needle"]
        if folder.is_dir() and not folder.is_symlink():
            return {package: submission / rel for package, rel in layout.items()}
    return {package: submission / rel for package, rel in LAYOUTS[0].items()}


def has_needle(submission: Path) -> bool:
    """Does the folder hold a needle/ package, in either layout?"""
    return package_folders(submission)["needle"].is_dir()


def source_files(submission: Path) -> Iterator[tuple[str, Path]]:
    """(posix path as graded, path) of every file of the submission, sorted; the path as graded
    is relative to the submission in the kit's layout ("needle/ops/ops_mathematic.py")."""
    for package, top in package_folders(submission).items():
        if top.is_symlink() or not top.is_dir():
            continue
        for folder, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(
                name
                for name in dirnames
                if name != "__pycache__" and not (Path(folder) / name).is_symlink()
            )
            for name in sorted(filenames):
                path = Path(folder) / name
                if not name.endswith(".py") or path.is_symlink():
                    continue
                try:
                    if not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
                        continue
                except OSError:
                    continue
                yield f"{package}/{path.relative_to(top).as_posix()}", path


@dataclass
class Submission:
    """What reading a submission's files tells, before anything runs."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # path as graded -> file
    broken: dict[str, str] = field(default_factory=dict)  # path -> "SyntaxError in path:line: ..."
    stubs: set[tuple[str, str]] = field(default_factory=set)  # (path, qualname)

    def missing(self, needed: tuple[str, ...]) -> list[str]:
        return [rel for rel in needed if rel not in self.files]

    def copy_to(self, dest: Path) -> None:
        """Copy the submission's files into `dest`, keeping their relative paths."""
        for rel, path in sorted(self.files.items()):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def read(submission: Path) -> Submission:
    """Scan every file of the submission for syntax errors and for stubs."""
    result = Submission(Path(submission))
    for rel, path in source_files(submission):
        try:
            data = path.read_bytes()
        except OSError as error:
            result.broken[rel] = f"{rel} cannot be read: {type(error).__name__}"
            continue
        result.files[rel] = path
        try:
            parse_source(data, filename=rel)
        except SyntaxError as error:
            result.broken[rel] = f"SyntaxError in {rel}:{error.lineno}: {error.msg}"
            continue
        except (ValueError, RecursionError, MemoryError) as error:
            result.broken[rel] = f"{rel} cannot be read: {type(error).__name__}"
            continue
        text = data.decode("utf-8", errors="replace")
        result.stubs.update((rel, name) for name in stub_qualnames(text, parsed=True))
    return result


def own_stubs(problem, stubs: set[tuple[str, str]]) -> tuple[str, ...]:
    """The problem's regions still stubs, as "Qualname in path" (the skeleton's messages)."""
    return stubs_among(problem.regions, stubs)


def stubs_among(regions, stubs: set[tuple[str, str]]) -> tuple[str, ...]:
    """Those of `regions` still stubs, in their order, as "Qualname in path"."""
    return tuple(f"{name} in {path}" for path, name in regions if (path, name) in stubs)


def definitions(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(first line, last line, dotted name) of every def and class, outer ones first."""
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                found.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found
