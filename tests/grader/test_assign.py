"""The stripper: solutions/ -> hw/ (grader/assign.py).

Golden cases run on the small tree in fixtures_assign/ (solutions/ and the hand-checked
expected_hw/); the same properties are then checked on the real solutions/ and the committed hw/.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader import assign
from grader.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures_assign"
PROBE = Path(__file__).resolve().parent / "skeleton_probe.py"


def read_tree(root: Path) -> dict[str, bytes]:
    return {rel: path.read_bytes() for rel, path in assign._walk(root)}


def write_source(root: Path, text: str, rel: str = "needle/mod.py") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------- golden cases


def test_fixture_skeleton_matches_the_hand_checked_golden():
    """Does stripping the fixture solutions give exactly the golden skeleton, file for file?"""
    assert assign.strip_tree(FIXTURES / "solutions") == read_tree(FIXTURES / "expected_hw")


def test_regions_carry_path_marker_lines_qualname_and_body():
    """Are regions reported with their file, marker lines, enclosing name and body?"""
    regions = assign.find_regions(FIXTURES / "solutions")
    summary = [(r.path, r.begin, r.end, r.qualname) for r in regions]
    assert summary == [
        ("needle/ops/ops_math.py", 13, 15, "Scale.compute"),
        ("needle/ops/ops_math.py", 23, 27, "Scale.gradient"),
        ("needle/ops/ops_math.py", 32, 34, "scale"),
        ("needle/ops/ops_math.py", 39, 41, "total.add_all"),
    ]
    assert regions[1].lines == ("        grad = c * g", "", "        return grad")


def test_stub_names_the_function_and_the_file_at_the_marker_indentation():
    """Is each body replaced by one raise line naming Class.method and file, indented like BEGIN?"""
    text = (FIXTURES / "expected_hw/needle/ops/ops_math.py").read_text().splitlines()
    for region in assign.find_regions(FIXTURES / "expected_hw"):
        begin = text[region.begin - 1]
        indent = begin[: len(begin) - len(begin.lstrip())]
        assert region.lines == (f'{indent}raise NotImplementedError("{region.stub}")',)
    assert 'raise NotImplementedError("Scale.compute in needle/ops/ops_math.py")' in "\n".join(text)


def test_files_without_regions_and_data_files_are_copied_unchanged():
    """Are region-free .py files and other files (even with marker-like text) byte-identical?"""
    stripped = assign.strip_tree(FIXTURES / "solutions")
    for rel in ("apps/given.py", "apps/__init__.py", "needle/notes.txt", "needle/__init__.py"):
        assert stripped[rel] == (FIXTURES / "solutions" / rel).read_bytes()


def test_line_endings_and_missing_final_newline_are_kept(tmp_path):
    """Are CRLF line endings kept, for the stub too, and is a file without final newline kept so?"""
    source = tmp_path / "src"
    body = "def f():\r\n    x = 1\r\n    ### BEGIN YOUR SOLUTION\r\n    return x\r\n"
    (source / "needle").mkdir(parents=True)
    (source / "needle/crlf.py").write_bytes(body.encode() + b"    ### END YOUR SOLUTION")
    stripped = assign.strip_tree(source)["needle/crlf.py"]
    assert stripped == (
        b"def f():\r\n    x = 1\r\n    ### BEGIN YOUR SOLUTION\r\n"
        b'    raise NotImplementedError("f in needle/crlf.py")\r\n    ### END YOUR SOLUTION'
    )


def test_caches_are_not_copied(tmp_path):
    """Are __pycache__ folders and .pyc files left out of the skeleton?"""
    source = tmp_path / "src"
    write_source(source, "x = 1\n")
    write_source(source, "junk", "needle/__pycache__/mod.cpython-311.pyc")
    write_source(source, "junk", "needle/stale.pyc")
    assert sorted(assign.strip_tree(source)) == ["needle/mod.py"]


# ---------------------------------------------------------------- errors

ERROR_CASES = {
    "nested": (
        "def f():\n    ### BEGIN YOUR SOLUTION\n    ### BEGIN YOUR SOLUTION\n"
        "    pass\n    ### END YOUR SOLUTION\n",
        "needle/mod.py:3: BEGIN inside the region opened at line 2",
    ),
    "unterminated": (
        "def f():\n    ### BEGIN YOUR SOLUTION\n    pass\n",
        "needle/mod.py:2: BEGIN without an END",
    ),
    "stray_end": (
        "def f():\n    pass\n    ### END YOUR SOLUTION\n",
        "needle/mod.py:3: END without",
    ),
    "end_indented_differently": (
        "def f():\n    ### BEGIN YOUR SOLUTION\n    pass\n        ### END YOUR SOLUTION\n",
        "needle/mod.py:4: END is indented differently",
    ),
    "begin_solution": ("def f():\n    ### BEGIN SOLUTION\n", "needle/mod.py:2: misspelled"),
    "end_solution": ("def f():\n    pass\n    ### END SOLUTION\n", "needle/mod.py:3: misspelled"),
    "plural": ("def f():\n    ### BEGIN YOUR SOLUTIONS\n", "needle/mod.py:2: misspelled"),
    "two_hashes": ("def f():\n    ## BEGIN YOUR SOLUTION\n", "needle/mod.py:2: misspelled"),
    "one_hash_end": ("x = 1\n# END YOUR SOLUTION\n", "needle/mod.py:2: misspelled"),
    "lower_case": ("def f():\n    ### begin your solution\n", "needle/mod.py:2: misspelled"),
    "title_case": ("def f():\n    ### End Your Solution\n", "needle/mod.py:2: misspelled"),
    "no_space": ("def f():\n    ###BEGIN YOUR SOLUTION\n", "needle/mod.py:2: misspelled"),
    "trailing_space": ("def f():\n    ### BEGIN YOUR SOLUTION \n", "needle/mod.py:2: misspelled"),
    "typo_in_solution": ("x = 1\n### END YOUR SOLUTON\n", "needle/mod.py:2: misspelled"),
    "typo_in_your": ("def f():\n    ### BEGIN YUOR SOLUTION\n", "needle/mod.py:2: misspelled"),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_malformed_markers_are_errors_naming_file_and_line(tmp_path, name):
    """Is every nested, unterminated, stray or misspelled marker reported with its file:line?"""
    text, expected = ERROR_CASES[name]
    write_source(tmp_path / "src", text)
    with pytest.raises(assign.MarkerError) as caught:
        assign.strip_tree(tmp_path / "src")
    assert any(problem.startswith(expected) for problem in caught.value.problems), caught.value


def test_every_malformed_marker_in_the_tree_is_reported_at_once(tmp_path):
    """Are the problems of several files all listed, not only the first?"""
    write_source(tmp_path / "src", "### END YOUR SOLUTION\n", "needle/a.py")
    write_source(tmp_path / "src", "### BEGIN SOLUTION\n", "needle/b.py")
    with pytest.raises(assign.MarkerError) as caught:
        assign.find_regions(tmp_path / "src")
    assert [p.split(":")[0] for p in caught.value.problems] == ["needle/a.py", "needle/b.py"]


def test_a_marker_error_writes_nothing(tmp_path, capsys):
    """Does an error leave the destination exactly as it was, with no temporary folder behind?"""
    source, dest = tmp_path / "src", tmp_path / "hw"
    write_source(source, "def f():\n    ### BEGIN YOUR SOLUTION\n    return 1\n")
    write_source(dest, "before\n", "needle/old.py")
    code = cli_main(["assign", "--source", str(source), "--dest", str(dest)])
    assert code == 2
    assert "needle/mod.py:2: BEGIN without an END" in capsys.readouterr().err
    assert read_tree(dest) == {"needle/old.py": b"before\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hw", "src"]


def test_writing_replaces_the_destination_and_leaves_no_temporary_folder(tmp_path):
    """Does a successful run make dest exactly the skeleton (stale files gone)?"""
    dest = tmp_path / "hw"
    write_source(dest, "stale\n", "needle/stale.py")
    assert cli_main(["assign", "--source", str(FIXTURES / "solutions"), "--dest", str(dest)]) == 0
    assert read_tree(dest) == read_tree(FIXTURES / "expected_hw")
    assert [p.name for p in tmp_path.iterdir()] == ["hw"]


def test_check_mode_lists_the_differing_files_and_fails(tmp_path, capsys):
    """Does --check exit non-zero and name each changed, missing or extra file, writing nothing?"""
    dest = tmp_path / "hw"
    args = ["assign", "--source", str(FIXTURES / "solutions"), "--dest", str(dest), "--check"]
    assert cli_main(args[:-1]) == 0
    assert cli_main(args) == 0
    (dest / "needle/ops/ops_math.py").write_text("edited by hand\n")
    (dest / "apps/given.py").unlink()
    write_source(dest, "extra\n", "needle/extra.py")
    capsys.readouterr()
    assert cli_main(args) == 1
    out = capsys.readouterr().out
    for rel in ("needle/ops/ops_math.py", "apps/given.py", "needle/extra.py"):
        assert str(dest / rel) in out
    assert "needle/ops/__init__.py" not in out
    assert (dest / "needle/extra.py").exists()


# ---------------------------------------------------------------- idempotence and round trip


@pytest.mark.parametrize("root", [FIXTURES, REPO], ids=["fixtures", "repo"])
def test_stripping_the_skeleton_again_changes_nothing(root):
    """Is the stripper idempotent: strip(strip(solutions)) == strip(solutions)?"""
    skeleton = root / ("expected_hw" if root == FIXTURES else "hw")
    assert assign.strip_tree(skeleton) == read_tree(skeleton)


@pytest.mark.parametrize("root", [FIXTURES, REPO], ids=["fixtures", "repo"])
def test_putting_the_solution_bodies_back_gives_the_solutions_byte_for_byte(root):
    """Does the round trip skeleton + solution bodies reproduce solutions/ exactly?"""
    skeleton = root / ("expected_hw" if root == FIXTURES else "hw")
    assert assign.restore_tree(skeleton, root / "solutions") == read_tree(root / "solutions")


# ---------------------------------------------------------------- the committed hw/


@pytest.mark.authoring
def test_committed_hw_is_what_the_stripper_makes_now():
    """Is hw/ up to date with solutions/? (If not: run `make hw` and commit hw/.)"""
    stale = assign.differences(assign.strip_tree(REPO / "solutions"), REPO / "hw")
    assert stale == [], f"hw/ is out of date in {stale}: run `make hw` and commit hw/"


@pytest.mark.authoring
def test_every_region_of_the_real_solutions_has_a_qualname():
    """Does every real region sit inside a def, so its stub names a function?"""
    regions = assign.find_regions(REPO / "solutions")
    assert regions, "solutions/ has no regions"
    assert [r for r in regions if not r.qualname] == []


def _first_statement_lines(source: str) -> dict[str, int]:
    """For every function (by dotted qualname), the line of its first non-docstring statement."""
    firsts: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    body = child.body
                    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                        body = body[1:] or body
                    firsts[name] = body[0].lineno
                visit(child, f"{name}.")

    visit(ast.parse(source), "")
    return firsts


# What a skeleton probe outcome means for the author of the region (tests/grader/skeleton_probe.py
# calls each function on an instance made with object.__new__, without __init__).
SKELETON_OUTCOMES = {
    "wrong-message": "a NotImplementedError with another message came first: given code before the "
    "region must reach it on an instance built without __init__ (whose missing attributes are "
    "truthy placeholders), or hand over to another region's stub; it may not raise a "
    "NotImplementedError of its own",
    "other": "given code before the region failed: a function whose body starts with its "
    "region must raise the region's NotImplementedError first",
    "returned": "the function returned without reaching its region's raise: given code before "
    "the region must not return early",
    "import-error": "the module does not import from the skeleton",
    "unreachable": "",
    "raised": "",
}


def skeleton_failures(skeleton: Path) -> tuple[list, list[dict], list[str]]:
    """Call every stub of `skeleton` in a subprocess (tests/grader/skeleton_probe.py): its regions,
    the probe's outcomes and the failures, each with what it means (SKELETON_OUTCOMES)."""
    regions = assign.find_regions(skeleton)
    payload = json.dumps(
        [{"path": r.path, "qualname": r.qualname, "stub": r.stub} for r in regions]
    )
    done = subprocess.run(
        [sys.executable, "-I", str(PROBE), str(skeleton)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=skeleton,
    )
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)
    sources = {r.path: (skeleton / r.path).read_text() for r in regions}
    stubs = {r.stub for r in regions}
    firsts = {path: _first_statement_lines(text) for path, text in sources.items()}
    failures = []
    for region, outcome in zip(regions, outcomes, strict=True):
        where = f"{region.path}:{region.begin} {region.qualname}: {outcome}"
        starts_with_region = firsts[region.path].get(region.qualname) == region.begin + 1
        allowed = {"raised", "unreachable"} | (set() if starts_with_region else {"other"})
        # Given code before a region may hand over to another function still to implement (a
        # dispatch such as `if self.nesterov is True: return self.nesterov_step()`): reaching
        # that other region's own stub is fine, on the placeholder instance it may be taken.
        dispatch = not starts_with_region and outcome["detail"] in stubs
        if outcome["outcome"] not in allowed and not (
            outcome["outcome"] == "wrong-message" and dispatch
        ):
            failures.append(f"{where}\n    {SKELETON_OUTCOMES[outcome['outcome']]}")
        indent = sources[region.path].splitlines()[region.begin - 1].split("#")[0]
        if region.lines != (f'{indent}raise NotImplementedError("{region.stub}")',):
            failures.append(f"{region.path}:{region.begin}: body is not the stub line")
    for rel, path in assign._walk(skeleton):
        if rel.endswith(".py"):
            compile(path.read_text(), str(path), "exec")
    return regions, outcomes, failures


@pytest.mark.authoring
@pytest.mark.parametrize("root", [FIXTURES, REPO], ids=["fixtures", "repo"])
def test_skeleton_imports_and_every_stub_raises_its_message(root):
    """Does `import needle` work from the skeleton, and does each stub raise its own message?

    Each region's function is called in a subprocess with placeholder arguments. A function whose
    body starts with its region must raise NotImplementedError with exactly the stub message; one
    with given code before the region may fail earlier on the placeholders, but must never raise a
    NotImplementedError with another message; nested functions are checked statically.
    """
    skeleton = root / ("expected_hw" if root == FIXTURES else "hw")
    regions, outcomes, failures = skeleton_failures(skeleton)
    assert not failures, "\n".join(failures)
    called = sum(outcome["outcome"] == "raised" for outcome in outcomes)
    assert called >= len(regions) // 2, f"only {called} of {len(regions)} stubs could be called"


DISPATCH = """class Optimizer:
    def __init__(self, nesterov=False):
        self.nesterov = nesterov

    def step(self):
        if getattr(self, "nesterov", False):
            return self.nesterov_step()
        ### BEGIN YOUR SOLUTION
        return 1
        ### END YOUR SOLUTION

    def nesterov_step(self):
        ### BEGIN YOUR SOLUTION
        return 2
        ### END YOUR SOLUTION

    def reset(self):
        if self.nesterov:
            raise NotImplementedError("reset is not ready")
        ### BEGIN YOUR SOLUTION
        return 3
        ### END YOUR SOLUTION
"""


def test_given_code_may_hand_over_to_another_stub_but_not_raise_its_own(tmp_path):
    """A dispatch to another region's function is fine; a NotImplementedError of the given code's
    own is a failure that says what given code before a region must do."""
    solutions = tmp_path / "solutions"
    (solutions / "needle").mkdir(parents=True)
    (solutions / "needle" / "__init__.py").write_text("from .optim import Optimizer\n")
    (solutions / "needle" / "optim.py").write_text(DISPATCH)
    skeleton = tmp_path / "hw"
    assign.write_tree(assign.strip_tree(solutions), skeleton)
    regions, outcomes, failures = skeleton_failures(skeleton)
    assert [o["outcome"] for o in outcomes] == ["wrong-message", "raised", "wrong-message"]
    assert len(failures) == 1 and "Optimizer.reset" in failures[0], failures
    assert "may not raise a NotImplementedError of its own" in failures[0]
