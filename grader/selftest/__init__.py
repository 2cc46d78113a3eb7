"""`python -m grader selftest`: how strong is the grading of each problem?

Grades `solutions/` once per planted mistake and once per correct alternative (the patches of
`grader/selftest/data/`, see `grader.selftest.patches`), each applied alone to a fresh copy, and
reports per problem:
- mistakes caught / planted: a mistake is caught when its own problem loses points; it is right
  when exactly the problems it declares lose points (its own and `also_costs`), no more, no fewer;
- the score each mistake leaves on its own problem (a mistake costing 0.4 of 8 points is weakly
  caught, and shows);
- alternatives kept / written: an alternative is kept when every problem keeps full marks.
Two canaries come with it: the skeleton (`solutions/` stripped as `make hw` strips it) must score 0
and `solutions/` full marks; and a release is built in a temporary folder, whose leak scan must be
clean. The exit status is 1 when anything is off (a miss, a false rejection, other problems
losing points than declared, a canary, a leak), so the self-test can run in CI.

Each graded copy is one job of a thread pool (`--jobs`), whose problems are graded one at a time:
the same isolated probes as `make grade`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader import REPO_ROOT, pipeline
from grader import problems as registry
from grader.assign import strip_tree, write_tree
from grader.selftest.patches import Patch, PatchError, apply, load

PACKAGES = ("needle", "apps")


@dataclass
class Outcome:
    """What grading one copy gave: every graded problem's score, or why there is none."""

    name: str  # a patch id, "skeleton" or "solutions"
    scores: dict[str, float] = field(default_factory=dict)
    error: str = ""
    patch: Patch | None = None

    def lost(self, full: dict[str, float]) -> set[str]:
        return {pid for pid, score in self.scores.items() if score < full[pid]}

    def verdict(self, full: dict[str, float]) -> str:
        """Patches: caught | missed | costs differ | kept | rejected | error.
        Canaries: ok | off."""
        if self.error:
            return "error"
        lost = self.lost(full)
        if self.patch is None:  # solutions lose nothing; the skeleton scores 0 everywhere
            if self.name == "solutions":
                return "ok" if not lost else "off"
            return "ok" if all(score == 0 for score in self.scores.values()) else "off"
        if self.patch.kind == "alternative":
            return "kept" if not lost else "rejected"
        if self.patch.problem not in lost:
            return "missed"
        return "caught" if lost == set(self.patch.costs) else "costs differ"


def full_marks(problem_ids=None) -> dict[str, float]:
    return {
        module.PROBLEM.id: float(module.PROBLEM.points) for module in registry.load_all(problem_ids)
    }


def copy_solutions(dest: Path, solutions: Path | None = None) -> Path:
    """A copy of solutions/needle and solutions/apps in `dest`."""
    solutions = Path(solutions or REPO_ROOT / "solutions")
    for package in PACKAGES:
        if (solutions / package).is_dir():
            shutil.copytree(
                solutions / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
            )
    return dest


def grade_folder(name: str, folder: Path, problem_ids=None, patch: Patch | None = None) -> Outcome:
    try:
        result = pipeline.grade(folder, problem_ids, jobs=1)
    except Exception as error:  # the grader itself failed: say so, keep the other runs
        return Outcome(name, error=f"grading failed: {type(error).__name__}: {error}", patch=patch)
    return Outcome(name, {p.id: p.score for p in result.problems}, patch=patch)


def grade_patch(patch: Patch, workdir: Path, problem_ids=None) -> Outcome:
    """Grade solutions/ with `patch` applied (every problem unless `problem_ids`)."""
    root = copy_solutions(Path(tempfile.mkdtemp(prefix=f"{patch.id}-", dir=workdir)))
    try:
        apply(patch, root)
    except PatchError as error:
        return Outcome(patch.id, error=f"does not apply: {error}", patch=patch)
    return grade_folder(patch.id, root, problem_ids, patch)


def leak_scan(workdir: Path, root: Path = REPO_ROOT) -> str:
    """What went wrong building a release of the kit at `root` ("" when it builds with a clean
    leak scan). Built by `python -m grader release` in its own process, in a temporary folder."""
    dist = Path(tempfile.mkdtemp(prefix="release-", dir=workdir))
    done = subprocess.run(
        [sys.executable, "-m", "grader", "release", "--root", str(root), "--dist", str(dist)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    if done.returncode == 0:
        return ""
    lines = (done.stdout + done.stderr).strip().splitlines()
    return "\n".join(lines[-12:]) or f"python -m grader release exited {done.returncode}"


@dataclass
class Report:
    problem_ids: list[str]
    full: dict[str, float]
    outcomes: list[Outcome]
    leaks: str
    seconds: float

    def patches_of(self, problem: str, kind: str) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if o.patch and o.patch.problem == problem and o.patch.kind == kind
        ]

    def canary(self, name: str) -> Outcome:
        return next(o for o in self.outcomes if o.name == name and o.patch is None)

    def failures(self) -> list[Outcome]:
        good = {"caught", "kept", "ok"}
        return [o for o in self.outcomes if o.verdict(self.full) not in good]

    @property
    def ok(self) -> bool:
        return not self.failures() and not self.leaks


def run_selftest(
    problem_ids: list[str] | None = None, jobs: int = 2, patches: list[Patch] | None = None
) -> Report:
    """Grade every patch of `problem_ids` (all problems when None) and the two canaries.

    A patch is graded on every problem, so that a mistake costing an undeclared problem shows;
    the canaries only on `problem_ids`."""
    start = time.monotonic()
    wanted = list(problem_ids or registry.PROBLEM_IDS)
    patches = [p for p in (load() if patches is None else patches) if p.problem in wanted]
    with tempfile.TemporaryDirectory(prefix="needlework-selftest-") as scratch:
        workdir = Path(scratch)
        skeleton = workdir / "skeleton"
        write_tree(strip_tree(REPO_ROOT / "solutions"), skeleton)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            leaks = pool.submit(leak_scan, workdir)
            runs = [
                pool.submit(grade_folder, "skeleton", skeleton, wanted),
                pool.submit(grade_folder, "solutions", REPO_ROOT / "solutions", wanted),
            ] + [pool.submit(grade_patch, patch, workdir) for patch in patches]
            outcomes = [run.result() for run in runs]
            leak_text = leaks.result()
    return Report(wanted, full_marks(), outcomes, leak_text, time.monotonic() - start)


# ---------------------------------------------------------------- what it prints


def _points(value: float) -> str:
    return f"{value:g}"


def _explain(outcome: Outcome, full: dict[str, float]) -> str:
    """One line saying what is off about `outcome`."""
    if outcome.error:
        return outcome.error
    lost = outcome.lost(full)
    costs = ", ".join(
        f"{pid} {_points(outcome.scores[pid])}/{_points(full[pid])}" for pid in sorted(lost)
    )
    if outcome.patch is None:
        if outcome.name == "solutions":
            return f"solutions/ lose points: {costs}"
        kept = sorted(pid for pid, score in outcome.scores.items() if score > 0)
        return f"the skeleton scores points on {', '.join(kept)}"
    patch = outcome.patch
    if patch.kind == "alternative":
        return f"correct code loses points: {costs}"
    if patch.problem not in lost:
        return f"{patch.problem} keeps full marks"
    extra = sorted(lost - patch.costs)
    spared = sorted(patch.costs - lost)
    parts = []
    if extra:
        parts.append(f"also costs {', '.join(extra)} (not declared in also_costs)")
    if spared:
        parts.append(f"does not cost {', '.join(spared)} (declared in also_costs)")
    return "; ".join(parts)


LABELS = {
    "missed": "MISSED",
    "costs differ": "COSTS DIFFER",
    "rejected": "REJECTED",
    "error": "ERROR",
    "off": "CANARY",
}


def text(report: Report) -> str:
    full = report.full
    lines = []
    width = max(len(pid) for pid in report.problem_ids)
    header = f"{'problem':<{width}}  points  mistakes caught  alternatives kept"
    lines += [header, "-" * len(header)]
    for pid in report.problem_ids:
        mistakes = report.patches_of(pid, "mistake")
        alternatives = report.patches_of(pid, "alternative")
        caught = sum(o.verdict(full) == "caught" for o in mistakes)
        kept = sum(o.verdict(full) == "kept" for o in alternatives)
        lines.append(
            f"{pid:<{width}}  {_points(full[pid]):>6}  {f'{caught}/{len(mistakes)}':^15}  "
            f"{f'{kept}/{len(alternatives)}':^17}".rstrip()
        )
        name_width = max((len(o.name) for o in mistakes + alternatives), default=0)
        for o in mistakes + alternatives:
            left = (
                f"leaves {_points(o.scores[pid])}/{_points(full[pid])}" if pid in o.scores else ""
            )
            lines.append(f"    {o.verdict(full):<12}  {o.name:<{name_width}}  {left}".rstrip())
    skeleton, solutions = report.canary("skeleton"), report.canary("solutions")
    total = sum(full[pid] for pid in report.problem_ids)
    lines.append("")
    lines.append(
        f"canaries: skeleton {_points(sum(skeleton.scores.values()))}/{_points(total)} "
        f"({skeleton.verdict(full)}), solutions {_points(sum(solutions.scores.values()))}/"
        f"{_points(total)} ({solutions.verdict(full)}); release leak scan: "
        + ("clean" if not report.leaks else "FAILED")
    )
    failures = report.failures()
    for o in failures:
        says = f": {o.patch.says}" if o.patch else ""
        where = f" ({o.patch.source})" if o.patch else ""
        lines.append(f"{LABELS[o.verdict(full)]} {o.name}{where}{says}")
        lines.append(f"    {_explain(o, full)}")
    if report.leaks:
        lines.append("LEAK the release's leak scan failed:")
        lines += [f"    {line}" for line in report.leaks.splitlines()]
    patches = [o for o in report.outcomes if o.patch]
    verdict = "ok" if report.ok else f"{len(failures) + bool(report.leaks)} problem(s) found"
    lines.append(
        f"selftest: {len(patches)} patches and 2 canaries graded in {report.seconds:.0f} s: "
        f"{verdict}"
    )
    return "\n".join(lines)


def as_json(report: Report) -> dict:
    full = report.full

    def entry(o: Outcome) -> dict:
        patch = o.patch
        return {
            "id": o.name,
            "says": patch.says,
            "region": f"{patch.path}:{patch.qualname}",
            "verdict": o.verdict(full),
            "ok": o.verdict(full) in {"caught", "kept"},
            "score": o.scores.get(patch.problem),
            "max_score": full[patch.problem],
            "costs": sorted(patch.costs),
            "lost": sorted(o.lost(full)),
            "error": o.error,
        }

    return {
        "ok": report.ok,
        "seconds": round(report.seconds, 1),
        "problems": [
            {
                "id": pid,
                "points": full[pid],
                "mistakes": [entry(o) for o in report.patches_of(pid, "mistake")],
                "alternatives": [entry(o) for o in report.patches_of(pid, "alternative")],
            }
            for pid in report.problem_ids
        ],
        "canaries": {
            name: {
                "ok": report.canary(name).verdict(full) == "ok",
                "scores": report.canary(name).scores,
                "error": report.canary(name).error,
            }
            for name in ("skeleton", "solutions")
        },
        "leak_scan": {"ok": not report.leaks, "output": report.leaks},
    }


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--problem",
        nargs="+",
        action="extend",
        choices=registry.PROBLEM_IDS,
        metavar="ID",
        help="only the patches of these problems (each still graded on every problem)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="copies graded in parallel")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    if not (REPO_ROOT / "solutions" / "needle").is_dir():
        print("selftest: needs solutions/ (instructors only)", file=sys.stderr)
        return 2
    try:
        report = run_selftest(args.problem, args.jobs)
    except PatchError as error:
        print(f"selftest: {error}", file=sys.stderr)
        return 2
    print(json.dumps(as_json(report), indent=2) if args.json else text(report))
    return 0 if report.ok else 1
