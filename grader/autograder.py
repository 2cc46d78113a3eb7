"""`python -m grader autograder`: build the Gradescope autograder bundle, and grade inside it.

The bundle (default dist/autograder.zip; Gradescope unpacks it into /autograder/source):

    setup.sh            run once by Gradescope, as root, when it builds the image: a virtual
                        environment /autograder/venv (Python >= 3.11) with requirements.txt
    run_autograder      run for every submission: grades /autograder/submission, writes
                        /autograder/results/results.json (Gradescope copies it to /autograder/)
    requirements.txt    numpy, scipy, numdifftools, pinned as in the repository's requirements.txt
    README.md           this layout and the trust model, for whoever uploads the bundle
    bundle.json         how the bundle was built: commit, problems and points, hidden share
    grader/             the grader exactly as the student release ships it (release.GRADER_FILES,
                        without instructor-only files), plus this module
    answers/hidden.npz  THE ANSWERS: the hidden seed and the reference outputs of the hidden cases

Hidden cases. The seed is chosen at build time (`--seed`, else from os.urandom) and the hidden
references are computed then, from solutions/, into answers/hidden.npz (same layout as the public
references: "problem/output" arrays and "problem/__inputs__" digests, plus "__seed__"). So no
solution source is in the bundle at all: the container never runs the reference code, grading a
submission costs one probe run per case instead of two, and the leak scanner can check the whole
bundle, answers included. The price is one seed per bundle (every submission gets the same hidden
inputs), as in `grader batch --hidden`; build a new bundle to change it.

Trust model. Gradescope runs run_autograder as root. answers/ is root-owned, mode 0700, and
hidden.npz 0600: the zip stores these modes, and setup.sh and run_autograder set them again. The
runner starts each probe process (the student's code) under an unprivileged uid when it runs as
root, so student code can neither read the answers nor write the results folder (root-owned,
0755). The judge (this process, root) reads the answers and never imports student code. Messages
of hidden cases never show expected values (the judge's `reveal=False`).

Results. One Gradescope test per problem and case kind: "<problem> (public)", visible at once, and
"<problem> (hidden)", visible after the due date. Each problem's points are split between the two
(`--hidden-share`, default 0.5), so the total stays what the problems add up to. Any failure,
including a submission without a needle/ package, still writes a results.json (score 0 and a
message); run_autograder writes one itself if Python cannot even start.

Where the student's code is. The shallowest folder named needle/ holding __init__.py, at most three
levels below /autograder/submission (needle/, hw/needle/, needlework-release/hw/needle/); its
sibling apps/ comes along. When there is none, .py files of any .zip in the submission are
extracted (safely) and searched the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import judge, references, report
from grader import problems as registry
from grader.results import RunResult

REPO_ROOT = judge.REPO_ROOT
TEMPLATE = Path(__file__).resolve().parent / "autograder_template"
DEFAULT_OUT = REPO_ROOT / "dist" / "autograder.zip"
ANSWERS_DIR = "answers"
ANSWERS_FILE = f"{ANSWERS_DIR}/hidden.npz"
SEED_KEY = "__seed__"
MANIFEST = "bundle.json"
EXECUTABLES = ("setup.sh", "run_autograder")
HIDDEN_SHARE = 0.5
MAX_JOBS = 4
PUBLIC_VISIBILITY = "visible"
HIDDEN_VISIBILITY = "after_due_date"

# Where a submission's needle/ may be: submission/needle (depth 1) to submission/a/b/needle (3).
MAX_DEPTH = 3
SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", "node_modules"}
# Caps on what is extracted from a zip in a submission (only .py files are extracted).
ZIP_MAX_MEMBERS = 5000
ZIP_MAX_BYTES = 50 * 1024**2


class BundleError(RuntimeError):
    """The bundle cannot be built as asked; the message says what to fix."""


@dataclass
class Bundle:
    """What a build produced."""

    zip_path: Path
    seed: int
    files: list[str] = field(default_factory=list)  # zip members, posix
    leaks: list = field(default_factory=list)


# ================================================================ build (instructor's machine)


def pinned_requirements(root: Path) -> str:
    """The repository's pinned lines for the packages listed in the template's requirements.in."""
    wanted = [
        line.strip().lower()
        for line in (TEMPLATE / "requirements.in").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    pins = {}
    for line in (root / "requirements.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if version:
            pins[name.strip().lower()] = line.strip()
    missing = [name for name in wanted if name not in pins]
    if missing:
        raise BundleError(f"requirements.txt has no pinned version for {missing}")
    header = "# The grader's dependencies in the Gradescope container; setup.sh installs them.\n"
    return header + "".join(pins[name] + "\n" for name in wanted)


def compute_references(root: Path, seed: int, jobs: int):
    """Run solutions/ on every public and every hidden case.

    Returns (public arrays, hidden arrays), each keyed "problem/output" with a "problem/__inputs__"
    digest per problem, in the layout `references.public_outputs` reads.
    """
    solutions = root / "solutions"
    modules = registry.load_all()
    cases = [judge.make_case(m, judge.PUBLIC_SEED) for m in modules]
    cases += [judge.make_case(m, seed) for m in modules]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(lambda c: references.reference_case(c, solutions), cases))
    failures = [why for outputs, why in outcomes if outputs is None]
    if failures:
        raise BundleError("\n".join(failures))
    public: dict[str, np.ndarray] = {}
    hidden: dict[str, np.ndarray] = {}
    for index, (case, (outputs, _)) in enumerate(zip(cases, outcomes, strict=True)):
        arrays = public if index < len(modules) else hidden
        for name, array in outputs.items():
            arrays[f"{case.problem.id}/{name}"] = array
        digest = np.frombuffer(case.digest.encode(), np.uint8)
        arrays[f"{case.problem.id}/{references.DIGEST_KEY}"] = digest
    return public, hidden


def _commit(root: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def stage(root: Path, folder: Path, seed: int, hidden: dict, hidden_share: float) -> None:
    """Lay out the bundle's files in `folder` (its future zip root)."""
    from grader import release

    excluded = release._copy_grader(root, folder, release.GRADER_FILES)
    # The release's import check covers the allow-listed files; this module (the one file added
    # here) imports build-only modules lazily, and the bundle's own test runs it end to end.
    release.check_imports(folder, root)
    shutil.copyfile(Path(__file__), folder / "grader" / "autograder.py")
    for name in (*EXECUTABLES, "README.md"):
        shutil.copyfile(TEMPLATE / name, folder / name)
    for name in EXECUTABLES:
        os.chmod(folder / name, 0o755)
    (folder / "requirements.txt").write_text(pinned_requirements(root))
    manifest = {
        "commit": _commit(root),
        "problems": {m.PROBLEM.id: m.PROBLEM.points for m in registry.load_all()},
        "hidden_share": hidden_share,
        "left_out_as_instructor_only": excluded,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    answers = folder / ANSWERS_DIR
    answers.mkdir(mode=0o700)
    np.savez_compressed(folder / ANSWERS_FILE, **hidden, **{SEED_KEY: np.array(seed, np.int64)})
    os.chmod(answers, 0o700)
    os.chmod(folder / ANSWERS_FILE, 0o600)


def write_zip(folder: Path, zip_path: Path) -> list[str]:
    """The bundle zip: files at its root, sorted, fixed dates; modes 0755 (scripts), 0600 and 0700
    (answers), 0644 (everything else)."""
    members = []
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        directory = zipfile.ZipInfo(f"{ANSWERS_DIR}/", date_time=(2020, 1, 1, 0, 0, 0))
        directory.external_attr = ((stat.S_IFDIR | 0o700) << 16) | 0x10  # 0x10: MS-DOS folder
        archive.writestr(directory, b"")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            if rel == ANSWERS_FILE:
                mode = 0o600
            elif rel in EXECUTABLES:
                mode = 0o755
            else:
                mode = 0o644
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            members.append(rel)
    return members


def build(
    root: Path = REPO_ROOT,
    out: Path | None = None,
    seed: int | None = None,
    hidden_share: float = HIDDEN_SHARE,
    jobs: int = 2,
) -> Bundle:
    """Build the bundle of the repository at `root`.

    Steps, in order: hw/ is current (the release's check); the shipped public references equal
    what solutions/ gives now; the hidden references for `seed`; the staged folder; the zip; the
    leak scan of both (last, so that it sees exactly what is uploaded; on a leak the zip is
    deleted and `leaks` is set).
    """
    from grader import leaks, release

    root = Path(root)
    out = Path(out) if out is not None else root / "dist" / "autograder.zip"
    if not 0 < hidden_share < 1:
        raise BundleError(f"--hidden-share must be between 0 and 1 (exclusive), got {hidden_share}")
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    try:
        release.check_skeleton(root)
    except release.ReleaseError as error:
        raise BundleError(str(error)) from error
    public, hidden = compute_references(root, seed, jobs)
    stored = references.load(root / "grader" / "references" / "public.npz")
    stale = references.stale_keys(public, stored)
    if stale:
        raise BundleError(
            f"the public references are stale in {len(stale)} array(s) ({', '.join(stale[:4])}): "
            "run `make references` first"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="needlework-autograder-") as scratch:
        folder = Path(scratch) / "bundle"
        folder.mkdir()
        try:
            stage(root, folder, seed, hidden, hidden_share)
        except release.ReleaseError as error:
            raise BundleError(str(error)) from error
        members = write_zip(folder, out)
        found = leaks.scan(root / "solutions", root / "hw", [folder], Path(scratch))
        found += leaks.scan(root / "solutions", root / "hw", [out], out.parent)
    bundle = Bundle(out, seed, members, found)
    if found:
        out.unlink()
    return bundle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="zip to write")
    parser.add_argument("--seed", type=int, help="seed of the hidden cases (default: random)")
    parser.add_argument(
        "--hidden-share",
        type=float,
        default=HIDDEN_SHARE,
        help="fraction of each problem's points earned on its hidden case (default 0.5)",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the repository to bundle")
    parser.add_argument("--jobs", type=int, default=2, help="parallel reference processes")


def run(args: argparse.Namespace) -> int:
    from grader import assign

    started = time.monotonic()
    try:
        bundle = build(args.root, args.out, args.seed, args.hidden_share, args.jobs)
    except (BundleError, assign.MarkerError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    if bundle.leaks:
        for leak in bundle.leaks:
            print(f"LEAK {leak}", file=sys.stderr)
        print(f"autograder: {len(bundle.leaks)} solution line(s) found; nothing written")
        return 1
    size = bundle.zip_path.stat().st_size
    print(
        f"autograder: {len(bundle.files)} files in {bundle.zip_path} ({size / 1024:.0f} KiB) in "
        f"{time.monotonic() - started:.1f} s; hidden seed {bundle.seed} (in {ANSWERS_FILE}); "
        "leak scan clean"
    )
    return 0


# ================================================================ in the container


class SubmissionNotFound(Exception):
    """No needle/ package in the submission; the message tells the student what to upload."""


@dataclass
class Located:
    """The folder to grade (it holds needle/ and maybe apps/) and what the student should know."""

    folder: Path
    note: str


def _walk_folders(base: Path, max_depth: int):
    """(depth, folder) of every real (not symlinked) folder below base, shallowest first."""
    level = [base]
    for depth in range(1, max_depth + 1):
        following = []
        for parent in level:
            try:
                children = sorted(parent.iterdir())
            except OSError:
                continue
            for child in children:
                if child.name in SKIPPED_FOLDERS or child.name.startswith("."):
                    continue
                if child.is_dir() and not child.is_symlink():
                    following.append(child)
                    yield depth, child
        level = following


def needle_folders(base: Path) -> list[Path]:
    """Every needle/ package below base (at most MAX_DEPTH deep), shallowest first."""
    return [
        folder
        for _, folder in _walk_folders(base, MAX_DEPTH)
        if folder.name == "needle" and (folder / "__init__.py").is_file()
    ]


def extract_python_files(archive_path: Path, dest: Path) -> None:
    """Extract the .py members of a zip into dest: no absolute or `..` paths, no links, capped."""
    total = 0
    with zipfile.ZipFile(archive_path) as archive:
        for count, info in enumerate(archive.infolist()):
            if count >= ZIP_MAX_MEMBERS:
                break
            parts = Path(info.filename).parts
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            if not info.filename.endswith(".py") or is_link or not parts:
                continue
            if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                continue
            with archive.open(info) as member:
                data = member.read(ZIP_MAX_BYTES - total + 1)
            total += len(data)
            if total > ZIP_MAX_BYTES:
                break
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def find_submission(base: Path, scratch: Path) -> Located:
    """Locate the needle/ package to grade; zips in the submission are opened into `scratch`."""
    found = needle_folders(base)
    origin, archive_name = base, ""
    if not found:
        zips = [p for _, p in _walk_files(base, 2) if p.suffix.lower() == ".zip"]
        for index, archive in enumerate(zips):
            dest = scratch / f"unzipped{index}"
            try:
                extract_python_files(archive, dest)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError):
                continue
            found = needle_folders(dest)
            if found:
                origin, archive_name = dest, archive.relative_to(base).as_posix()
                break
    if not found:
        raise SubmissionNotFound(not_found_message(base))
    chosen = found[0]
    where = chosen.relative_to(origin).as_posix()
    if archive_name:
        where = f"{archive_name}: {where}"
    note = f"Graded the needle/ package at {where}"
    has_apps = (chosen.parent / "apps").is_dir()
    note += " (with apps/)." if has_apps else " (no apps/ folder next to it)."
    others = [p.relative_to(origin).as_posix() for p in found[1:]]
    if others:
        note += f" Other needle/ folders were ignored: {', '.join(others[:3])}."
    return Located(chosen.parent, note)


def _walk_files(base: Path, max_depth: int):
    """(depth, file) of the regular files at most max_depth below base (depth 1 = in base)."""
    folders = [(0, base), *_walk_folders(base, max_depth - 1)]
    for depth, folder in folders:
        try:
            children = sorted(folder.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_file() and not child.is_symlink():
                yield depth + 1, child


def not_found_message(base: Path) -> str:
    """What was expected, what was found, and the likely fix."""
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in base.iterdir())
    except OSError:
        names = []
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "nothing"
    text = (
        "No needle/ package found in your submission. Expected a folder named needle/ holding "
        "__init__.py (your library, from hw/needle), at the top of the upload or at most "
        f"{MAX_DEPTH - 1} folders down (e.g. hw/needle/), with apps/ next to it. "
        f"Your upload holds: {shown}."
    )
    if (base / "autograd.py").is_file() or (base / "__init__.py").is_file():
        text += " It looks like the files inside needle/: upload the needle/ folder itself."
    return text


def split_points(result: RunResult, share: float) -> RunResult:
    """The same results with every problem worth `share` of its points."""
    problems = tuple(
        dataclasses.replace(problem, max_score=round(problem.max_score * share, 2))
        for problem in result.problems
    )
    return dataclasses.replace(result, problems=problems)


def grade_both(submission: Path, seed: int, answers: Path, jobs: int):
    """(public RunResult, hidden RunResult): every case's probe runs in one pool of `jobs`."""
    submission = Path(submission).resolve()
    modules = registry.load_all()
    broken = judge.syntax_errors(submission)
    public_cases = [judge.make_case(m, judge.PUBLIC_SEED) for m in modules]
    hidden_cases = [judge.make_case(m, seed) for m in modules]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [
            pool.submit(judge.run_case, case, submission, broken)
            for case in public_cases + hidden_cases
        ]
        outcomes = [future.result() for future in futures]
    public_results, hidden_results = [], []
    for index, case in enumerate(public_cases + hidden_cases):
        is_public = index < len(modules)
        if is_public:
            reference, why = references.public_outputs(case)
        else:
            reference, why = references.public_outputs(case, answers)
            if reference is None:
                why = f"grader error: no hidden reference for {case.problem.id}"
        problem = judge.judge_problem(case, outcomes[index], reference, is_public, why)
        (public_results if is_public else hidden_results).append(problem)
    public = RunResult(str(submission), tuple(public_results), hidden=False)
    hidden = RunResult(str(submission), tuple(hidden_results), hidden=True, seed=seed)
    return public, hidden


def gradescope_results(public: RunResult, hidden: RunResult, note: str) -> dict:
    """results.json: per problem a public test (visible) and a hidden one (after the due date)."""
    public_tests = report.gradescope(public)["tests"]
    hidden_tests = report.gradescope(hidden)["tests"]
    tests = []
    for problem, public_test, hidden_test in zip(
        public.problems, public_tests, hidden_tests, strict=True
    ):
        for test, kind, visibility in (
            (public_test, "public", PUBLIC_VISIBILITY),
            (hidden_test, "hidden", HIDDEN_VISIBILITY),
        ):
            test = {**test, "name": f"{problem.id} ({kind})", "visibility": visibility}
            test["number"] = str(len(tests) + 1)
            tests.append(test)
    output = (
        f"{note}\nPublic cases: {public.score:g}/{public.max_score:g} "
        f"(the same cases as `make grade`). Hidden cases: {hidden.max_score:g} more points, "
        "shown after the due date."
    )
    return {
        "score": round(public.score + hidden.score, 2),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def failure_results(message: str) -> dict:
    """results.json for a submission that could not be graded at all: score 0 and why."""
    total = sum(m.PROBLEM.points for m in registry.load_all())
    return {
        "score": 0,
        "output": message,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "submission",
                "score": 0,
                "max_score": total,
                "status": "failed",
                "output": message,
                "visibility": "visible",
            }
        ],
    }


def grade_container(root: Path, jobs: int) -> dict:
    """Grade root/submission with this bundle; the results.json payload."""
    source = Path(__file__).resolve().parent.parent
    manifest = json.loads((source / MANIFEST).read_text())
    answers = source / ANSWERS_FILE
    seed = int(references.load(answers)[SEED_KEY])
    with tempfile.TemporaryDirectory(prefix="needlework-submission-") as scratch:
        try:
            located = find_submission(root / "submission", Path(scratch))
        except SubmissionNotFound as error:
            return failure_results(str(error))
        public, hidden = grade_both(located.folder, seed, answers, jobs)
    share = float(manifest["hidden_share"])
    public, hidden = split_points(public, 1 - share), split_points(hidden, share)
    return gradescope_results(public, hidden, located.note)


def write_results(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2))
    temporary.replace(path)


def default_jobs() -> int:
    """Probe processes in parallel: the CPUs this process may use, at least 2 (the time limits are
    wall-clock, so a hanging probe occupies a slot without using a CPU), at most MAX_JOBS (a
    container may see all of its host's CPUs but not have their memory)."""
    if hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))
    else:  # macOS, when an instructor tries the bundle locally
        cpus = os.cpu_count() or 1
    return min(MAX_JOBS, max(2, cpus))


def container_main() -> int:
    """run_autograder's Python side: always writes results.json, whatever goes wrong."""
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    jobs = int(os.environ.get("AUTOGRADER_JOBS", "0") or 0) or default_jobs()
    started = time.monotonic()
    try:
        payload = grade_container(root, jobs)
    except Exception as error:  # any grader-side failure still gives the student a result
        traceback.print_exc()  # to Gradescope's stdout log, which only staff see
        payload = failure_results(
            f"The autograder failed while grading ({type(error).__name__}: {error}). "
            "This is not a judgement of your code; please tell the course staff."
        )
    payload["execution_time"] = round(time.monotonic() - started)
    write_results(root / "results" / "results.json", payload)
    print(f"autograder: score {payload['score']}, {payload['execution_time']} s")
    return 0
