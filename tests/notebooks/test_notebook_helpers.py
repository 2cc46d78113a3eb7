"""The notebooks' helpers in grader/notebook.py, called directly (no kernel)."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from grader import notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_the_kit(monkeypatch):
    """The kit root as the current folder and no needle imported yet: the library is hw/."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NEEDLEWORK_SOLUTIONS", raising=False)
    monkeypatch.delitem(sys.modules, "needle", raising=False)


def test_demonstration_names_the_stub_it_met_in_one_line(in_the_kit, capsys):
    """Does a stub's NotImplementedError become one line naming it under hw/, with no error?"""
    with notebook.demonstration():
        print("before")
        raise NotImplementedError("LogSumExp.compute in needle/ops/ops_logarithmic.py")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "before"
    assert printed[1].startswith(
        "Not implemented yet: LogSumExp.compute in hw/needle/ops/ops_logarithmic.py. "
    )
    assert len(printed) == 2


def a_students_own_stub():
    raise NotImplementedError  # no message: the student's own placeholder


def test_demonstration_names_the_function_of_a_bare_not_implemented_error(in_the_kit, capsys):
    """Without a stub's message, is the function that raised named with its file and line?"""
    with notebook.demonstration():
        a_students_own_stub()
    line = capsys.readouterr().out.strip()
    assert line.startswith("Not implemented yet: a_students_own_stub (tests/notebooks/"), line
    assert "test_notebook_helpers.py:" in line


def test_demonstration_lets_every_other_error_through(in_the_kit):
    """Is a real bug (here a ValueError) still raised, so the student sees its traceback?"""
    with pytest.raises(ValueError, match="a real bug"), notebook.demonstration():
        raise ValueError("a real bug")


def test_demonstration_repeats_the_import_failure_of_needle(in_the_kit, capsys):
    """Does a demonstration using the placeholder of a needle that did not import say so?"""
    placeholder = notebook.NeedleNotImported("fix hw/needle/optim.py:3 first (SyntaxError)")
    with notebook.demonstration():
        placeholder.Tensor([1.0])
    line = capsys.readouterr().out.strip()
    assert line.startswith("needle could not be imported: fix hw/needle/optim.py:3 first"), line
    assert "then re-run the set-up cell" in line


def test_demonstration_closes_the_figures_it_opened_before_stopping(in_the_kit, capsys):
    """Is a half-drawn figure closed (no empty plot shown), and an older one kept?"""
    older = plt.figure()
    with notebook.demonstration():
        plt.subplots()
        raise NotImplementedError("ReLU.compute in needle/ops/ops_mathematic.py")
    assert plt.get_fignums() == [older.number]
    plt.close(older)


def test_start_autoreload_outside_ipython_does_nothing():
    """Can the set-up cell's helper be called from plain Python (a script) without an error?"""
    assert notebook.start_autoreload() is None
