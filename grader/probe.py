"""The untrusted side: runs inside the probe process, next to the student's code.

`main()` is the whole life of a probe process:
  1. read the nonce from stdin and the job (as the user that started it); arrange for a stack dump
     to stderr on STACK_SIGNAL (sent by the runner at the time limit); when started as root, drop
     to the unprivileged user the job names; then set the resource limits (the process count is
     per user, so after the drop); all before any student code runs;
  2. put the submission on sys.path and install placeholders for files with a syntax error that this
     problem does not need (so `import needle` still works);
  3. import needle, run the problem's probe step by step (a step that raises records its exception,
     with file:line inside the submission, and the other steps go on);
  4. write the numeric outputs and step errors through the channel and leave with `os._exit`.
Nothing here decides a score: the judge compares the outputs on its own side.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import re
import resource
import stat
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from grader.channel import IMPORTED_MARK, STACK_SIGNAL, ProbeOutput, StepError, encode

IMPORT_STEP = "__import__"


class Probe:
    """What a problem's `probe(p)` function works with: inputs, steps, recorded outputs."""

    def __init__(self, inputs: dict[str, np.ndarray], root: Path):
        self.inputs = inputs
        self.root = root
        self.result = ProbeOutput()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run a block; an exception inside it is recorded for `name` and does not propagate."""
        try:
            yield
        except BaseException as error:  # noqa: B036 - student code may raise SystemExit and worse
            self.result.errors[name] = describe(error, self.root)

    def put(self, name: str, value: Any) -> None:
        """Record a numeric output (array, number, bool); anything else is a TypeError."""
        array = np.array(value)
        if type(array) is not np.ndarray or array.dtype.kind not in "biuf":
            raise TypeError(f"expected numbers, got {type(value).__name__} ({array.dtype})")
        self.result.arrays[name] = array

    def values(self, tensor: Any) -> np.ndarray:
        """`tensor`'s values, flattened: for state the spec lets a student keep in any shape that
        holds its `dim` values, such as (dim,) or (1, dim) (norm weights, running statistics)."""
        return self.array(tensor).reshape(-1)

    def assign(self, parameter: Any, values: np.ndarray) -> None:
        """`parameter.data = values`, in the parameter's own shape when it holds as many values
        (a norm weight stored as (1, dim) gets the same numbers as one stored as (dim,))."""
        import needle

        values = np.asarray(values)
        shape = tuple(getattr(parameter, "shape", values.shape))
        if int(np.prod(shape)) == values.size:
            values = values.reshape(shape)
        parameter.data = needle.Tensor(values)

    def array(self, tensor: Any) -> np.ndarray:
        """`tensor.numpy()` as a plain numeric numpy array (raises TypeError otherwise)."""
        value = tensor.numpy()
        array = np.array(value)
        if type(array) is not np.ndarray or array.dtype.kind not in "biuf":
            raise TypeError(f".numpy() returned {type(value).__name__}, expected a numpy array")
        return array


def describe(error: BaseException, root: Path) -> StepError:
    """The exception as plain strings, pointing at the deepest frame inside the submission."""
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        try:
            rel = Path(frame.filename).resolve().relative_to(root)
        except (ValueError, OSError):
            continue
        where = f"{rel.as_posix()}:{frame.lineno}"
    if isinstance(error, SyntaxError) and error.filename:
        with contextlib.suppress(ValueError, OSError):
            where = f"{Path(error.filename).resolve().relative_to(root).as_posix()}:{error.lineno}"
    try:
        message = str(error)
    except BaseException:  # noqa: B036 - a hostile __str__
        message = "<unprintable>"
    return StepError(
        type=type(error).__name__,
        message=message.strip().splitlines()[-1] if message.strip() else "",
        where=where,
        not_implemented=isinstance(error, NotImplementedError),
    )


def numeric_gradient(
    forward: Callable[[np.ndarray], np.ndarray], x: np.ndarray, out_grad: np.ndarray
) -> np.ndarray:
    """d/dx sum(forward(x) * out_grad), float64, by numdifftools (central, Richardson)."""
    import numdifftools as nd

    x = np.asarray(x, dtype=np.float64)

    def scalar(flat: np.ndarray) -> float:
        return float(np.sum(np.asarray(forward(flat.reshape(x.shape)), np.float64) * out_grad))

    return np.asarray(nd.Gradient(scalar)(x.ravel()), dtype=np.float64).reshape(x.shape)


# ----- placeholders for files with a syntax error -------------------------------------------------

_TOP_LEVEL = re.compile(r"^(class|def)\s+(\w+)", re.MULTILINE)


def _placeholder_module(name: str, path: Path, reason: str) -> types.ModuleType:
    """A module standing in for a file that does not compile: each top-level def/class raises."""
    module = types.ModuleType(name)
    module.__file__ = str(path)
    try:
        source = path.read_text(errors="replace")
    except OSError:
        source = ""
    names = []
    for kind, symbol in _TOP_LEVEL.findall(source):
        names.append(symbol)
        if kind == "class":

            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                raise SyntaxError(reason)

            setattr(module, symbol, type(symbol, (), {"__init__": __init__}))
        else:

            def stub(*args: Any, **kwargs: Any) -> Any:
                raise SyntaxError(reason)

            setattr(module, symbol, stub)
    module.__all__ = names
    return module


class _PlaceholderFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, broken: dict[str, tuple[Path, str]]):
        self.broken = broken  # module name -> (path, reason)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname in self.broken:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        file, reason = self.broken[spec.name]
        return _placeholder_module(spec.name, file, reason)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _CourseLayout(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import python.needle...` (the course repository's layout, where needle sits in python/)
    gives the very modules `import needle...` does, so both spellings share one Tensor class."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname == "python" or fullname.startswith("python.needle"):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        if spec.name == "python":
            package = types.ModuleType("python")
            package.__path__ = []
            return package
        return importlib.import_module(spec.name[len("python.") :])

    def exec_module(self, module: types.ModuleType) -> None:
        return None


# ----- the process --------------------------------------------------------------------------------


def _count_own_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def set_limits(limits: dict[str, int]) -> None:
    """Memory, CPU time, file size and process count; soft and hard, so they cannot be raised."""

    def cap(which: int, value: int) -> None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, limits["memory_bytes"])
    cap(resource.RLIMIT_CPU, limits["cpu_seconds"])
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"])
    cap(resource.RLIMIT_CORE, 0)
    # RLIMIT_NPROC counts all processes of the user; leave room for those already running.
    # (Not enforced for root: the wall-clock kill of the process group bounds a fork bomb there.)
    with contextlib.suppress(OSError):
        cap(resource.RLIMIT_NPROC, _count_own_processes() + limits["extra_processes"])


def _reachable_by_others(path: Path) -> bool:
    """Could a user who is neither owner nor in the group list `path` (ancestors searchable)?"""
    try:
        folders = [*reversed(path.parents), path]
        if not all(os.stat(folder).st_mode & stat.S_IXOTH for folder in folders):
            return False
        return bool(os.stat(path).st_mode & stat.S_IROTH)
    except OSError:
        return False


def keep_imports_reachable() -> None:
    """Before the drop: reroute the import folders the probe user could not reach.

    The Python installation may sit in a folder only root can enter (pyenv under /root). For each
    such sys.path entry, open a handle on the folder now and import through /proc/self/fd/N, so
    that `import gzip` still works after the drop; already imported packages get their __path__
    rerouted the same way (for their lazily imported submodules). The cost, stated in
    grader.runner: through such a handle the probe can climb to world-readable files elsewhere
    under that root-only folder."""
    handles: dict[str, str] = {}
    for entry in sys.path:
        folder = Path(entry or ".").resolve()
        if entry in handles or not folder.is_dir() or _reachable_by_others(folder):
            continue
        try:
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        handles[str(folder)] = f"/proc/self/fd/{descriptor}"

    def reroute(location: str) -> str:
        # The resolved path also undoes symlinks through folders the probe user cannot enter
        # (a kit under /root whose .venv links to a virtual environment elsewhere).
        resolved = str(Path(location or ".").resolve())
        for old, new in handles.items():
            if resolved == old or resolved.startswith(old + os.sep):
                return new + resolved[len(old) :]
        return resolved if location else location

    sys.path[:] = [reroute(entry) for entry in sys.path]
    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [reroute(location) for location in search]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def drop_privileges(user: list[int] | None) -> None:
    """Become `user` = [uid, gid] for good (no supplementary groups); raise if that fails.

    Only when running as root and the job asks for it; the judge asks whenever it runs as root."""
    if not user or os.geteuid() != 0:
        return
    uid, gid = int(user[0]), int(user[1])
    keep_imports_reachable()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise PermissionError("could not drop privileges")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise PermissionError("privileges could be regained after the drop")


def main() -> None:
    job_dir = Path(sys.argv[1])
    nonce = sys.stdin.readline().strip()
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
    job = json.loads((job_dir / "job.json").read_text())
    with contextlib.suppress(ValueError, OSError, RuntimeError):
        faulthandler.register(STACK_SIGNAL, file=sys.stderr, all_threads=True)
    output_path = Path(job["output"])
    root = Path(job["submission"]).resolve()
    with np.load(job_dir / "inputs.npz", allow_pickle=False) as archive:
        inputs = {name: archive[name] for name in archive.files}
    drop_privileges(job.get("user"))
    set_limits(job["limits"])

    sys.path.insert(0, str(root))
    broken = {
        rel[: -len(".py")].replace("/", ".").removesuffix(".__init__"): (root / rel, reason)
        for rel, reason in job["placeholders"].items()
    }
    if broken:
        sys.meta_path.insert(0, _PlaceholderFinder(broken))
    sys.meta_path.insert(0, _CourseLayout())
    problem = importlib.import_module(f"grader.problems.{job['problem']}")
    probe = Probe(inputs, root)
    with probe.step(IMPORT_STEP):
        importlib.import_module("needle")
        for module in getattr(problem, "IMPORTS", ()):
            importlib.import_module(module)
    with contextlib.suppress(OSError):
        (output_path.parent / IMPORTED_MARK).touch()
    if IMPORT_STEP not in probe.result.errors:
        with probe.step("__probe__"):
            problem.probe(probe)
    frame = encode(probe.result, nonce)
    temporary = output_path.with_name(output_path.name + ".partial")
    temporary.write_bytes(frame)
    os.replace(temporary, output_path)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
