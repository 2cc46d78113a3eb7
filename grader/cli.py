"""`python -m grader COMMAND ...`: a thin dispatcher.

Each command lives in its own module, which provides `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their command runs: one command's import error never breaks another.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from grader import platforms

DESCRIPTION = "needlework: grade needle submissions, and build the course's skeleton and release."

COMMANDS = {
    "grade": ("grader.grade", "grade a submission (default: hw/) problem by problem"),
    "batch": ("grader.batch", "grade a folder of submissions in parallel, write a gradebook"),
    "report": ("grader.report_cmd", "make the class report again from a batch's saved results"),
    "references": ("grader.references", "regenerate the public reference outputs from solutions/"),
    "assign": ("grader.assign", "generate the skeleton hw/ from solutions/"),
    "release": ("grader.release", "build the student release in dist/"),
    "selftest": (
        "grader.selftest",
        "grade solutions/ with each planted mistake and correct alternative applied",
    ),
    "data": ("grader.digits", "write the offline digits data set in MNIST format"),
    "autograder": ("grader.autograder", "build the Gradescope autograder bundle"),
    "classroom": ("grader.classroom", "grade hw/ for GitHub Classroom (the release's workflow)"),
    "prairielearn": ("grader.prairielearn", "grade a PrairieLearn job in /grade: results.json"),
    "prairielearn-build": (
        "grader.prairielearn_build",
        "build the PrairieLearn course files (grader, hidden answers, question)",
    ),
}
# The commands that run probe processes: they need the POSIX facilities grader.platforms checks.
GRADING_COMMANDS = {
    "grade",
    "batch",
    "references",
    "selftest",
    "autograder",
    "classroom",
    "prairielearn",
    "prairielearn-build",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    known, rest = parser.parse_known_args(argv)
    module_name = COMMANDS[known.command][0]
    reason = platforms.unsupported() if known.command in GRADING_COMMANDS else None
    if reason:
        print(f"python -m grader {known.command}: {reason}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        print(f"python -m grader {known.command}: not available in the student release")
        return 2
    command_parser = argparse.ArgumentParser(prog=f"python -m grader {known.command}")
    module.add_arguments(command_parser)
    return int(module.run(command_parser.parse_args(rest)) or 0)
