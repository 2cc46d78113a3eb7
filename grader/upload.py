"""Find the submission in an upload: the folder holding the needle/ package to grade.

Platforms hand the grader whatever the student uploaded (Gradescope: /autograder/submission). The
folder to grade is the one holding the shallowest needle/ package (a folder named needle holding
__init__.py) at most MAX_DEPTH - 1 levels below the upload (needle/, hw/needle/,
needlework-release/hw/needle/); its sibling apps/ comes along. When there is none, the .py files of
any .zip in the upload are extracted (safely: no absolute or `..` paths, no links, capped) and
searched the same way. When nothing is found, the message says what was expected, what the upload
holds, and the likely fix.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Where a submission's needle/ may be: submission/needle (depth 1) to submission/a/b/needle (3).
MAX_DEPTH = 3
SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", "node_modules"}
# Caps on what is extracted from a zip in a submission (only .py files are extracted).
ZIP_MAX_MEMBERS = 5000
ZIP_MAX_BYTES = 50 * 1024**2


class SubmissionNotFound(Exception):
    """No needle/ package in the submission; the message tells the student what to upload."""


class ArchiveTooLarge(ValueError):
    """A zip whose Python files exceed the caps once unpacked (a zip bomb, or far too much)."""


@dataclass
class Located:
    """The folder to grade (it holds needle/ and maybe apps/) and what the student should know."""

    folder: Path
    note: str


def _walk_folders(base: Path, max_depth: int):
    """(depth, folder) of every real (not symlinked) folder below base, shallowest first."""
    level = [base]
    for depth in range(1, max_depth + 1):
        following = []
        for parent in level:
            try:
                children = sorted(parent.iterdir())
            except OSError:
                continue
            for child in children:
                if child.name in SKIPPED_FOLDERS or child.name.startswith("."):
                    continue
                if child.is_dir() and not child.is_symlink():
                    following.append(child)
                    yield depth, child
        level = following


def needle_folders(base: Path) -> list[Path]:
    """Every needle/ package below base (at most MAX_DEPTH deep), shallowest first."""
    return [
        folder
        for _, folder in _walk_folders(base, MAX_DEPTH)
        if folder.name == "needle" and (folder / "__init__.py").is_file()
    ]


def extract_python_files(archive_path: Path, dest: Path) -> None:
    """Extract the .py members of a zip into dest: no absolute or `..` paths, no links, capped
    (ArchiveTooLarge past the caps: what was extracted must then not be graded)."""
    total = 0
    with zipfile.ZipFile(archive_path) as archive:
        for count, info in enumerate(archive.infolist()):
            if count >= ZIP_MAX_MEMBERS:
                raise ArchiveTooLarge(f"it has more than {ZIP_MAX_MEMBERS} files")
            parts = Path(info.filename).parts
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            if not info.filename.endswith(".py") or is_link or not parts:
                continue
            if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                continue
            with archive.open(info) as member:
                data = member.read(ZIP_MAX_BYTES - total + 1)
            total += len(data)
            if total > ZIP_MAX_BYTES:
                limit = ZIP_MAX_BYTES // 1024**2
                raise ArchiveTooLarge(f"its Python files unpack to more than {limit} MB")
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def find_submission(base: Path, scratch: Path) -> Located:
    """Locate the needle/ package to grade; zips in the submission are opened into `scratch`."""
    found = needle_folders(base)
    origin, archive_name = base, ""
    skipped = []  # zips that could not be used, and why
    if not found:
        zips = [p for _, p in _walk_files(base, 2) if p.suffix.lower() == ".zip"]
        for index, archive in enumerate(zips):
            dest = scratch / f"unzipped{index}"
            name = archive.relative_to(base).as_posix()
            try:
                extract_python_files(archive, dest)
            except ArchiveTooLarge as error:
                skipped.append(f"{name} was not opened: {error}")
                continue
            except (zipfile.BadZipFile, OSError, ValueError, EOFError):
                skipped.append(f"{name} is not a readable zip file")
                continue
            found = needle_folders(dest)
            if found:
                origin, archive_name = dest, archive.relative_to(base).as_posix()
                break
    if not found:
        message = not_found_message(base)
        if skipped:
            message += " " + "; ".join(skipped) + "."
        raise SubmissionNotFound(message)
    chosen = found[0]
    where = chosen.relative_to(origin).as_posix()
    folder = chosen.parent
    if folder.name == "python" and folder != origin and not (folder / "apps").is_dir():
        folder = folder.parent  # the course repository's layout: python/needle/ beside apps/
    if archive_name:
        where = f"{archive_name}: {where}"
    note = f"Graded the needle/ package at {where}"
    has_apps = (folder / "apps").is_dir()
    note += " (with apps/)." if has_apps else " (no apps/ folder next to it)."
    others = [p.relative_to(origin).as_posix() for p in found[1:]]
    if others:
        note += f" Other needle/ folders were ignored: {', '.join(others[:3])}."
    return Located(folder, note)


def _walk_files(base: Path, max_depth: int):
    """(depth, file) of the regular files at most max_depth below base (depth 1 = in base)."""
    folders = [(0, base), *_walk_folders(base, max_depth - 1)]
    for depth, folder in folders:
        try:
            children = sorted(folder.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_file() and not child.is_symlink():
                yield depth + 1, child


def not_found_message(base: Path) -> str:
    """What was expected, what was found, and the likely fix."""
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in base.iterdir())
    except OSError:
        names = []
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "nothing"
    text = (
        "No needle/ package found in your submission. Expected a folder named needle/ holding "
        "__init__.py (your library, from hw/needle), at the top of the upload or at most "
        f"{MAX_DEPTH - 1} folders down (e.g. hw/needle/), with apps/ next to it. "
        f"Your upload holds: {shown}."
    )
    if (base / "autograd.py").is_file() or (base / "__init__.py").is_file():
        text += " It looks like the files inside needle/: upload the needle/ folder itself."
    return text
