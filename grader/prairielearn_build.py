"""`python -m grader prairielearn-build` (`make prairielearn`): what a PrairieLearn course needs
to grade needle submissions with this grader (instructor side; the runtime is grader.prairielearn).

    dist/prairielearn/
        README.md                      where each part goes, the image, externalGradingOptions
        serverFilesCourse/needlework/  run.sh (the entrypoint), grader/, bundle.json and
                                       answers/hidden.npz (root-only), i.e. the Gradescope
                                       bundle's runtime with PrairieLearn's entry point
        questions/needlework/          info.json (externalGradingOptions), question.html
        image/                         Dockerfile and requirements.txt of the grading image

It is built from the Gradescope bundle (grader.autograder.build), so the checks are the same: a
stale hw/ or stale public references stop it, the hidden references come from solutions/ for one
seed (`--seed`), and the leak scanner runs on the result (last, over everything written). With
`--public-only` there are no answers: PrairieLearn grades the public cases only, and the hidden
cases are left to `grader batch --hidden` or the Gradescope bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import string
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

from grader import REPO_ROOT, autograder, gradescope, leaks, release

TEMPLATE = Path(__file__).resolve().parent / "prairielearn_template"
DEFAULT_OUT = REPO_ROOT / "dist" / "prairielearn"
COURSE_FOLDER = "needlework"  # in serverFilesCourse/
ENTRYPOINT = f"/grade/serverFilesCourse/{COURSE_FOLDER}/run.sh"
DEFAULT_TIMEOUT = 300
MAX_TIMEOUT = 600  # PrairieLearn's limit
IMAGE_PLACEHOLDER = "YOUR-DOCKER-HUB-USER/needlework-grader"
# Gradescope's entry points and README: PrairieLearn has its own.
GRADESCOPE_ONLY = ("setup.sh", "run_autograder", "README.md")
HIDDEN_PARAGRAPH = """  <p>
    Each problem is graded twice: on the public cases of <code>make grade</code> and on hidden
    cases. Hidden cases never show expected values.
  </p>
"""


class BuildError(RuntimeError):
    """The course files cannot be built as asked; the message says what to fix."""


def grading_options(image: str, timeout: int) -> dict:
    """The question's externalGradingOptions (PrairieLearn's external grading docs)."""
    return {
        "enabled": True,
        "image": image,
        "serverFilesCourse": [f"{COURSE_FOLDER}/"],
        "entrypoint": ENTRYPOINT,
        "timeout": timeout,
        "enableNetworking": False,
    }


def question_info(image: str, timeout: int) -> dict:
    return {
        "uuid": str(uuid.uuid4()),
        "title": "needle: the homework library",
        "topic": "needlework",
        "tags": ["needlework"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": grading_options(image, timeout),
    }


def _unpack(zip_path: Path, dest: Path) -> None:
    """The bundle's files with the modes its zip stores (answers 0700/0600)."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)
        for info in archive.infolist():
            mode = stat.S_IMODE(info.external_attr >> 16)
            if mode:
                os.chmod(dest / info.filename, mode)


def _readme(commit: str, image: str, timeout: int, hidden: bool) -> str:
    options = json.dumps({"externalGradingOptions": grading_options(image, timeout)}, indent=2)
    if hidden:
        answers = "THE ANSWERS: the hidden seed and references, root-only in the container"
        tests = ' and "<problem> (hidden)", shown at once too (PrairieLearn has no later release)'
        trust = (
            "PrairieLearn runs `run.sh` as root. It makes `answers/` root-only (0700, the file "
            "0600) before anything else, since a course repository keeps no file modes; each "
            "problem then runs the student's code in its own process as the unprivileged user "
            "`nobody`, which can read neither the answers nor write `/grade/results/`. The "
            "answers are in your course repository: keep it private, as you keep `solutions/`. "
            "Hidden-case messages never show expected values; students do see their hidden "
            "points after each submission, so limit attempts (or build with `--public-only` and "
            "grade hidden cases with `make batch`) if that matters for the course."
        )
    else:
        answers = "(not built: --public-only; PrairieLearn grades the public cases only)"
        tests = ""
        trust = (
            "PrairieLearn runs `run.sh` as root; each problem runs the student's code in its own "
            "process as the unprivileged user `nobody`, which cannot write `/grade/results/`. "
            "There are no hidden answers in this build: grade hidden cases with "
            "`make batch` (`grader batch --hidden`) or the Gradescope bundle."
        )
    if image.startswith(IMAGE_PLACEHOLDER):
        image_line = (
            f"`{image}` is a placeholder: replace it by the name you pushed in step 1 (or build "
            "with `--image NAME`)."
        )
    else:
        image_line = f"`{image}`, built from `image/` (step 1)."
    text = (TEMPLATE / "README.md").read_text()
    return string.Template(text).substitute(
        commit=commit,
        answers_line=answers,
        options=options,
        image_line=image_line,
        timeout=timeout,
        hidden_tests=tests,
        trust=trust,
    )


def build(
    root: Path = REPO_ROOT,
    out: Path | None = None,
    seed: int | None = None,
    image: str | None = None,
    timeout: int = DEFAULT_TIMEOUT,
    public_only: bool = False,
    hidden_share: float = autograder.HIDDEN_SHARE,
    jobs: int = 2,
) -> tuple[Path, list]:
    """Build the course files of the repository at `root` into `out`; (out, leaks). On a leak
    `out` is deleted."""
    root = Path(root)
    out = Path(out) if out is not None else root / "dist" / "prairielearn"
    if not 0 < timeout <= MAX_TIMEOUT:
        raise BuildError(f"--timeout must be between 1 and {MAX_TIMEOUT} s, got {timeout}")
    with tempfile.TemporaryDirectory(prefix="needlework-prairielearn-") as scratch:
        try:
            bundle = autograder.build(root, Path(scratch) / "bundle.zip", seed, hidden_share, jobs)
        except autograder.BundleError as error:
            raise BuildError(str(error)) from error
        if bundle.leaks:
            return out, bundle.leaks
        if out.exists():
            shutil.rmtree(out)
        course = out / "serverFilesCourse" / COURSE_FOLDER
        course.parent.mkdir(parents=True)
        _unpack(bundle.zip_path, course)
    for name in GRADESCOPE_ONLY:
        (course / name).unlink()
    manifest = json.loads((course / gradescope.MANIFEST).read_text())
    if public_only:
        shutil.rmtree(course / gradescope.ANSWERS_DIR)
        (course / gradescope.MANIFEST).unlink()
    runtime = Path(__file__).with_name("prairielearn.py")
    shutil.copyfile(runtime, course / "grader" / runtime.name)
    shutil.copyfile(TEMPLATE / "run.sh", course / "run.sh")
    os.chmod(course / "run.sh", 0o755)
    try:
        release.check_imports(course, root)
    except release.ReleaseError as error:
        shutil.rmtree(out)
        raise BuildError(str(error)) from error

    commit = manifest.get("commit", "unknown")
    image = image or f"{IMAGE_PLACEHOLDER}:{commit}"
    question = out / "questions" / COURSE_FOLDER
    question.mkdir(parents=True)
    info = question_info(image, timeout)
    (question / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    html = (TEMPLATE / "question.html").read_text()
    if public_only:
        html = html.replace(HIDDEN_PARAGRAPH, "")
    (question / "question.html").write_text(html)
    (out / "image").mkdir()
    shutil.copyfile(TEMPLATE / "Dockerfile", out / "image" / "Dockerfile")
    shutil.copyfile(course / "requirements.txt", out / "image" / "requirements.txt")
    (out / "README.md").write_text(_readme(commit, image, timeout, not public_only))

    found = leaks.scan(root / "solutions", root / "hw", [out], out.parent)
    if found:
        shutil.rmtree(out)
    return out, found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write")
    parser.add_argument("--seed", type=int, help="seed of the hidden cases (default: random)")
    parser.add_argument("--image", help=f"the grading image (default: {IMAGE_PLACEHOLDER}:COMMIT)")
    parser.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT,
        help=f"externalGradingOptions.timeout in seconds (default {DEFAULT_TIMEOUT})",
    )
    parser.add_argument(
        "--public-only", action="store_true", help="no hidden answers: public cases only"
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the repository to build")
    parser.add_argument("--jobs", type=int, default=2, help="parallel reference processes")


def run(args: argparse.Namespace) -> int:
    from grader import assign

    try:
        out, found = build(
            args.root,
            args.out,
            args.seed,
            args.image,
            args.timeout,
            args.public_only,
            jobs=args.jobs,
        )
    except (BuildError, assign.MarkerError) as error:
        print(f"prairielearn-build: {error}", file=sys.stderr)
        return 2
    if found:
        for leak in found:
            print(f"LEAK {leak}", file=sys.stderr)
        print(f"prairielearn-build: {len(found)} solution line(s) found; nothing written")
        return 1
    kind = "public cases only" if args.public_only else "public and hidden cases"
    print(f"prairielearn-build: {out} ({kind}); see {out / 'README.md'}; leak scan clean")
    return 0
