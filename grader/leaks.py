"""The leak scanner: proves that no line of any solution region is in the student release.

Which lines are secret. Every body line of every region in `solutions/` (found by
`grader.assign.find_regions`), compared after removing a trailing comment and ALL whitespace (so
re-indented or re-spaced copies still match), except:
- blank lines and comment lines;
- trivial lines: fewer than `MIN_CHARS` (12) characters once whitespace is removed (`return out`,
  `pass`, `return x`, `else:`, lone brackets), a bare call without arguments (`loss.backward()`,
  `model.eval()`: which method to call is the API, not the solution), or one of `GENERIC_LINES`;
- lines already public: a secret that occurs inside any line of the skeleton (`hw/`, which the
  release ships anyway, e.g. `a, b = node.inputs` written once as given code and once in a region).

Where it looks. Every file of the release folder and every member of the zip, line by line, after
the same whitespace removal; a line leaks when it CONTAINS a secret. Notebooks (`.ipynb`) are
parsed as JSON and every string in them is scanned (cell sources, outputs, metadata), so JSON
escaping cannot hide a line. Zip archives (the release zip, `.npz` files) are opened and their
members scanned; gzip files are decompressed; bytes that are not UTF-8 are read as Latin-1, so any
ASCII text in a binary file is seen.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tokenize
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.assign import Region, find_regions

MIN_CHARS = 12
BARE_CALL = re.compile(r"(\w+(\(\))?\.)*\w+\(\)")  # `loss.backward()`, `model.eval()`
# Idioms long enough to pass MIN_CHARS that any Python file may hold: not a solution's content.
GENERIC_LINES = frozenset(
    {
        "super().__init__()",
        "raiseNotImplementedError()",
        "returnout_grad",
        "returnout_grad,",
        "for_inrange(epochs):",
    }
)


@dataclass(frozen=True)
class Secret:
    """One solution line to look for: where it comes from and its normalized text."""

    solution: str  # "needle/ops/ops_mathematic.py:123", relative to the solutions folder
    text: str  # the line as written
    key: str  # the line without comment and whitespace


@dataclass(frozen=True)
class Leak:
    """A release line that contains a secret."""

    where: str  # "hw/needle/x.py:12", "notebooks/a.ipynb:cells[3].source:2", "x.zip!member:5"
    secret: Secret

    def __str__(self) -> str:
        return (
            f"{self.where}: contains the solution line {self.secret.solution}: "
            f"{self.secret.text.strip()!r}"
        )


def normalize(line: str) -> str:
    """The line without its trailing comment and without any whitespace."""
    code = line
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type == tokenize.COMMENT:
                code = line[: token.start[1]]
                break
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # a line of a multi-line statement or string: keep it whole
    return "".join(code.split())


def is_trivial(line: str) -> bool:
    """Blank, a comment, under MIN_CHARS without whitespace, a bare call, or a generic idiom."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return True
    key = normalize(line)
    return len(key) < MIN_CHARS or key in GENERIC_LINES or BARE_CALL.fullmatch(key) is not None


def _lines_of_tree(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield from path.read_text(encoding="utf-8", errors="replace").splitlines()


def secrets_of(regions: Iterable[Region], public_roots: Iterable[Path] = ()) -> list[Secret]:
    """The secret lines of `regions`, minus every line that occurs in a public tree (hw/)."""
    candidates: dict[str, Secret] = {}
    for region in regions:
        for offset, line in enumerate(region.lines, start=1):
            if is_trivial(line):
                continue
            key = normalize(line)
            candidates.setdefault(key, Secret(f"{region.path}:{region.begin + offset}", line, key))
    if candidates:
        public = "\n".join(
            "".join(line.split()) for root in public_roots for line in _lines_of_tree(root)
        )
        candidates = {key: s for key, s in candidates.items() if key not in public}
    return list(candidates.values())


class Scanner:
    """Finds secrets in files, bytes and archives. Build once per release, scan many files."""

    def __init__(self, secrets: list[Secret]):
        self.secrets = {secret.key: secret for secret in secrets}
        ordered = sorted(self.secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def scan_text(self, where: str, text: str) -> list[Leak]:
        """`where:line` for each line of `text` holding a secret."""
        if self._pattern is None:
            return []
        leaks = []
        for number, line in enumerate(text.splitlines(), start=1):
            match = self._pattern.search("".join(line.split()))
            if match:
                leaks.append(Leak(f"{where}:{number}", self.secrets[match.group()]))
        return leaks

    def scan_json(self, where: str, value: object, path: str = "") -> list[Leak]:
        """Every string inside a parsed JSON value, located by its JSON path."""
        if isinstance(value, str):
            return self.scan_text(f"{where}:{path or '$'}", value)
        if isinstance(value, list):
            # A notebook cell's source is a list of lines: scan it as one text first.
            if value and all(isinstance(item, str) for item in value):
                return self.scan_text(f"{where}:{path or '$'}", "".join(value))
            items: Iterable[tuple[str, object]] = ((f"[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, dict):
            items = ((f".{key}" if path else str(key), v) for key, v in value.items())
        else:
            return []
        leaks = []
        for step, item in items:
            leaks.extend(self.scan_json(where, item, f"{path}{step}"))
        return leaks

    def scan_bytes(self, where: str, data: bytes) -> list[Leak]:
        """A file's content, whatever it is: zip, gzip, notebook, text or binary."""
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return self.scan_zip(where, archive)
        if data[:2] == b"\x1f\x8b":
            try:
                return self.scan_bytes(where, gzip.decompress(data))
            except (OSError, EOFError):
                pass  # not really gzip: scan the raw bytes below
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        if where.endswith(".ipynb"):
            try:
                return self.scan_json(where, json.loads(text))
            except json.JSONDecodeError:
                pass  # a broken notebook is still scanned as text
        return self.scan_text(where, text)

    def scan_zip(self, where: str, archive: zipfile.ZipFile) -> list[Leak]:
        leaks = []
        for member in archive.namelist():
            if not member.endswith("/"):
                leaks.extend(self.scan_bytes(f"{where}!{member}", archive.read(member)))
        return leaks

    def scan_path(self, path: Path, base: Path) -> list[Leak]:
        """A file or, recursively, every file of a folder; locations relative to `base`."""
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        leaks = []
        for file in files:
            leaks.extend(self.scan_bytes(file.relative_to(base).as_posix(), file.read_bytes()))
        return leaks


def scan(solutions: Path, skeleton: Path, targets: Iterable[Path], base: Path) -> list[Leak]:
    """Every leak of a region line of `solutions` into `targets` (files or folders)."""
    scanner = Scanner(secrets_of(find_regions(solutions), [skeleton]))
    leaks = []
    for target in targets:
        leaks.extend(scanner.scan_path(target, base))
    return leaks
