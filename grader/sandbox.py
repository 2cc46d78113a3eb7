"""Isolation of probes from each other, from the network and from the grader, where the platform
allows it.

As root (CI, Gradescope, a grading server), every probe runs under a uid/gid of its own, leased
from a pool (`UidPool`: NEEDLEWORK_PROBE_UIDS, default 64100-64131, numbers no account on the
machine uses; held through a lock file, so that graders running at the same time never share
one) for as long as the probe runs: a probe can then signal, trace or read only its own
processes and files, and RLIMIT_NPROC (per user) holds per probe. When the probe ends (normally,
by timeout or by crash) every process of that uid is killed, and the files it left in the shared
temporary folders are deleted, before the uid is leased again: a process that escaped the
process group (setsid, a double fork) dies with its probe.

Every probe also starts in a fresh network namespace (`unshare --net`: no interface but a down
loopback), as root, or inside an unprivileged user namespace where the kernel permits one; where
neither works, `network_note()` says so once and probes keep the machine's network.

Without root (a student's laptop) there is no pool: probes run as the user who grades.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

DEFAULT_UIDS = "64100-64131"
# Shared temporary folders a probe can write to besides its own work folder.
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
# Rounds of "find every process of the uid, SIGKILL it" before giving up (each ~1 ms).
SWEEP_ROUNDS = 200


def parse_range(text: str) -> list[int]:
    """"64100-64131" -> [64100, ..., 64131]; ValueError naming the text otherwise."""
    first, sep, last = text.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise ValueError(f"NEEDLEWORK_PROBE_UIDS: expected FIRST-LAST, got {text!r}") from None
    if not 1000 <= low <= high < 2**31 - 1:
        raise ValueError(f"NEEDLEWORK_PROBE_UIDS: {text!r} is not a range of unprivileged ids")
    return list(range(low, high + 1))


def unused(ids: list[int]) -> list[int]:
    """The ids that are neither a user nor a group of this machine."""
    free = []
    for number in ids:
        try:
            pwd.getpwuid(number)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(number)
            continue
        except KeyError:
            free.append(number)
    return free


class UidPool:
    """Lease one unprivileged id (used as uid and gid) per running probe, across every grader
    process on the machine: an id is leased while its lock file is held (flock), so two graders
    running at once (a batch and a notebook, parallel test workers) never share one, and a grader
    that dies releases its ids with its open files."""

    def __init__(self, ids: list[int], locks: Path):
        if not ids:
            raise ValueError("the probe id pool is empty")
        self.ids = list(ids)
        self.locks = locks
        # Ids this process has swept since it leased them; each lease sweeps when it ends.
        self._swept: set[int] = set()

    def _claim(self) -> tuple[int, int] | None:
        for number in self.ids:
            descriptor = os.open(self.locks / str(number), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(descriptor)
                continue
            return number, descriptor
        return None

    @contextlib.contextmanager
    def lease(self) -> Iterator[int]:
        claimed = self._claim()
        while claimed is None:  # every id busy: wait for one
            time.sleep(0.05)
            claimed = self._claim()
        number, descriptor = claimed
        try:
            if number not in self._swept:  # what a grader that died with this id may have left
                sweep(number)
                self._swept.add(number)
            yield number
        finally:
            try:
                sweep(number)
            finally:
                os.close(descriptor)  # releases the lock


def lock_folder() -> Path:
    """A root-only folder for the id locks: /run/needlework, else one in the temporary folder."""
    for folder in (Path("/run/needlework"), Path(tempfile.gettempdir()) / "needlework-ids"):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = folder.stat()
            if info.st_uid == 0 and not info.st_mode & 0o077 and not folder.is_symlink():
                return folder
        except OSError:
            continue
    raise RuntimeError("no root-only folder for the probe id locks (/run/needlework, /tmp)")


def processes_of(uid: int) -> list[int]:
    """Pids of the live (not zombie) processes whose real or effective uid is `uid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as status:
                text = status.read(2048)
        except OSError:
            continue
        # "State:\tS (sleeping)" comes before "Uid:\treal\teffective\tsaved\tfs".
        start = text.find(b"\nUid:")
        if start < 0 or b"\nState:\tZ" in text[:start]:
            continue
        real, effective = text[start + 5 :].split(None, 2)[:2]
        if uid in (int(real), int(effective)):
            found.append(int(entry.name))
    return found


def kill_all(uid: int) -> int:
    """SIGKILL every process of `uid` until none is left; returns how many were killed."""
    killed = 0
    for _ in range(SWEEP_ROUNDS):
        pids = processes_of(uid)
        if not pids:
            return killed
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.001)
    return killed


def remove_files_of(uid: int) -> None:
    """Delete what `uid` left at the top of the shared temporary folders."""
    for folder in SHARED_TMP:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)


def sweep(uid: int) -> None:
    kill_all(uid)
    remove_files_of(uid)


_POOL_LOCK = threading.Lock()
_POOL: list[UidPool | None] = []


def pool() -> UidPool | SharedUser | None:
    """The pool when running as root, else None (made once per process, under a lock)."""
    with _POOL_LOCK:
        if not _POOL:
            made: UidPool | SharedUser | None = None
            if os.geteuid() == 0 and disabled():
                made = SharedUser()
            elif os.geteuid() == 0:
                ids = unused(parse_range(os.environ.get("NEEDLEWORK_PROBE_UIDS", DEFAULT_UIDS)))
                made = UidPool(ids, lock_folder())
            _POOL.append(made)
        return _POOL[0]


def disabled() -> bool:
    """NEEDLEWORK_SANDBOX=0: no per-probe ids and no network namespace (every probe drops to
    "nobody", as a grader without this module did): for platforms where they misbehave, and as
    the baseline of `make bench-batch`."""
    return os.environ.get("NEEDLEWORK_SANDBOX", "1") == "0"


class SharedUser:
    """Every probe as "nobody" (65534), nothing swept: the pool when the sandbox is disabled."""

    @contextlib.contextmanager
    def lease(self) -> Iterator[int]:
        yield 65534


_NETWORK_LOCK = threading.Lock()


def network_prefix() -> tuple[tuple[str, ...], str]:
    """(command prefix that starts a probe without network, "") or ((), why there is none)."""
    with _NETWORK_LOCK:
        return _network_prefix()


@lru_cache(maxsize=1)
def _network_prefix() -> tuple[tuple[str, ...], str]:
    if disabled():
        return (), "NEEDLEWORK_SANDBOX=0"
    unshare = shutil.which("unshare") or ""
    if not unshare:
        return (), "no `unshare` command"
    if os.geteuid() == 0:
        candidates = [(unshare, "--net", "--")]
    else:
        candidates = [(unshare, "--user", "--map-current-user", "--net", "--")]
    why = ""
    for prefix in candidates:
        try:
            done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as error:
            why = str(error)
            continue
        if done.returncode == 0:
            return prefix, ""
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
        why = why[0]
    return (), f"`{' '.join(candidates[-1][:-1])}` failed: {why}"


def network_note() -> str:
    """One sentence for the run's output when probes keep network access, else ""."""
    prefix, why = network_prefix()
    if prefix:
        return ""
    return f"probes keep network access here ({why})"
