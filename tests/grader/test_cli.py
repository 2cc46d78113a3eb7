"""The `python -m grader` dispatcher."""

import pytest

from grader import cli


def test_a_command_whose_module_is_not_shipped_says_so(monkeypatch, capsys):
    """Does a student running an instructor command get a sentence, not a traceback?"""
    monkeypatch.setitem(cli.COMMANDS, "release", ("grader.not_shipped_here", "instructors only"))
    assert cli.main(["release"]) == 2
    assert "not available in the student release" in capsys.readouterr().out


def test_a_missing_import_inside_a_shipped_command_is_not_hidden(monkeypatch, tmp_path):
    """Is an import error inside a command's own module still raised (a real bug, not a release)?"""
    (tmp_path / "broken_command.py").write_text("import a_module_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "release", ("broken_command", "broken"))
    with pytest.raises(ModuleNotFoundError, match="a_module_that_does_not_exist"):
        cli.main(["release"])


def test_help_of_a_command_lists_that_commands_own_options(capsys):
    """Does `python -m grader grade --help` show grade's options, not an empty usage line?"""
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    assert "--submission" in capsys.readouterr().out
