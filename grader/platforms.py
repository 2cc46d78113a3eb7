"""Where the grader runs, and the one sentence it prints where it cannot.

Grading runs each problem in its own process under POSIX limits: `resource` for memory, CPU time,
file size and process count; `os.killpg` to stop a whole process group at the time limit; SIGUSR1
to ask a probe for its stack first. Linux and macOS have all three (on macOS the limits that
`setrlimit` refuses are skipped, as grader.probe.set_limits does everywhere); Windows through WSL
is Linux; a hosted notebook (Colab and the like) runs Linux. Native Windows Python has none of
them, so the entry points that grade (`python -m grader grade` and the other grading commands, the
notebooks' check cells) ask `unsupported()` first and stop with its sentence instead of a traceback.
This module imports nothing that a platform may lack.
"""

from __future__ import annotations

import os
import signal
import sys

ROUTES = "Linux, macOS, Windows through WSL, or a hosted notebook such as Colab"


def missing() -> list[str]:
    """The POSIX facilities grading needs that this Python lacks, by name."""
    absent = []
    try:
        import resource  # noqa: F401 - only whether it imports
    except ImportError:
        absent.append("the resource module")
    if not hasattr(os, "killpg"):
        absent.append("os.killpg")
    if not hasattr(signal, "SIGUSR1"):
        absent.append("signal.SIGUSR1")
    return absent


def platform_name() -> str:
    if sys.platform == "win32":
        return "native Windows"
    return f"this platform ({sys.platform})"


def unsupported() -> str | None:
    """None where grading can run; else one sentence naming the platform, what it lacks, and the
    supported routes."""
    absent = missing()
    if not absent:
        return None
    return (
        f"The grader cannot run on {platform_name()}: its Python lacks {', '.join(absent)}, "
        "which grading needs to run each problem in its own time- and memory-limited process; "
        f"run it on {ROUTES} (README.md, \"Where it runs\", gives the two set-up commands of each)."
    )
