"""Start one probe process for one problem, under limits, and collect what it reports.

The process is `python -I` (no environment variables, no user site, no script or current folder on
sys.path) started in a fresh temporary folder that holds:
  - `harness/grader/`: a copy of the grader files the probe needs (channel, probe, problems),
  - `submission/`: a copy of the submission's `needle/` and `apps/` Python files (no symlinks),
  - `job/`: the job description and the input arrays,
  - `work/` (the current folder, HOME and TMPDIR) and `out/` (where the result frame goes).
So neither the repository nor `solutions/` is on its path. Limits: address space, CPU time, file
size and process count are set inside the child before any student code runs; the wall-clock
timeout is enforced from here by killing the whole process group; stdout goes to /dev/null and
stderr to a capped file. The result is read only through `grader.channel` with this run's nonce.

Privilege separation (when the grader runs as root, as in CI and on Gradescope). Every untrusted
probe leases an id of its own from grader.sandbox's pool (uid = gid, from NEEDLEWORK_PROBE_UIDS,
default 64100-64131, ids no account uses; held through a lock file, so graders running at the
same time never share one). The child reads its job as root, then drops for good to that id (no
supplementary groups) before any student code runs. The temporary folder is root's and can be
traversed but not listed; `job/` stays root-only (0700), `harness/` and `submission/` belong to
root and the probe's own group (0750/0640: no other probe can read them), and only `work/` and
`out/` belong to the probe. When the probe ends, every process of its id is killed and what it
left at the top of /tmp, /var/tmp and /dev/shm is deleted, before the id is leased again. Each
probe starts in a fresh network namespace (`unshare --net`; as an ordinary user inside an
unprivileged user namespace, where the kernel allows one). Reference runs (trusted code from
solutions/) keep root, the network and their whole folder root-only. Run as an ordinary user (an
instructor on a laptop), there are no ids to drop to: everything still works, but the probe can
read whatever that user can read and signal that user's processes; the sandbox is stronger as
root.

Threat model: what is defended, and what is not.
  Defended: running too long (wall-clock kill of the process group, CPU limit), too much memory
  (address-space limit), too many processes (RLIMIT_NPROC, per probe: its id is its own),
  too large files (RLIMIT_FSIZE), fake output (stdout is discarded, stderr only read for a
  one-line hint), forged results (the frame needs this run's nonce and is validated as plain
  numeric data; the exit code means nothing), reading root-only files (the judge's scratch
  folders, the reference runs, anything the instructor keeps at mode 0700/0600, e.g. `solutions/`
  after `chmod -R go-rwx solutions`); as root also: signalling, tracing or reading another probe
  (another problem's or, in `batch`, another student's: every probe has its own id), a process
  that leaves the probe's process group (setsid, a double fork: it is killed with the probe's id),
  files left in shared temporary folders for a later probe, and the network (where `unshare`
  works; otherwise the run says once that probes keep network access).
  Not defended: reading world-readable files (a repository checked out world-readable, including
  `solutions/`, can be read by absolute path: keep it unreadable to others when grading hidden
  cases as root); CPU and memory contention between probes; files a probe leaves deeper than the
  top of the shared temporary folders in a folder it does not own. When the Python installation
  sits in a folder the probe user cannot enter (pyenv under /root), the probe keeps handles on its
  import folders (grader.probe.keep_imports_reachable); through them it can reach world-readable
  files elsewhere under that folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
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

from grader import sandbox
from grader.cases import Case
from grader.channel import IMPORTED_MARK, STACK_SIGNAL, ChannelError, ProbeOutput, decode
from grader.submission import PACKAGES, Submission

GRADER_DIR = Path(__file__).resolve().parent
HARNESS_FILES = ("__init__.py", "channel.py", "compare.py", "probe.py")

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


# After STACK_SIGNAL, the probe's stack dump is written from a signal handler within
# milliseconds; the grace leaves room for a loaded machine to schedule the probe.
STACK_GRACE = 0.5
MAX_STACK_TEXT = 64 * 1024  # the tail of stderr searched for that dump


@dataclass
class RunOutcome:
    """What is known about one probe run: its output, or the facts of why there is none.

    The judge turns these facts into the student-facing text (grader.judge.failure_text)."""

    output: ProbeOutput | None
    seconds: float = 0.0
    missing: str = ""  # a file the problem needs that the submission lacks: not started
    broken: str = ""  # the syntax error of a file the problem needs: not started
    timeout: float = 0.0  # the time limit, when the probe ran out of it and was killed
    # After a timeout: where the submission's code was stopped, as (path relative to the
    # submission, line, function name) from the probe's stack dump; None if it did not say.
    stopped: tuple[str, int, str] | None = None
    returncode: int | None = None  # of a probe that ended without reporting
    stderr_tail: str = ""  # its last line of stderr
    malformed: str = ""  # why its report was rejected by the channel
    # Whether the probe got past importing the submission (it says so in out/, see
    # grader.probe); a probe that hung or died before that would fail the same way everywhere.
    imported: bool = True

    @property
    def failed_importing(self) -> bool:
        return self.output is None and not self.imported and not (self.missing or self.broken)


def run_case(
    case: Case,
    submission: Submission,
    timeout_scale: float = 1.0,
    trusted: bool = False,
) -> RunOutcome:
    """Run one problem's probe on one case against `submission`, unless a file it needs is
    missing or does not parse (other broken files are replaced by placeholders in the probe).

    `trusted` is for the reference solutions only (no privilege drop)."""
    needed = case.problem.needed_files
    missing = submission.missing(needed)
    if missing:
        return RunOutcome(None, missing=missing[0])
    broken = [submission.broken[rel] for rel in needed if rel in submission.broken]
    if broken:
        return RunOutcome(None, broken=broken[0])
    return run_probe(
        case.problem.id,
        submission,
        case.inputs,
        dict(submission.broken),
        timeout=case.problem.timeout * timeout_scale,
        trusted=trusted,
    )


def share_with_group(folder: Path, gid: int) -> None:
    """Let the group `gid` (one probe's) read `folder` (dirs 0750, files 0640), nobody else."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, 0, gid)
            path.chmod(0o750 if path.is_dir() else 0o640)


def copy_harness(dest: Path) -> None:
    package = dest / "grader"
    (package / "problems").mkdir(parents=True)
    for name in HARNESS_FILES:
        shutil.copyfile(GRADER_DIR / name, package / name)
    for path in (GRADER_DIR / "problems").glob("*.py"):
        shutil.copyfile(path, package / "problems" / path.name)


def run_probe(
    problem_id: str,
    submission: Submission,
    inputs: dict[str, np.ndarray],
    placeholders: dict[str, str],
    timeout: float,
    limits: dict[str, int] | None = None,
    trusted: bool = False,
) -> RunOutcome:
    """Run `grader.problems.<problem_id>.probe` against `submission` in an isolated process.

    As root, an untrusted probe runs under an id leased from the sandbox's pool for its whole
    life (every process of it is killed when it ends) and without network; `trusted` (reference
    runs of solutions/ only) keeps root and keeps everything root-only."""
    pool = None if trusted else sandbox.pool()
    if pool is None:
        return _run(problem_id, submission, inputs, placeholders, timeout, limits, None, trusted)
    with pool.lease() as number:
        user = (number, number)
        return _run(problem_id, submission, inputs, placeholders, timeout, limits, user, trusted)


def _run(problem_id, submission, inputs, placeholders, timeout, limits, user, trusted):
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    limits["cpu_seconds"] = int(max(limits["cpu_seconds"], timeout + 5))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="needlework-probe-") as scratch:
        base = Path(scratch)  # 0700, ours
        copy_harness(base / "harness")
        submission.copy_to(base / "submission")
        job_dir = base / "job"
        work = base / "work"
        job_dir.mkdir(mode=0o700)
        work.mkdir(mode=0o700)
        np.savez(job_dir / "inputs.npz", **inputs)
        nonce = secrets.token_hex(16)
        output_path = base / "out" / f"result-{secrets.token_hex(8)}.bin"
        output_path.parent.mkdir(mode=0o700)
        job = {
            "problem": problem_id,
            "submission": str(base / "submission"),
            "output": str(output_path),
            "limits": limits,
            "placeholders": placeholders,
            "user": user,
        }
        (job_dir / "job.json").write_text(json.dumps(job))
        if user is not None:
            # The probe may traverse base (not list it), read harness/ and submission/ (through
            # its own group: no other probe can), and write only in work/ and out/; job/ and
            # stderr.txt stay root's.
            share_with_group(base / "harness", user[1])
            if (base / "submission").exists():
                share_with_group(base / "submission", user[1])
            for folder in (work, output_path.parent):
                os.chown(folder, *user)
            base.chmod(0o711)
        prefix = () if trusted else sandbox.network_prefix()[0]
        stderr_path = base / "stderr.txt"
        descriptor = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "wb") as stderr:
            process = subprocess.Popen(
                [*prefix, sys.executable, "-I", "-c", BOOT, str(base / "harness"), str(job_dir)],
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
                # Ask for the stack first (grader.channel.STACK_SIGNAL), then kill.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(process.pid, STACK_SIGNAL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=STACK_GRACE)
            finally:
                # Kill the whole group: a finished probe may leave children behind (and, as
                # root, the lease then kills every process of the probe's id).
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                process.wait()
        seconds = time.monotonic() - started
        imported = (output_path.parent / IMPORTED_MARK).exists()
        if timed_out:
            stopped = stopped_at(_tail(stderr_path, MAX_STACK_TEXT), base / "submission")
            return RunOutcome(None, seconds, timeout=timeout, stopped=stopped, imported=imported)
        try:
            data = output_path.read_bytes()
        except OSError:
            lines = _tail(stderr_path, 300).strip().splitlines()
            tail = lines[-1] if lines else ""
            return RunOutcome(
                None, seconds, returncode=process.returncode, stderr_tail=tail, imported=imported
            )
        try:
            return RunOutcome(decode(data, nonce), seconds)
        except ChannelError as error:
            return RunOutcome(None, seconds, malformed=str(error))


_THREAD = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-fA-F]{1,16} \(most recent call first\):$")
_FRAME = re.compile(
    r'^  File "([^"\x00]{1,1000})", line (\d{1,9}) in ([A-Za-z_][A-Za-z0-9_]{0,200}|<[a-z]{1,20}>)$'
)


def _tail(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


def stopped_at(text: str, submission: Path) -> tuple[str, int, str] | None:
    """The innermost frame inside the submission's needle/ or apps/ in the last thread dump of
    `text` (a probe's stderr: untrusted, so only parsed by pattern), as (relative path, line,
    function name); None when there is none.

    faulthandler lists each thread's frames innermost first, under a "Thread 0x... (most recent
    call first):" line; a student can print lines that look like a dump, but only into their own
    message, and only naming a file of their own submission."""
    root = os.path.realpath(submission)
    blocks: list[list[tuple[str, int, str]]] = []
    for line in text.splitlines():
        if _THREAD.match(line):
            blocks.append([])
            continue
        frame = _FRAME.match(line)
        if frame is None or not blocks:
            continue
        path = posixpath.normpath(frame.group(1))
        if not path.startswith(root + "/") or not path.endswith(".py"):
            continue
        relative = path[len(root) + 1 :]
        if relative.split("/", 1)[0] in PACKAGES:
            blocks[-1].append((relative, int(frame.group(2)), frame.group(3)))
    for block in reversed(blocks):
        if block:
            return block[0]
    return None
