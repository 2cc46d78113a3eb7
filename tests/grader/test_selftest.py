"""The self-test (`python -m grader selftest`, grader/selftest/): its patch data, the region-scoped
edits, the verdicts it gives, and that it names what an instructor broke."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader import REPO_ROOT, selftest
from grader import problems as registry
from grader.problems import batchnorm
from grader.selftest import patches
from grader.selftest.patches import PatchError

OPTIM = (REPO_ROOT / "solutions" / "needle" / "optim.py").read_text()


def write_data(folder: Path, problem: str, entry: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{problem}.toml").write_text(entry)
    return folder


ENTRY = """
[[mistake]]
id = "sgd_without_one_minus_momentum"
says = "no (1 - momentum)"
region = "needle/optim.py:SGD.step"
old = "(1 - self.momentum) * g"
new = "g"
"""


@pytest.mark.authoring
def test_the_shipped_data_loads_and_covers_every_problem():
    loaded = patches.load()
    assert {patch.problem for patch in loaded if patch.kind == "mistake"} == set(
        registry.PROBLEM_IDS
    )
    assert all(patch.says and patch.source.endswith(f"{patch.problem}.toml") for patch in loaded)


def test_an_entry_loads_into_a_patch_owned_by_its_file(tmp_path):
    (patch,) = patches.load(write_data(tmp_path, "sgd", ENTRY))
    assert (patch.problem, patch.path, patch.qualname) == ("sgd", "needle/optim.py", "SGD.step")
    assert patch.costs == {"sgd"}


@pytest.mark.parametrize(
    "problem, change, words",
    [
        ("adam", lambda e: e, "belongs to sgd; move it to sgd.toml"),
        ("sgd", lambda e: e.replace("SGD.step", "SGD.nothing"), "no problem declares the region"),
        ("sgd", lambda e: e.replace('region = "needle/optim.py:', 'region = "'), "must read"),
        ("sgd", lambda e: e + 'also_costs = ["adam"]\n', "also_costs and why go together"),
        ("sgd", lambda e: e + 'also_costs = ["sgd"]\nwhy = "x"\n', "not another problem"),
        ("sgd", lambda e: e + 'olds = "x"\n', "unknown key(s) olds"),
        ("sgd", lambda e: e.replace('says = "no (1 - momentum)"\n', ""), "`says` must be"),
        ("sgd", lambda e: e + e, "patch ids used twice: sgd_without_one_minus_momentum"),
        ("sgd", lambda e: e.replace("[[mistake]]", "[[mistakes]]"), "only [[mistake]] and"),
    ],
)
def test_a_bad_entry_is_an_error_naming_the_file_and_the_entry(tmp_path, problem, change, words):
    folder = write_data(tmp_path, problem, change(ENTRY))
    with pytest.raises(PatchError) as raised:
        patches.load(folder)
    assert words in str(raised.value)
    if "twice" not in words:
        assert f"grader/selftest/data/{problem}.toml" in str(raised.value)


@pytest.mark.authoring
def test_an_anchor_needs_to_be_unique_only_in_its_region():
    """`for w in self.params:` is in SGD.step and in Adam.step: scoped to one, it is unique."""
    assert OPTIM.count("for w in self.params:") >= 2
    edited = patches.edit_region(OPTIM, "needle/optim.py", "SGD.step", "for w in self.params:", "X")
    assert edited.count("X") == 1
    sgd = edited.index("def step", edited.index("class SGD"))
    adam = edited.index("class Adam")
    assert sgd < edited.index("X") < adam


def test_an_anchor_outside_its_region_or_twice_in_it_is_an_error():
    with pytest.raises(PatchError, match="occurs 0 times in the region"):
        patches.edit_region(OPTIM, "needle/optim.py", "SGD.step", "self.t += 1", "")
    with pytest.raises(PatchError, match="occurs 2 times in the region"):
        patches.edit_region(OPTIM, "needle/optim.py", "Adam.step", "v_hat", "")
    with pytest.raises(PatchError, match="no solution region in SGD.__init__"):
        patches.edit_region(OPTIM, "needle/optim.py", "SGD.__init__", "lr", "")


def test_code_put_first_in_a_region_takes_its_indentation():
    edited = patches.insert_at_region_start(OPTIM, "needle/optim.py", "Adam.step", "x = 1\ny = 2")
    assert "### BEGIN YOUR SOLUTION\n        x = 1\n        y = 2\n        self.t += 1\n" in edited


FULL = selftest.full_marks()


def outcome(name, scores, patch=None, error=""):
    return selftest.Outcome(name, {**FULL, **scores}, error, patch)


def test_verdicts_of_mistakes_alternatives_and_canaries():
    mistake = patches.find("topo_sort_reversed")
    alternative = patches.find("relu_as_multiplication_by_a_mask")
    caught = {pid: 0.0 for pid in mistake.costs}
    assert outcome("m", caught, mistake).verdict(FULL) == "caught"
    assert outcome("m", {}, mistake).verdict(FULL) == "missed"
    assert outcome("m", {"autodiff": 1.0}, mistake).verdict(FULL) == "costs differ"
    assert outcome("m", {**caught, "init": 1.0}, mistake).verdict(FULL) == "costs differ"
    assert outcome("m", caught, mistake, error="boom").verdict(FULL) == "error"
    assert outcome("a", {}, alternative).verdict(FULL) == "kept"
    assert outcome("a", {"init": 0.5}, alternative).verdict(FULL) == "rejected"
    assert outcome("solutions", {}).verdict(FULL) == "ok"
    assert outcome("solutions", {"data": 1.0}).verdict(FULL) == "off"
    assert outcome("skeleton", {pid: 0.0 for pid in FULL}).verdict(FULL) == "ok"
    assert outcome("skeleton", {pid: 0.0 for pid in FULL} | {"init": 0.5}).verdict(FULL) == "off"


@pytest.mark.slow
def test_a_loosened_check_shows_as_the_mistake_it_no_longer_catches(monkeypatch):
    """An instructor drops BatchNorm's eval-mode check: the self-test names the mistake it was
    there for, says which problem keeps full marks, and fails; an honest patch list passes."""
    chosen = [
        patches.find("batchnorm_batch_statistics_in_eval"),
        patches.find("batchnorm_variance_as_mean_of_squares_minus_squared_mean"),
    ]
    report = selftest.run_selftest(["batchnorm"], patches=chosen)
    assert report.ok, selftest.text(report)
    loosened = [c for c in batchnorm.CHECKS if c.name != "eval mode uses the running statistics"]
    assert len(loosened) == len(batchnorm.CHECKS) - 1
    monkeypatch.setattr(batchnorm, "CHECKS", loosened)
    report = selftest.run_selftest(["batchnorm"], patches=chosen)
    text = selftest.text(report)
    assert not report.ok
    assert "MISSED batchnorm_batch_statistics_in_eval (grader/selftest/data/batchnorm.toml)" in text
    assert "BatchNorm1d uses batch statistics in eval mode too" in text
    assert "batchnorm keeps full marks" in text
    assert [o.name for o in report.failures()] == ["batchnorm_batch_statistics_in_eval"]


@pytest.mark.slow
def test_a_false_rejection_and_undeclared_costs_are_named():
    wrong = dataclasses.replace(
        patches.find("dropout_scales_the_mask_first"),
        id="dropout_rescales_twice",
        new="return x * (mask / (1 - self.p)) / (1 - self.p)",
    )
    undeclared = dataclasses.replace(patches.find("relu_forward_leaky"), also_costs=frozenset())
    report = selftest.run_selftest(["dropout", "ops_forward"], patches=[wrong, undeclared])
    text = selftest.text(report)
    assert not report.ok
    assert (
        "REJECTED dropout_rescales_twice" in text and "correct code loses points: dropout" in text
    )
    assert "COSTS DIFFER relu_forward_leaky" in text
    assert "also costs mlp_resnet, nn_basic (not declared in also_costs)" in text
    data = selftest.as_json(report)
    assert data["ok"] is False
    dropout = next(p for p in data["problems"] if p["id"] == "dropout")
    assert dropout["alternatives"][0]["verdict"] == "rejected"


@pytest.mark.slow
def test_the_command_prints_the_table_and_exits_zero_when_all_is_well():
    done = subprocess.run(
        [sys.executable, "-m", "grader", "selftest", "--problem", "softmax_loss", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] and data["leak_scan"]["ok"]
    assert data["canaries"]["skeleton"]["scores"] == {"softmax_loss": 0.0}
    (problem,) = data["problems"]
    assert [m["verdict"] for m in problem["mistakes"]] == ["caught"]
    points = registry.load("softmax_loss").PROBLEM.points
    assert problem["points"] == points and 0 <= problem["mistakes"][0]["score"] < points


@pytest.mark.slow
def test_the_leak_scan_fails_on_a_solution_line_in_a_shipped_file(tmp_path, kit):
    assert selftest.leak_scan(tmp_path, kit) == ""
    line = "z_max = array_api.max(Z, axis=self.axes, keepdims=True)"
    with open(kit / "grader" / "notebook.py", "a") as file:
        file.write(f"# {line}\n")
    found = selftest.leak_scan(tmp_path, kit)
    assert "LEAK" in found and "grader/notebook.py" in found, found
