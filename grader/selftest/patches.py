"""The self-test's data: planted mistakes and correct alternatives, as small patches to solutions/.

One TOML file per problem in `grader/selftest/data/<problem id>.toml`, with entries

    [[mistake]]                      # or [[alternative]]
    id = "adam_eps_inside_sqrt"      # unique over all files
    says = "eps inside the square root: sqrt(v_hat + eps)"
    region = "needle/optim.py:Adam.step"
    old = "np.sqrt(v) / root + self.eps"
    new = "np.sqrt(v / root**2 + self.eps)"
    also_costs = ["..."]             # mistakes only, optional: other problems it must cost
    why = "..."                      # required with also_costs: which of their code runs the edit

A patch replaces `old` by `new` inside one solution region, named by its file and the qualname of
the function that holds it (the key `grader.problems` declares regions by): `old` must occur
exactly once in that region's body, and nowhere else need it be unique. The region must belong to
the problem of the file, so a mistake in `adam.toml` is a mistake in Adam's code.

A mistake must cost its own problem points, and exactly the problems of `also_costs` besides (a
problem whose probe runs the edited code and is affected by it); every other problem keeps full
marks. An alternative is correct code written another way: every problem keeps full marks.

This module is instructor-side: it is not in the student release or the Gradescope bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomllib

from grader import problems as registry
from grader.regions import scan

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("mistake", "alternative")
_KEYS = {"id", "says", "region", "old", "new", "also_costs", "why"}


class PatchError(ValueError):
    """A patch that cannot be read or applied; the message names the file and the entry."""


@dataclass(frozen=True)
class Patch:
    """One planted mistake or correct alternative (see the module docstring)."""

    id: str
    kind: str  # "mistake" or "alternative"
    problem: str  # the problem whose code it edits
    path: str  # relative to solutions/, e.g. "needle/optim.py"
    qualname: str  # the region's function, e.g. "Adam.step"
    old: str
    new: str
    says: str
    also_costs: frozenset[str] = frozenset()
    why: str = ""
    source: str = ""  # "grader/selftest/data/adam.toml"

    @property
    def costs(self) -> frozenset[str]:
        """The problems that must lose points: none for an alternative."""
        if self.kind == "alternative":
            return frozenset()
        return frozenset({self.problem}) | self.also_costs


def _owners() -> dict[tuple[str, str], str]:
    return {
        region: module.PROBLEM.id
        for module in registry.load_all()
        for region in module.PROBLEM.regions
    }


def _entry(problem: str, kind: str, entry: dict, source: str, owners) -> Patch:
    where = f"{source}: {kind} {entry.get('id', '(no id)')!r}"
    unknown = set(entry) - _KEYS
    if unknown:
        raise PatchError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("id", "says", "region", "old"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise PatchError(f"{where}: `{key}` must be a non-empty string")
    if not isinstance(entry.get("new"), str):
        raise PatchError(f"{where}: `new` must be a string (empty to delete `old`)")
    path, colon, qualname = entry["region"].partition(":")
    if not colon or not path.endswith(".py") or not qualname:
        raise PatchError(f"{where}: region must read 'path/to/file.py:Class.method'")
    owner = owners.get((path, qualname))
    if owner is None:
        raise PatchError(f"{where}: no problem declares the region {path}:{qualname}")
    if owner != problem:
        raise PatchError(f"{where}: {path}:{qualname} belongs to {owner}; move it to {owner}.toml")
    also = entry.get("also_costs", [])
    if kind == "alternative" and (also or "why" in entry):
        raise PatchError(f"{where}: an alternative costs nothing (no also_costs, no why)")
    if not isinstance(also, list) or not all(isinstance(pid, str) for pid in also):
        raise PatchError(f"{where}: also_costs must be a list of problem ids")
    strange = set(also) - set(registry.PROBLEM_IDS) | ({problem} & set(also))
    if strange:
        raise PatchError(
            f"{where}: also_costs names {', '.join(sorted(strange))}: not another problem"
        )
    if bool(also) != bool(entry.get("why")):
        raise PatchError(f"{where}: also_costs and why go together (why says what runs the edit)")
    return Patch(
        entry["id"],
        kind,
        problem,
        path,
        qualname,
        entry["old"],
        entry["new"],
        " ".join(entry["says"].split()),
        frozenset(also),
        " ".join(entry.get("why", "").split()),
        source,
    )


def load(data: Path = DATA) -> list[Patch]:
    """Every patch, problem by problem in the homework's order, mistakes before alternatives."""
    owners = _owners()
    found = {path.stem: path for path in sorted(Path(data).glob("*.toml"))}
    strangers = set(found) - set(registry.PROBLEM_IDS)
    if strangers:
        raise PatchError(f"{data}: {', '.join(sorted(strangers))}.toml name no problem")
    patches: list[Patch] = []
    for problem in registry.PROBLEM_IDS:
        if problem not in found:
            continue
        path = found[problem]
        source = f"grader/selftest/data/{path.name}"
        try:
            table = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise PatchError(f"{source}: {error}") from None
        if set(table) - set(KINDS):
            raise PatchError(f"{source}: only [[mistake]] and [[alternative]] entries belong here")
        for kind in KINDS:
            patches.extend(_entry(problem, kind, e, source, owners) for e in table.get(kind, []))
    ids = [patch.id for patch in patches]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise PatchError(f"patch ids used twice: {', '.join(twice)}")
    return patches


def find(patch_id: str, patches: list[Patch] | None = None) -> Patch:
    for patch in load() if patches is None else patches:
        if patch.id == patch_id:
            return patch
    raise KeyError(patch_id)


def region_span(text: str, path: str, qualname: str) -> list[tuple[int, int]]:
    """The character spans of the bodies of `qualname`'s regions in `text` (usually one)."""
    split = scan(path, text.encode())
    starts = [0]
    for line in split.lines:
        starts.append(starts[-1] + len(line.decode()))
    spans = [
        (starts[region.begin], starts[region.end - 1])
        for region in split.regions
        if region.qualname == qualname
    ]
    if not spans:
        raise PatchError(f"{path} has no solution region in {qualname}")
    return spans


def edit_region(text: str, path: str, qualname: str, old: str, new: str) -> str:
    """`text` with `old` replaced by `new` inside the region of `qualname`, where `old` must occur
    exactly once (PatchError otherwise, naming the region and the count)."""
    spans = region_span(text, path, qualname)
    hits = [(start, end) for start, end in spans if old in text[start:end]]
    count = sum(text[start:end].count(old) for start, end in spans)
    if count != 1:
        raise PatchError(
            f"{path}:{qualname}: the text to replace occurs {count} times in the region "
            f"(once is needed): {old!r}"
        )
    start, end = hits[0]
    return text[:start] + text[start:end].replace(old, new, 1) + text[end:]


def insert_at_region_start(text: str, path: str, qualname: str, code: str) -> str:
    """`text` with `code` (lines without indentation) put first in the region of `qualname`,
    indented like the region's first line."""
    start, end = region_span(text, path, qualname)[0]
    first = text[start:end].splitlines()[0]
    indent = first[: len(first) - len(first.lstrip())]
    body = "".join(f"{indent}{line}\n" if line else "\n" for line in code.strip().splitlines())
    return text[:start] + body + text[start:]


def apply(patch: Patch, root: Path) -> None:
    """Apply `patch` to the copy of solutions/ (holding needle/ and apps/) at `root`."""
    target = Path(root) / patch.path
    target.write_text(
        edit_region(target.read_text(), patch.path, patch.qualname, patch.old, patch.new)
    )
