"""`python -m grader assign`: generate the skeleton `hw/` from the reference `solutions/`.

A pure line scanner. In every `.py` file, the lines between a `### BEGIN YOUR SOLUTION` line and the
next `### END YOUR SOLUTION` line are replaced by ONE line

    raise NotImplementedError("LogSumExp.compute in needle/ops/ops_logarithmic.py")

indented like the BEGIN marker, naming the enclosing `Class.method` (or function) and the file
relative to the package root. The marker lines stay. Everything else is copied byte for byte: lines
outside regions, `.py` files without regions and every other file (`__pycache__`, `*.pyc` and
`.ipynb_checkpoints` are skipped).

A marker line is exactly `### BEGIN YOUR SOLUTION` or `### END YOUR SOLUTION` after its indentation.
A BEGIN inside a region (nesting), a region still open at the end of its file, an END outside a
region, and a near miss (`### BEGIN SOLUTION`, `## END YOUR SOLUTION`, `### begin your solution`,
trailing spaces, ...) are errors naming file:line. The whole tree is scanned before anything is
written, the output is built in a temporary folder next to the destination and swapped in at the
end, so an error leaves the destination untouched.

The markers and the region scanner itself are grader.regions (shared with the judge).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from grader import REPO_ROOT
from grader.regions import MarkerError, Region, Split, indentation, scan

SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every file under `root` worth copying, as (posix path relative to root, path), sorted."""
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_NAMES)
        for name in sorted(filenames):
            path = Path(folder) / name
            if name in SKIPPED_NAMES or path.suffix in SKIPPED_SUFFIXES:
                continue
            yield path.relative_to(root).as_posix(), path


def _scan_tree(root: Path) -> dict[str, tuple[bytes, Split | None]]:
    """Read and scan every file under root; raise one MarkerError listing all problems."""
    if not root.is_dir():
        raise FileNotFoundError(f"assign: source folder {root} does not exist")
    files: dict[str, tuple[bytes, Split | None]] = {}
    problems: list[str] = []
    for rel, path in _walk(root):
        data = path.read_bytes()
        split = None
        if path.suffix == ".py":
            try:
                split = scan(rel, data)
            except MarkerError as error:
                problems.extend(error.problems)
        files[rel] = (data, split)
    if problems:
        raise MarkerError(problems)
    return files


def find_regions(root: Path) -> list[Region]:
    """Every solution region of every `.py` file under `root`, by path then line."""
    regions: list[Region] = []
    for _, split in _scan_tree(Path(root)).values():
        if split is not None:
            regions.extend(split.regions)
    return regions


def _strip_file(split: Split) -> bytes:
    """The skeleton of one scanned file: each region body becomes one raise line."""
    out: list[bytes] = []
    position = 0  # 0-based index of the next line to copy
    for region in split.regions:
        marker = split.lines[region.begin - 1]
        out.extend(split.lines[position : region.begin])
        ending = marker[len(marker.rstrip(b"\r\n")) :] or b"\n"
        indent = indentation(marker.decode("utf-8"))
        message = region.stub.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'{indent}raise NotImplementedError("{message}")'.encode() + ending)
        position = region.end - 1
    out.extend(split.lines[position:])
    return b"".join(out)


def strip_tree(source: Path) -> dict[str, bytes]:
    """What the skeleton of `source` holds: {posix path: content}. Raises MarkerError."""
    stripped: dict[str, bytes] = {}
    for rel, (data, split) in _scan_tree(Path(source)).items():
        stripped[rel] = data if split is None or not split.regions else _strip_file(split)
    return stripped


def restore_tree(skeleton: Path, source: Path) -> dict[str, bytes]:
    """The inverse of stripping: `skeleton`'s files with `source`'s region bodies put back.

    Regions are matched by file and order. Used to check the round trip and to make a fully
    solved copy of a skeleton.
    """
    scanned = _scan_tree(Path(source))
    restored: dict[str, bytes] = {}
    for rel, (data, split) in _scan_tree(Path(skeleton)).items():
        if split is None or not split.regions:
            restored[rel] = data
            continue
        bodies = scanned[rel][1].regions if rel in scanned and scanned[rel][1] else []
        if len(bodies) != len(split.regions):
            raise ValueError(
                f"restore: {rel} has {len(split.regions)} regions in {skeleton} "
                f"but {len(bodies)} in {source}"
            )
        source_lines = scanned[rel][1].lines
        out: list[bytes] = []
        position = 0
        for mine, theirs in zip(split.regions, bodies, strict=True):
            out.extend(split.lines[position : mine.begin])
            out.extend(source_lines[theirs.begin : theirs.end - 1])
            position = mine.end - 1
        out.extend(split.lines[position:])
        restored[rel] = b"".join(out)
    return restored


def differences(expected: dict[str, bytes], dest: Path) -> list[str]:
    """Paths (relative, posix) whose content in `dest` differs from `expected`, missing or extra."""
    actual = {rel: path for rel, path in _walk(dest)} if dest.is_dir() else {}
    changed = [
        rel
        for rel in sorted(set(expected) | set(actual))
        if rel not in actual or rel not in expected or actual[rel].read_bytes() != expected[rel]
    ]
    return changed


def write_tree(files: dict[str, bytes], dest: Path) -> None:
    """Replace `dest` by exactly `files`: written in a temporary sibling folder, then swapped in."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    try:
        for rel, data in files.items():
            target = building / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if dest.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, retired / dest.name)
            os.replace(building, dest)
            shutil.rmtree(retired)
        else:
            os.replace(building, dest)
    finally:
        if building.exists():
            shutil.rmtree(building)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", type=Path, default=REPO_ROOT / "solutions", help="reference tree (solutions/)"
    )
    parser.add_argument("--dest", type=Path, default=REPO_ROOT / "hw", help="skeleton tree (hw/)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the files where DEST differs from what would be made",
    )


def run(args: argparse.Namespace) -> int:
    try:
        files = strip_tree(args.source)
        regions = len(find_regions(args.source))
    except MarkerError as error:
        for problem in error.problems:
            print(f"assign: {problem}", file=sys.stderr)
        print(f"assign: {len(error.problems)} marker error(s); nothing written", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    if args.check:
        changed = differences(files, args.dest)
        for rel in changed:
            print(f"{args.dest / rel}: differs from what `make hw` makes from {args.source}")
        if changed:
            print(f"assign: {len(changed)} file(s) out of date; run `make hw`", file=sys.stderr)
            return 1
        return 0
    write_tree(files, args.dest)
    print(f"assign: wrote {len(files)} files to {args.dest} ({regions} stubs)")
    return 0
