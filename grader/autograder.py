"""`python -m grader autograder`: build the Gradescope autograder bundle (instructor side).

The bundle (default dist/autograder.zip; Gradescope unpacks it into /autograder/source):

    setup.sh            run once by Gradescope, as root, when it builds the image: a virtual
                        environment /autograder/venv (Python >= 3.11) with requirements.txt
    run_autograder      run for every submission: grades /autograder/submission, writes
                        /autograder/results/results.json (Gradescope copies it to /autograder/)
    requirements.txt    numpy, scipy, numdifftools, pinned as in the repository's requirements.txt
    README.md           this layout and the trust model, for whoever uploads the bundle
    bundle.json         how the bundle was built: commit, problems and points, hidden share
    grader/             the grader as the student release ships it (release.GRADER_FILES, without
                        instructor-only files), plus the runtime half: grader.gradescope (grading
                        in the container) and grader.upload (finding needle/ in an upload)
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

Where the student's code is: grader.upload.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import REPO_ROOT, references
from grader import problems as registry
from grader.cases import PUBLIC_SEED, fresh_seed, make_cases
from grader.gradescope import ANSWERS_DIR, ANSWERS_FILE, MANIFEST, SEED_KEY

TEMPLATE = Path(__file__).resolve().parent / "autograder_template"
DEFAULT_OUT = REPO_ROOT / "dist" / "autograder.zip"
EXECUTABLES = ("setup.sh", "run_autograder")
# The runtime half, shipped in the bundle beside the student release's grader files.
RUNTIME_FILES = ("gradescope.py", "upload.py")
HIDDEN_SHARE = 0.5



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
    """Run solutions/ on every public and every hidden case, in one pool.

    Returns (public arrays, hidden arrays), each in the layout `references.public_outputs` reads.
    """
    public_cases, hidden_cases = make_cases(PUBLIC_SEED), make_cases(seed)
    cases = public_cases + hidden_cases
    results = references.compute_cases(cases, root / "solutions", jobs)
    failures = [why for outputs, why in results if outputs is None]
    if failures:
        raise BundleError("\n".join(failures))
    outputs = [found for found, _ in results]
    count = len(public_cases)
    public = references.as_arrays(public_cases, outputs[:count])
    hidden = references.as_arrays(hidden_cases, outputs[count:])
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

    excluded = release.copy_grader(root, folder, release.GRADER_FILES + RUNTIME_FILES)
    release.check_imports(folder, root)
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
        seed = fresh_seed()
    try:
        release.check_skeleton(root)
    except release.ReleaseError as error:
        raise BundleError(str(error)) from error
    public, hidden = compute_references(root, seed, jobs)
    stale = references.stale_reason(public, root / "grader" / "references" / "public.npz")
    if stale:
        raise BundleError(stale)
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
