"""The grader's layout: modules import each other in one direction only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader import REPO_ROOT

GRADER = REPO_ROOT / "grader"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def grader_imports(path: Path, known: set[str]) -> set[str]:
    """The grader modules `path` imports, at any depth (inside functions too)."""
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    )
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name in known)
    return found - {module_name(path)}


@pytest.mark.authoring
def test_grader_modules_import_each_other_without_a_cycle():
    """Can the grader's modules be ordered so that each imports only earlier ones?"""
    paths = {module_name(p): p for p in GRADER.rglob("*.py")}
    known = set(paths)
    graph = {name: grader_imports(path, known) - {"grader"} for name, path in paths.items()}
    done: set[str] = set()
    for _ in range(len(graph)):
        ready = {name for name, needs in graph.items() if name not in done and needs <= done}
        if not ready:
            break
        done |= ready
    stuck = {name: sorted(graph[name] - done) for name in sorted(set(graph) - done)}
    assert not stuck, f"import cycle among: {stuck}"
