"""Hidden mode: a fresh seed per run unless one is given, and no hidden expected value in any
output the student could see (terminal, JSON, Gradescope)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from grader import REPO_ROOT, cases, hidden
from grader import problems as registry

pytestmark = pytest.mark.slow

# Planted mistakes, one per problem, each failing value checks in hidden mode.
PLANTED = {
    "needle/optim.py": [("step_size = self.lr / (1 - self.beta1**self.t)", "step_size = self.lr")],
    "needle/nn/nn_basic.py": [
        (
            "var = (centered**2).sum(axes=(0,)) / batch_size",
            "var = (centered**2).sum(axes=(0,)) / (batch_size - 1)",
        ),
        ("return x * mask / (1 - self.p)", "return x * mask"),
    ],
    "needle/ops/ops_mathematic.py": [
        ("return out_grad / node.inputs[0]", "return power_scalar(node.inputs[0], -1)")
    ],
}
PROBLEMS = ["adam", "batchnorm", "dropout", "ops_backward"]
SEED = 424242
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+")


def leaked(text: str, secret: np.ndarray) -> list[str]:
    """Numbers in `text` printed with 5 or more significant digits that equal a secret value
    to the printed precision (shorter numbers, such as scores, match by chance)."""
    found = []
    for number in NUMBER.findall(text):
        mantissa, _, exponent = number.lstrip("+-").replace("E", "e").partition("e")
        if len(mantissa.replace(".", "").lstrip("0")) < 5:
            continue
        decimals = len(mantissa.partition(".")[2])
        half_unit = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
        if np.any(np.abs(secret - float(number)) <= half_unit):
            found.append(number)
    return found


def grade_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "grader", "grade", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def test_hidden_without_seed_draws_and_prints_a_fresh_one():
    solutions = str(REPO_ROOT / "solutions")
    runs = [grade_cli("--submission", solutions, "--hidden", "--problem", "init", "--json")]
    runs.append(grade_cli("--submission", solutions, "--hidden", "--problem", "init", "--json"))
    seeds = [int(re.search(r"seed (\d+)", run.stderr).group(1)) for run in runs]
    assert seeds[0] != seeds[1]
    again = grade_cli(
        "--submission", solutions, "--hidden", "--seed", str(seeds[0]), "--problem", "init"
    )
    assert "seed" not in again.stderr.split("warning")[0]  # nothing drawn when a seed is given
    assert f"seed {seeds[0]}" in again.stdout


def test_hidden_seed_gives_the_same_cases_every_time():
    module = registry.load("batchnorm")
    assert cases.make_case(module, SEED).digest == cases.make_case(module, SEED).digest
    assert cases.make_case(module, SEED).digest != cases.make_case(module, SEED + 1).digest


def test_no_hidden_expected_value_appears_in_any_output(solutions_copy, tmp_path):
    for rel, edits in PLANTED.items():
        path = solutions_copy / rel
        text = path.read_text()
        for old, new in edits:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        path.write_text(text)
    results = tmp_path / "results.json"
    common = ["--submission", str(solutions_copy), "--hidden", "--seed", str(SEED)]
    shown = grade_cli(*common, "--problem", *PROBLEMS, "--json", "--gradescope", str(results))
    terminal = grade_cli(*common, "--problem", *PROBLEMS)
    report = json.loads(shown.stdout)
    failed = [c["message"] for p in report["problems"] for c in p["checks"] if not c["passed"]]
    assert {p["id"] for p in report["problems"] if p["score"] < p["max_score"]} == set(PROBLEMS)
    assert failed and all(message for message in failed)
    everything = "\n".join([shown.stdout, results.read_text(), terminal.stdout])
    # No error magnitudes at all: the student's value plus the error gives the expected one.
    assert "values differ from the reference" in everything
    assert "max abs error" not in everything and "relative" not in everything

    secrets = []
    for problem_id in PROBLEMS:
        case = cases.make_case(registry.load(problem_id), SEED)
        outputs, why = hidden.reference_outputs(case)
        assert outputs is not None, why
        for array in outputs.values():
            values = np.asarray(array, np.float64).reshape(-1)
            secrets.append(values[np.isfinite(values) & (values != np.round(values))])
    secret = np.concatenate(secrets)
    assert secret.size > 100
    assert leaked(everything, secret) == []
    assert leaked(f"expected {secret[7]:.6g}", secret), "the detector itself must work"
