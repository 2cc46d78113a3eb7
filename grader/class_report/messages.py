"""What a failure message means, with its particulars taken out; and why a problem has no result.

`pattern(message)` keeps the words of a check's message and replaces what differs from one
submission to the next, so that messages saying the same thing fall into one group:

    "max abs error 0.0011 at index (2, 5): expected 0.5, got 0.51"
    "max abs error 0.0031 at index (0, 1): expected 1.25, got 1.3"
        -> "max abs error <n> at index (<i>): expected <n>, got <n>"

  - a file path (`needle/ops/ops_logarithmic.py:42`, `/tmp/x/alice/needle/optim.py`) -> `<path>`;
  - a memory address (`0x7f3a...`) -> `<addr>`;
  - a number (integer, decimal, scientific) -> `<n>`; the words `inf` and `nan` stay, since
    "found inf" and "found nan" are different mistakes;
  - a tuple or list of numbers, an index or a shape (`(2, 5)`, `(3,)`, `[1 2 3]`) -> `(<i>)` or
    `[<i>]`.
A pattern therefore carries no number at all: not even a public expected value survives it.

`failure_kind(error)` sorts the `error` of a ProblemResult (a probe that produced no usable
result) by what happened to it, reading the judge's wording (grader.judge.failure_text).
"""

from __future__ import annotations

import re

# A relative path with at least one folder and a file extension, or an absolute path; either
# may end in :line. A `/` inside a formula (`1/(1-p)`, `m/sqrt(v)`) is not a path.
_PATH = re.compile(
    r"(?<![\w./~-])(?:"
    r"(?:\.{1,2}/|~/)?(?:[\w.~-]+/)+[\w~-][\w.~-]*\.[A-Za-z]\w*"  # needle/ops/x.py
    r"|/(?:[\w.~-]+/)*[\w.~-]+"  # /tmp/batch/alice
    r")(?::\d+)?"
)
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
# Not part of a word (float32, beta1, x2) nor of a longer number; a sentence's full stop may follow.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?!\w|\.\d)")
_TUPLE = re.compile(r"\(\s*<n>(?:\s*,\s*<n>)*\s*,?\s*\)")
_LIST = re.compile(r"\[\s*<n>(?:\s*,?\s*<n>)*\s*,?\s*\]")
_SPACE = re.compile(r"\s+")
MAX_PATTERN = 300  # characters; a longer message is cut (its start says what it is)


def pattern(message: str) -> str:
    """The message with paths, addresses, numbers and index tuples replaced (see the module)."""
    text = _PATH.sub("<path>", message)
    text = _ADDRESS.sub("<addr>", text)
    text = _NUMBER.sub("<n>", text)
    text = _TUPLE.sub("(<i>)", text)
    text = _LIST.sub("[<i>]", text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > MAX_PATTERN:
        text = text[: MAX_PATTERN - 3].rstrip() + "..."
    return text


# Why a problem produced no result, from the start of grader.judge's text, in the order tried.
TIMED_OUT = "timed out"
KILLED = "killed"
CRASHED = "crashed"
MALFORMED = "malformed result"
MISSING_FILE = "missing file"
DOES_NOT_LOAD = "does not load"
GRADER_ERROR = "grader error"
OTHER = "no result"
_KINDS = (
    ("did not finish within", TIMED_OUT),
    ("the grading process was killed", KILLED),
    ("the grading process exited", CRASHED),
    ("reported a malformed result", MALFORMED),
    ("missing file", MISSING_FILE),
    ("SyntaxError in", DOES_NOT_LOAD),
    ("grader error", GRADER_ERROR),
    ("no reference outputs", GRADER_ERROR),
)


def failure_kind(error: str) -> str:
    """timed out, killed, crashed, malformed result, missing file, does not load (a file that
    does not parse or cannot be read), grader error, or "no result" for anything else."""
    for start, kind in _KINDS:
        if error.startswith(start):
            return kind
    if " cannot be read: " in error:
        return DOES_NOT_LOAD
    return OTHER
