"""Start one probe process for one problem, under limits, and collect what it reports.

The process is `python -I` (no environment variables, no user site, no script or current folder on
sys.path) started in a fresh temporary folder that holds:
  - `harness/grader/`: a copy of the grader files the probe needs (channel, probe, problems),
  - `submission/`: a copy of the submission's `needle/` and `apps/` Python files (no symlinks),
  - `job/`: the job description and the input arrays.
So neither the repository nor `solutions/` is on its path. Limits: address space, CPU time, file
size and process count are set inside the child before any student code runs; the wall-clock
timeout is enforced from here by killing the whole process group; stdout goes to /dev/null and
stderr to a capped file. The result is read only through `grader.channel` with this run's nonce.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.channel import ChannelError, ProbeOutput, decode

GRADER_DIR = Path(__file__).resolve().parent
HARNESS_FILES = ("__init__.py", "channel.py", "probe.py")
PACKAGES = ("needle", "apps")
MAX_SOURCE_BYTES = 2 * 1024 * 1024

DEFAULT_LIMITS = {
    "memory_bytes": 3 * 1024**3,  # numpy plus a small network need a few hundred MB
    "cpu_seconds": 120,
    "file_bytes": 64 * 1024**2,  # the result frame is the largest file a probe writes
    "extra_processes": 64,
}
BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); import grader.probe; grader.probe.main()"
CHILD_ENV = {
    "PATH": "/usr/bin:/bin",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "LANG": "C.UTF-8",
}


@dataclass
class RunOutcome:
    """What came back from one probe process: its output, or why there is none."""

    output: ProbeOutput | None
    failure: str = ""  # set when output is None
    seconds: float = 0.0


def copy_submission(submission: Path, dest: Path) -> None:
    """Copy the .py files of needle/ and apps/ (regular files only, size-capped) into dest."""
    for package in PACKAGES:
        source = submission / package
        if not source.is_dir() or source.is_symlink():
            continue
        for folder, dirnames, filenames in os.walk(source):
            dirnames[:] = [
                name
                for name in dirnames
                if not (Path(folder) / name).is_symlink() and name != "__pycache__"
            ]
            for name in filenames:
                path = Path(folder) / name
                if not name.endswith(".py") or path.is_symlink() or not path.is_file():
                    continue
                if path.stat().st_size > MAX_SOURCE_BYTES:
                    continue
                target = dest / path.relative_to(submission)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)


def copy_harness(dest: Path) -> None:
    package = dest / "grader"
    (package / "problems").mkdir(parents=True)
    for name in HARNESS_FILES:
        shutil.copyfile(GRADER_DIR / name, package / name)
    for path in (GRADER_DIR / "problems").glob("*.py"):
        shutil.copyfile(path, package / "problems" / path.name)


def run_probe(
    problem_id: str,
    submission: Path,
    inputs: dict[str, np.ndarray],
    params: dict,
    placeholders: dict[str, str],
    timeout: float,
    limits: dict[str, int] | None = None,
) -> RunOutcome:
    """Run `grader.problems.<problem_id>.probe` against `submission` in an isolated process."""
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    limits["cpu_seconds"] = int(max(limits["cpu_seconds"], timeout + 5))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="needlework-probe-") as scratch:
        base = Path(scratch)
        copy_harness(base / "harness")
        copy_submission(Path(submission), base / "submission")
        job_dir = base / "job"
        work = base / "work"
        job_dir.mkdir()
        work.mkdir()
        np.savez(job_dir / "inputs.npz", **inputs)
        nonce = secrets.token_hex(16)
        output_path = base / "out" / f"result-{secrets.token_hex(8)}.bin"
        output_path.parent.mkdir()
        job = {
            "problem": problem_id,
            "submission": str(base / "submission"),
            "output": str(output_path),
            "limits": limits,
            "params": params,
            "placeholders": placeholders,
        }
        (job_dir / "job.json").write_text(json.dumps(job))
        stderr_path = base / "stderr.txt"
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-I", "-c", BOOT, str(base / "harness"), str(job_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=work,
                env={**CHILD_ENV, "HOME": str(work), "TMPDIR": str(work)},
                start_new_session=True,
            )
            timed_out = False
            try:
                process.stdin.write(nonce.encode() + b"\n")
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                # Kill the whole group: a finished probe may leave children behind.
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                process.wait()
        seconds = time.monotonic() - started
        if timed_out:
            return RunOutcome(None, f"did not finish within {timeout:g} s (time limit)", seconds)
        try:
            data = output_path.read_bytes()
        except OSError:
            return RunOutcome(None, _why_silent(process.returncode, stderr_path), seconds)
        try:
            return RunOutcome(decode(data, nonce), "", seconds)
        except ChannelError as error:
            return RunOutcome(None, f"reported a malformed result ({error})", seconds)


def _why_silent(returncode: int, stderr_path: Path) -> str:
    """A student-facing reason for a process that ended without reporting."""
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        hint = {
            "SIGXCPU": " (CPU time limit)",
            "SIGXFSZ": " (file size limit)",
            "SIGSEGV": " (crash)",
            "SIGKILL": " (killed, possibly out of memory)",
        }.get(name, "")
        return f"the grading process was killed by {name or -returncode}{hint}"
    tail = ""
    try:
        with open(stderr_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 300))
            lines = handle.read().decode(errors="replace").strip().splitlines()
            tail = lines[-1] if lines else ""
    except OSError:
        pass
    text = f"the grading process exited (code {returncode}) without reporting a result"
    if returncode == 0:
        text += "; does your code call exit() or os._exit()?"
    return f"{text}: {tail[:200]}" if tail else text
