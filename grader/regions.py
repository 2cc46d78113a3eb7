"""Solution regions: the marker lines and the one scanner that finds the regions of a file.

A region is the block of lines between a `### BEGIN YOUR SOLUTION` line and the next
`### END YOUR SOLUTION` line (each exactly that after its indentation). The stripper
(grader.assign) scans strictly: nesting, an unterminated region, a stray END and a near miss
(`### BEGIN SOLUTION`, `## END YOUR SOLUTION`, ...) are errors naming file:line. The judge scans a
student's files leniently (`strict=False`: malformed markers are passed over) to find the regions
that still hold only the skeleton's `raise NotImplementedError(...)`.

The enclosing `Class.method` of a region is found by scanning upward for `def`/`class` lines
indented less than the marker (then less than that definition, and so on): a line scanner, not a
parser. Shipped with the student release: it needs only the standard library.
"""

from __future__ import annotations

import ast
import io
import re
import threading
from dataclasses import dataclass

BEGIN = "### BEGIN YOUR SOLUTION"
END = "### END YOUR SOLUTION"

# Anything that looks like an attempt at a marker: one or more '#', BEGIN/END, at most one other
# word, then a word containing SOL (SOLUTION misspelled too), in any case and spacing, alone on its
# line. Exact markers are matched first.
_NEAR_MISS = re.compile(
    r"#+[\s_]*(BEGIN|END)([\s_]*[A-Z]+)??[\s_]*[A-Z]*SOL[A-Z]*\W*", re.IGNORECASE
)
_DEFINITION = re.compile(r"(?P<indent>[ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)")

class MarkerError(ValueError):
    """Malformed solution markers; `problems` lists one "file:line: what" string per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Region:
    """One solution region of one file.

    `path` is relative to the scanned root (posix); `begin` and `end` are the 1-based line numbers
    of the two marker lines; `qualname` is the enclosing "Class.method" or "function" ("" at module
    level); `lines` are the body lines between the markers, without their line terminators.
    """

    path: str
    begin: int
    end: int
    qualname: str
    lines: tuple[str, ...]

    @property
    def stub(self) -> str:
        """The message of the NotImplementedError that replaces this region in the skeleton."""
        return f"{self.qualname} in {self.path}" if self.qualname else f"{self.path}"


@dataclass(frozen=True)
class Split:
    """A source file cut into lines (terminators kept) and the regions found in it."""

    lines: list[bytes]
    regions: list[Region]


def indentation(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]


def _enclosing_qualname(lines: list[str], index: int) -> str:
    """The dotted names of the def/class lines that enclose line `index`, outermost first."""
    names: list[str] = []
    width = len(indentation(lines[index]).expandtabs())
    for text in reversed(lines[:index]):
        if width == 0:
            break
        match = _DEFINITION.match(text)
        if match and len(match["indent"].expandtabs()) < width:
            names.append(match["name"])
            width = len(match["indent"].expandtabs())
    return ".".join(reversed(names))


def _split_lines(data: bytes) -> list[bytes]:
    """Lines with their terminators; only b"\\n" ends a line, so joining them gives `data` back."""
    return io.BytesIO(data).readlines()


def scan(rel: str, data: bytes, strict: bool = True) -> Split:
    """Find the regions of one file. Strict: raise MarkerError naming every malformed marker;
    lenient: pass them over (an END without BEGIN is ignored, a second BEGIN restarts)."""
    raw = _split_lines(data)
    texts = [line.decode("utf-8", errors="replace").rstrip("\r\n") for line in raw]
    regions: list[Region] = []
    problems: list[str] = []
    open_at: int | None = None  # 0-based index of the BEGIN line of the region being read
    for index, text in enumerate(texts):
        body = text.lstrip(" \t")
        where = f"{rel}:{index + 1}"
        if body == BEGIN:
            if open_at is not None:
                problems.append(
                    f"{where}: BEGIN inside the region opened at line {open_at + 1} "
                    "(regions cannot be nested)"
                )
            open_at = index
        elif body == END:
            if open_at is None:
                problems.append(f"{where}: END without a BEGIN before it")
                continue
            if indentation(text) != indentation(texts[open_at]):
                problems.append(
                    f"{where}: END is indented differently from its BEGIN at line {open_at + 1}"
                )
            regions.append(
                Region(
                    path=rel,
                    begin=open_at + 1,
                    end=index + 1,
                    qualname=_enclosing_qualname(texts, open_at),
                    lines=tuple(texts[open_at + 1 : index]),
                )
            )
            open_at = None
        elif _NEAR_MISS.fullmatch(body.rstrip()):
            problems.append(
                f"{where}: misspelled marker {body!r}; markers are exactly {BEGIN!r} and {END!r}"
            )
    if open_at is not None:
        problems.append(f"{rel}:{open_at + 1}: BEGIN without an END before the end of the file")
    if problems and strict:
        raise MarkerError(problems)
    return Split(raw, regions)


_STUB_LINE = re.compile(r"raise\s+NotImplementedError\b")


def is_stub(region: Region) -> bool:
    """Does the region hold nothing but a `raise NotImplementedError(...)` line (comments and
    blank lines aside), as the skeleton has it?"""
    body = [line.strip() for line in region.lines]
    body = [line for line in body if line and not line.startswith("#")]
    return len(body) == 1 and bool(_STUB_LINE.match(body[0]))


def stub_qualnames(text: str, parsed: bool = False) -> list[str]:
    """Qualified names of the functions in `text` whose solution region is still a stub.

    A file that does not parse has none (its syntax error is reported instead; `parsed`: the
    caller has already parsed it); module-level regions are not counted."""
    if not parsed:
        try:
            parse_source(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []
    regions = scan("", text.encode("utf-8", errors="replace"), strict=False).regions
    return [region.qualname for region in regions if region.qualname and is_stub(region)]


_PARSE_LOCK = threading.Lock()


def parse_source(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, one thread at a time.

    CPython 3.11 can raise a spurious `SystemError: AST constructor recursion depth mismatch` when
    threads parse at once (gh-106905); the grader parses submissions from a thread pool.
    """
    with _PARSE_LOCK:
        return ast.parse(source, filename=filename)
