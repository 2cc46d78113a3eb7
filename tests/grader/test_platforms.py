"""Where the grader runs (grader/platforms.py): on a platform without the POSIX facilities grading
needs (native Windows: no `resource`, no `os.killpg`, no SIGUSR1) the grading commands and the
notebooks' check cells stop with one sentence, not a traceback.

Native Windows cannot be had here, so its absences are simulated in a fresh interpreter: the
`resource` module made unimportable, `os.killpg` and `signal.SIGUSR1` deleted, `sys.platform` set
to "win32" (after the standard modules that read it at import time are loaded).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import cli, platforms

ROOT = Path(__file__).resolve().parents[2]
ABSENCES = {
    "resource": "sys.modules['resource'] = None",
    "killpg": "del os.killpg",
    "SIGUSR1": "del signal.SIGUSR1",
}
SIMULATE_WINDOWS = """
import os, signal, subprocess, sys, argparse, importlib, json, tempfile, threading
{absences}
sys.platform = "win32"
"""


def run_simulated(code: str, absences=tuple(ABSENCES)) -> subprocess.CompletedProcess:
    shim = SIMULATE_WINDOWS.format(absences="\n".join(ABSENCES[a] for a in absences))
    return subprocess.run(
        [sys.executable, "-c", shim + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_sentence(text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text and "Error" not in text, text
    for word in ("native Windows", "WSL", "Colab", "Linux", "macOS"):
        assert word in lines[0], lines[0]


def test_grade_on_native_windows_stops_with_one_sentence():
    done = run_simulated(
        """
        from grader.cli import main
        sys.exit(main(["grade", "--submission", "hw"]))
        """
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert_one_sentence(done.stderr)
    assert done.stderr.startswith("python -m grader grade: The grader cannot run on native Windows")
    for name in ("resource", "os.killpg", "signal.SIGUSR1"):
        assert name in done.stderr


@pytest.mark.parametrize("command", sorted(cli.GRADING_COMMANDS))
def test_every_grading_command_checks_the_platform_first(command):
    done = run_simulated(f"from grader.cli import main\nsys.exit(main([{command!r}]))")
    assert done.returncode == 2
    assert_one_sentence(done.stderr)


def test_without_the_check_the_simulation_gives_a_traceback():
    """Is the simulation real? With the check switched off, grading fails at import."""
    done = run_simulated(
        """
        import grader.platforms
        grader.platforms.unsupported = lambda: None
        from grader.cli import main
        sys.exit(main(["grade", "--submission", "hw"]))
        """
    )
    assert done.returncode != 0
    assert "Traceback" in done.stderr


def test_check_cell_on_native_windows_prints_one_sentence_and_returns_none():
    done = run_simulated(
        """
        from grader.notebook import check, load_needle  # the set-up cell's import
        result = check("logsumexp")
        assert result is None, result
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert_one_sentence(done.stdout)


@pytest.mark.parametrize("absence", sorted(ABSENCES))
def test_each_missing_facility_alone_is_named(absence):
    done = run_simulated(
        "from grader import platforms\nprint(platforms.unsupported())", absences=(absence,)
    )
    assert done.returncode == 0, done.stderr
    named = {"resource": "the resource module", "killpg": "os.killpg", "SIGUSR1": "signal.SIGUSR1"}
    assert f"lacks {named[absence]}, which" in done.stdout


def test_other_platforms_without_the_facilities_are_named_by_sys_platform(monkeypatch):
    monkeypatch.setattr(platforms, "missing", lambda: ["os.killpg"])
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert "cannot run on this platform (emscripten)" in platforms.unsupported()


def test_this_machine_can_grade():
    assert platforms.missing() == [] and platforms.unsupported() is None


def test_limits_setrlimit_refuses_are_skipped_as_on_macos():
    """macOS refuses some limits (RLIMIT_AS, RLIMIT_NPROC below what runs): set_limits goes on
    with the others instead of failing the probe."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import resource
                from grader import probe
                from grader.runner import DEFAULT_LIMITS
                applied, real = [], resource.setrlimit
                def refusing(which, values):
                    if which == resource.RLIMIT_AS:
                        raise ValueError("current limit exceeds maximum limit")
                    if which == resource.RLIMIT_NPROC:
                        raise OSError(22, "Invalid argument")
                    applied.append(which)
                    real(which, values)
                resource.setrlimit = refusing
                probe.set_limits(DEFAULT_LIMITS)
                assert resource.RLIMIT_CPU in applied and resource.RLIMIT_FSIZE in applied
                print("limits set:", len(applied))
                """
            ),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "limits set: 3" in done.stdout
