"""Hostile and broken submissions: each loses exactly the problems it should, and the run completes.

Every test edits one file of a copy of solutions/ and grades a few problems: one the edit must cost,
and one it must not touch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grader import REPO_ROOT, pipeline, runner, sandbox
from grader.selftest import patches

FAST = 0.25  # time limits scaled down (5 s instead of 20 s) for the hanging submissions
OPTIM = "needle/optim.py"


def first_in(root, path, qualname, code):
    """Put `code` first in the solution region of `qualname` in `root/path`."""
    target = root / path
    target.write_text(patches.insert_at_region_start(target.read_text(), path, qualname, code))


def edit_in(root, path, qualname, old, new):
    """Replace `old` (once in the region of `qualname`) by `new` in `root/path`."""
    target = root / path
    target.write_text(patches.edit_region(target.read_text(), path, qualname, old, new))


def graded(root, problems, **kwargs):
    result = pipeline.grade(root, problems, **kwargs)
    return {problem.id: problem for problem in result.problems}


def prepend(path, code):
    path.write_text(code + path.read_text())


def test_hang_at_import_times_out_every_problem(solutions_copy):
    prepend(solutions_copy / "needle/optim.py", "while True:\n    pass\n")
    result = graded(solutions_copy, ["sgd", "ops_forward"], timeout_scale=FAST)
    for problem in result.values():
        assert problem.score == 0
        assert "did not finish within" in problem.error


@pytest.mark.parametrize(
    "code", ["while True:\n    pass\n", "import os\nos._exit(3)\n"], ids=["hangs", "dies"]
)
def test_failing_import_runs_one_probe_and_fails_every_problem_alike(solutions_copy, code):
    """Does a submission whose import hangs or dies cost one probe run, not one per problem?"""
    prepend(solutions_copy / "needle/__init__.py", code)
    problems = ["ops_forward", "sgd", "adam", "dropout"]
    result = graded(solutions_copy, problems, timeout_scale=FAST, jobs=1)
    ran = [problem.id for problem in result.values() if problem.seconds > 0]
    assert ran == ["ops_forward"], ran
    errors = {problem.error for problem in result.values()}
    assert len(errors) == 1 and all(problem.score == 0 for problem in result.values()), errors


def test_hang_in_one_method_costs_only_its_problem(solutions_copy):
    first_in(solutions_copy, OPTIM, "SGD.step", "while True:\n    pass")
    result = graded(solutions_copy, ["sgd", "adam"], timeout_scale=FAST)
    assert result["sgd"].score == 0 and "did not finish" in result["sgd"].error
    assert result["adam"].score == result["adam"].max_score


def test_hang_names_the_function_and_line_where_it_stopped(solutions_copy):
    """Does a timeout say where the student's code was looping when it was stopped?"""
    path = solutions_copy / "needle/nn/nn_basic.py"
    text = path.read_text()
    after = text[: text.index("class Dropout")].count("\n")
    first_in(solutions_copy, "needle/nn/nn_basic.py", "Dropout.forward", "while True:\n    pass")
    lines = path.read_text().splitlines()
    loop_line = next(n for n in range(after, len(lines)) if lines[n].strip() == "while True:") + 1
    error = graded(solutions_copy, ["dropout"], timeout_scale=FAST)["dropout"].error
    assert error.startswith("did not finish within 5 s: stopped in Dropout.forward ("), error
    # The loop's two lines: the probe is stopped on one or the other.
    assert any(f"(needle/nn/nn_basic.py:{n});" in error for n in (loop_line, loop_line + 1)), error
    assert error.endswith("is there a loop that never ends?"), error


def test_hang_at_import_names_the_file_and_line(solutions_copy):
    prepend(solutions_copy / "needle/optim.py", "import time\nwhile True:\n    time.sleep(0.01)\n")
    error = graded(solutions_copy, ["sgd"], timeout_scale=FAST)["sgd"].error
    assert "stopped while importing needle/optim.py (needle/optim.py:3)" in error, error


def test_crash_reports_exception_and_student_file_line(solutions_copy):
    path = solutions_copy / "needle/ops/ops_logarithmic.py"
    edit_in(
        solutions_copy,
        "needle/ops/ops_logarithmic.py",
        "LogSumExp.compute",
        "z_max = array_api.max(Z, axis=self.axes, keepdims=True)",
        'raise RuntimeError("boom")',
    )
    result = graded(solutions_copy, ["logsumexp", "ops_forward"])
    assert result["ops_forward"].score == result["ops_forward"].max_score
    failed = [check for check in result["logsumexp"].checks if not check.passed]
    assert failed and result["logsumexp"].score < result["logsumexp"].max_score
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "boom" in text)
    assert any(
        "RuntimeError: boom" in c.message and f"needle/ops/ops_logarithmic.py:{line}" in c.message
        for c in failed
    )
    assert not any("Traceback" in c.message for c in failed)


def test_exit_at_import_reports_nothing_and_scores_zero(solutions_copy):
    prepend(solutions_copy / "needle/data/data_transforms.py", "import os\nos._exit(0)\n")
    result = graded(solutions_copy, ["data", "adam"])
    for problem in result.values():
        assert problem.score == 0
        assert "without reporting" in problem.error


def test_exit_inside_a_method_costs_only_its_problem(solutions_copy):
    first_in(solutions_copy, OPTIM, "Adam.step", "import os; os._exit(0)")
    result = graded(solutions_copy, ["adam", "sgd"])
    assert result["adam"].score == 0 and result["adam"].error
    assert result["sgd"].score == result["sgd"].max_score


def test_fifty_gigabyte_allocation_fails_only_its_problem(solutions_copy):
    first_in(
        solutions_copy,
        OPTIM,
        "Adam.step",
        "import numpy; numpy.ones(50 * 2**30, dtype=numpy.uint8)",
    )
    result = graded(solutions_copy, ["adam", "sgd"])
    assert result["adam"].score == 0
    assert any("MemoryError" in check.message for check in result["adam"].checks)
    assert result["sgd"].score == result["sgd"].max_score


def adam_without_bias_correction(root):
    """Plant a mistake that costs adam points: the first moment's bias correction is dropped."""
    edit_in(
        root,
        OPTIM,
        "Adam.step",
        "step_size = self.lr / (1 - self.beta1**self.t)",
        "step_size = self.lr",
    )


def test_monkeypatched_numpy_comparisons_do_not_help(solutions_copy):
    prepend(
        solutions_copy / "needle/optim.py",
        "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.array_equal = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True\n",
    )
    adam_without_bias_correction(solutions_copy)
    result = graded(solutions_copy, ["adam"])
    assert result["adam"].score < result["adam"].max_score


def test_fake_score_lines_on_stdout_are_ignored(solutions_copy):
    fake = {"score": 100, "max_score": 100, "problems": []}
    prepend(
        solutions_copy / "needle/optim.py",
        f"print('Total: 100/100')\nprint({json.dumps(json.dumps(fake))})\n"
        "import sys\nprint('Score for adam: 7/7', file=sys.stderr)\n",
    )
    adam_without_bias_correction(solutions_copy)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            "--submission",
            str(solutions_copy),
            "--problem",
            "adam",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    report = json.loads(completed.stdout)
    assert report["score"] < 7
    assert "Total: 100/100" not in completed.stdout


@pytest.mark.parametrize(
    ("broken", "lose", "keep"),
    [
        ("needle/data/data_transforms.py", "data", ["ops_forward", "mlp_resnet"]),
        ("needle/nn/nn_basic.py", "nn_basic", ["init", "ops_forward"]),
    ],
)
def test_syntax_error_costs_only_the_problems_needing_that_file(solutions_copy, broken, lose, keep):
    path = solutions_copy / broken
    path.write_text(path.read_text() + "\ndef broken(:\n")
    result = graded(solutions_copy, [lose, *keep])
    assert result[lose].score == 0
    assert f"SyntaxError in {broken}:" in result[lose].error
    for problem_id in keep:
        assert result[problem_id].score == result[problem_id].max_score, result[problem_id]


def test_symlinked_package_is_not_followed(tmp_path):
    (tmp_path / "needle").symlink_to(REPO_ROOT / "solutions" / "needle")
    result = graded(tmp_path, ["ops_forward"])
    assert result["ops_forward"].score == 0


def hostile_sgd(root, code):
    """Make SGD.step run `code` first."""
    first_in(root, OPTIM, "SGD.step", code)


def sgd_messages(root):
    result = graded(root, ["sgd"])
    assert result["sgd"].score == 0, result["sgd"]
    return [check.message for check in result["sgd"].checks if not check.passed]


root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="privilege separation applies only when the grader runs as root"
)


@root_only
def test_probe_cannot_read_a_root_only_folder(solutions_copy, tmp_path):
    secret = tmp_path / "instructor"
    secret.mkdir(mode=0o700)
    (secret / "answers.txt").write_text("31337.25\n")
    assert (secret / "answers.txt").read_text() == "31337.25\n"  # root reads it
    hostile_sgd(
        solutions_copy,
        f"raise RuntimeError('leaked ' + open({str(secret / 'answers.txt')!r}).read())",
    )
    messages = sgd_messages(solutions_copy)
    assert messages and all("PermissionError" in message for message in messages), messages
    assert not any("31337" in message for message in messages)


@root_only
def test_probe_runs_unprivileged_and_cannot_list_its_scratch_folder(solutions_copy):
    hostile_sgd(
        solutions_copy,
        """
import os
try:
    os.listdir("..")
    listed = "listed"
except PermissionError:
    listed = "refused"
raise RuntimeError(f"uid {os.getuid()} gid {os.getgid()} groups {os.getgroups()} {listed}")
""",
    )
    (message, *_) = sgd_messages(solutions_copy)
    uid = int(message.split("uid ")[1].split()[0])
    assert uid in sandbox.parse_range(sandbox.DEFAULT_UIDS), message
    assert f"uid {uid} gid {uid} groups [] refused" in message, message


def test_fork_bomb_is_bounded_by_the_process_limit(solutions_copy):
    # At most 300 forks; each child sleeps and is killed with the probe's process group.
    hostile_sgd(
        solutions_copy,
        """
import os, time
forked = 0
while forked < 300:
    try:
        pid = os.fork()
    except OSError:
        raise RuntimeError(f"fork refused after {forked}")
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    forked += 1
raise RuntimeError(f"forked {forked}")
""",
    )
    (message, *_) = sgd_messages(solutions_copy)
    assert "fork refused after" in message, message
    forked = int(message.split("fork refused after ")[1].split()[0])
    # The limit is the probe user's processes at start plus `extra_processes`: probes of other
    # tests running at the same moment under the same user add a few.
    assert forked <= runner.DEFAULT_LIMITS["extra_processes"] + 32


def test_stack_dump_parsing_accepts_only_frames_of_the_submission(tmp_path):
    """Is the untrusted stderr read by pattern, keeping only needle/ and apps/ files?"""
    root = tmp_path / "submission"
    root.mkdir()
    inside = f"{root}/needle/nn/nn_basic.py"
    text = "\n".join(
        [
            "Thread 0x00007f00 (most recent call first):",  # an earlier, printed "dump"
            f'  File "{root}/needle/optim.py", line 9 in step',
            "",
            "Current thread 0x00007f01 (most recent call first):",
            f'  File "{root}/../../etc/passwd.py", line 1 in evil',
            f'  File "{root}/needle/../../x/needle/a.py", line 2 in evil',
            f'  File "{root}/secrets/b.py", line 3 in evil',
            f'  File "{inside}", line 4 in bad name',
            '  File "/usr/lib/python3/numpy/core.py", line 5 in dot',
            f'  File "{inside}", line 341 in forward',
            f'  File "{root}/apps/mlp_resnet.py", line 7 in epoch',
            '  File "/harness/grader/probe.py", line 8 in main',
        ]
    )
    assert runner.stopped_at(text, root) == ("needle/nn/nn_basic.py", 341, "forward")
    assert runner.stopped_at(text.replace("line 341", "line x"), root) == (
        "apps/mlp_resnet.py",
        7,
        "epoch",
    )
    assert runner.stopped_at("no dump at all\n" * 1000, root) is None
    assert runner.stopped_at(f'  File "{inside}", line 1 in f', root) is None  # no thread line
