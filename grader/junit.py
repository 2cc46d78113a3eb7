"""JUnit XML: the results of one run as the test report GitLab CI, Jenkins and GitHub's test
reporters read (`python -m grader grade --junit FILE`).

    <testsuites name="needlework" tests failures errors time>
      <testsuite name="<problem id>" tests failures errors skipped="0" time>  one per problem
        <properties> title, score, max_score, status </properties>
        <testcase classname="needlework.<problem id>" name="<check name>">  one per check
          <failure message="<the check's student-facing message>" type="check"/>  if it failed
        </testcase>
        <system-out> the problem's report, as Gradescope's test output shows it </system-out>
      </testsuite>
    </testsuites>

A problem whose probe produced no usable result has no checks: it is one testcase named after the
problem with an <error> holding the reason. Every text comes from the result records (check names,
messages, errors, the report lines built from them), so a hidden run shows what its messages show
and nothing more: no expected values. Characters XML 1.0 cannot hold (a student's exception text
may carry control characters) are written as \\xNN.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from grader import report
from grader.results import ProblemResult, RunResult

SUITES_NAME = "needlework"
# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except surrogates and
# U+FFFE, U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """`text` with every character XML 1.0 cannot hold replaced by \\xNN (or \\uNNNN)."""

    def escape(match: re.Match) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _NOT_XML.sub(escape, text)


def _failures(problem: ProblemResult) -> int:
    return sum(1 for check in problem.checks if not check.passed)


def _suite(problem: ProblemResult) -> ET.Element:
    errors = 0 if problem.checks else 1
    tests = len(problem.checks) or 1
    suite = ET.Element(
        "testsuite",
        name=clean(problem.id),
        tests=str(tests),
        failures=str(_failures(problem)),
        errors=str(errors),
        skipped="0",
        time=f"{problem.seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("title", problem.title),
        ("score", f"{problem.score:g}"),
        ("max_score", f"{problem.max_score:g}"),
        ("status", problem.status),
    ):
        ET.SubElement(properties, "property", name=name, value=clean(value))
    classname = clean(f"{SUITES_NAME}.{problem.id}")
    if not problem.checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=clean(problem.id))
        reason = problem.error or "no check could be run"
        error = ET.SubElement(case, "error", message=clean(reason), type="grading")
        error.text = clean(reason)
    for check in problem.checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=clean(check.name))
        if check.passed:
            continue
        message = check.message
        if not message and check.not_implemented:
            message = f"not implemented yet: {check.not_implemented}"
        failure = ET.SubElement(case, "failure", message=clean(message), type="check")
        failure.text = clean(message)
    ET.SubElement(suite, "system-out").text = clean(report.problem_text(problem, limit=None))
    return suite


def document(result: RunResult) -> ET.ElementTree:
    """The JUnit tree of one run."""
    suites = [_suite(problem) for problem in result.problems]
    root = ET.Element(
        "testsuites",
        name=SUITES_NAME,
        tests=str(sum(int(s.get("tests")) for s in suites)),
        failures=str(sum(int(s.get("failures")) for s in suites)),
        errors=str(sum(int(s.get("errors")) for s in suites)),
        time=f"{sum(problem.seconds for problem in result.problems):.3f}",
    )
    root.extend(suites)
    ET.indent(root)
    return ET.ElementTree(root)


def to_xml(result: RunResult) -> str:
    return ET.tostring(document(result).getroot(), encoding="unicode", xml_declaration=True)


def write(result: RunResult, path: Path) -> None:
    """Write the JUnit file (UTF-8), creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_xml(result) + "\n", encoding="utf-8")
