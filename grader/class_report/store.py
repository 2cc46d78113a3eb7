"""A batch's RunResults saved as JSON, every field of every record, so that the report can be
made again later (`python -m grader report RESULTS --out DIR`) without grading again.

    {"format": "needlework batch results", "version": 1,
     "problems": [problem ids graded, in gradebook order],
     "results": [{"submission", "hidden", "seed", "notes": [...],
                  "problems": [{"id", "title", "max_score", "error", "seconds", "stubs": [...],
                                "prerequisites": [...], "hint",
                                "checks": [{"name", "passed", "message", "weight",
                                            "not_implemented", "kind", "group", "member"}]}]}]}

The file holds what the batch's records hold: folder paths (student names) and, for a hidden run,
its seed. Keep it where the gradebook is kept, not with a report meant to be shared.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from grader.results import CheckResult, ProblemResult, RunResult

FORMAT = "needlework batch results"
VERSION = 1


class ResultsFileError(ValueError):
    """A results file that cannot be read back: the message names the file and what is wrong."""


def results_path(gradebook: Path) -> Path:
    """Where `batch --report` saves the results: beside the gradebook (grades.csv ->
    grades.results.json)."""
    gradebook = Path(gradebook)
    return gradebook.with_name(gradebook.stem + ".results.json")


def _record(obj) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def to_dict(result: RunResult) -> dict[str, Any]:
    data = _record(result)
    data["notes"] = list(result.notes)
    data["problems"] = []
    for problem in result.problems:
        entry = _record(problem)
        entry["stubs"] = list(problem.stubs)
        entry["prerequisites"] = list(problem.prerequisites)
        entry["checks"] = [_record(check) for check in problem.checks]
        data["problems"].append(entry)
    return data


# The JSON types each annotation of the result records accepts.
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bool": (bool,),
    "float": (int, float),
    "int | None": (int, type(None)),
}


def _build(cls, data: Any, where: str, nested: dict[str, Any] | None = None):
    if not isinstance(data, dict):
        raise ValueError(f"{where} is a {type(data).__name__}, not an object")
    known = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)}")
    for name, value in data.items():
        allowed = _TYPES.get(str(known[name]))
        if allowed is None:
            continue  # the tuples: checked where they are built
        # JSON's true is a Python int too: a bool is accepted only where a bool is meant.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ValueError(f"{where}.{name} is {value!r}, not of type {known[name]}")
    values = {**data, **(nested or {})}
    try:
        return cls(**values)
    except TypeError as error:  # a required field missing
        raise ValueError(f"{where}: {error}") from None


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ValueError(f"{where} is a {type(value).__name__}, not a list")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{where} is not a list of strings")
    return tuple(value)


def from_dict(data: Any, where: str = "result") -> RunResult:
    if not isinstance(data, dict):
        raise ValueError(f"{where} is a {type(data).__name__}, not an object")
    problems = []
    for p, problem in enumerate(_list(data.get("problems", []), f"{where}.problems")):
        here = f"{where}.problems[{p}]"
        if not isinstance(problem, dict):
            raise ValueError(f"{here} is a {type(problem).__name__}, not an object")
        checks = tuple(
            _build(CheckResult, check, f"{here}.checks[{c}]")
            for c, check in enumerate(_list(problem.get("checks", []), f"{here}.checks"))
        )
        lists = {
            name: _strings(problem.get(name, []), f"{here}.{name}")
            for name in ("stubs", "prerequisites")
        }
        problems.append(_build(ProblemResult, problem, here, {"checks": checks, **lists}))
    notes = _strings(data.get("notes", []), f"{where}.notes")
    return _build(RunResult, data, where, {"problems": tuple(problems), "notes": notes})


def save(results: list[RunResult], problem_ids: list[str], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "problems": list(problem_ids),
        "results": [to_dict(result) for result in results],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def load(path: Path) -> tuple[list[RunResult], list[str]]:
    """(the RunResults, the problem ids graded) saved in `path`."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsFileError(f"{path}: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ResultsFileError(
            f'{path}: not a batch results file (no "format": "{FORMAT}"; '
            "`batch --report DIR` writes one beside the gradebook)"
        )
    if document.get("version") != VERSION:
        raise ResultsFileError(
            f"{path}: results format version {document.get('version')!r}, this grader reads "
            f"version {VERSION}"
        )
    problem_ids = document.get("problems")
    results = document.get("results")
    if not isinstance(problem_ids, list) or not all(isinstance(p, str) for p in problem_ids):
        raise ResultsFileError(f'{path}: "problems" is not a list of problem ids')
    if not isinstance(results, list):
        raise ResultsFileError(f'{path}: "results" is not a list')
    try:
        loaded = [from_dict(entry, f"results[{i}]") for i, entry in enumerate(results)]
    except ValueError as error:
        raise ResultsFileError(f"{path}: {error}") from None
    return loaded, problem_ids
