"""report.html: one page that needs nothing but itself. The pictures are inline (base64 PNG),
the style sheet is inline, there is no script, and a Content-Security-Policy forbids loading
anything else, so the page opens from disk, offline, the same everywhere.

The page also carries its numbers as data, in <script type="application/json" id="report-data">
(a data block: browsers do not run it): `page_data(summary)`, the same counts the page shows.

Every text of the page is escaped; the texts from results are check names, titles, message
patterns (no numbers) and one example message per failure group, as the submission got it (a
hidden run's messages carry no expected value, and nothing here adds one). The hidden seed is
not shown.
"""

from __future__ import annotations

import base64
import json
import statistics
from html import escape
from typing import Any

from grader.class_report.analysis import ALL_FAIL, ALL_PASS, ClassSummary, NoResult, ProblemSummary
from grader.class_report.plots import STATUS_LABELS, file_name

GROUPS_SHOWN = 8  # failure groups shown per problem (the rest are counted)
EXAMPLES_UNIMPLEMENTED = 5  # submissions named per problem left unimplemented
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em;
       color: #1d1d1d; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; width: 100%; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; white-space: nowrap; }
code { font-size: 0.9em; background: #f5f5f5; padding: 0 0.2em; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.flag { color: #a4161a; font-weight: 600; } .muted { color: #666; }
.bar { display: inline-block; height: 0.7em; background: #2f6db5; vertical-align: middle; }
.key { display: flex; gap: 2em; flex-wrap: wrap; }
.key div { background: #f3f6fa; padding: 0.6em 1em; border-radius: 6px; }
"""


def _rate(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f}%"


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _names(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(escape(name) for name in names)


def page_data(summary: ClassSummary) -> dict[str, Any]:
    """The page's numbers, as plain data (no names beyond the display names, no seed)."""
    totals = list(summary.totals)
    return {
        "submissions": len(summary.submissions),
        "hidden": summary.hidden,
        "max_total": summary.max_total,
        "total": {
            "mean": statistics.fmean(totals) if totals else 0.0,
            "median": statistics.median(totals) if totals else 0.0,
            "min": min(totals, default=0.0),
            "max": max(totals, default=0.0),
        },
        "problems": [
            {
                "id": p.id,
                "title": p.title,
                "max_score": p.max_score,
                "mean": p.mean,
                "statuses": dict(p.statuses),
                "unimplemented": list(p.unimplemented),
                "stubs": [list(item) for item in p.stubs],
                "checks": [
                    {
                        "check": c.check,
                        "attempted": c.attempted,
                        "passed": c.passed,
                        "pass_rate": c.pass_rate,
                        "not_implemented": c.not_implemented,
                        "no_result": c.no_result,
                        "most_common_message": c.top_message,
                        "flag": c.flag,
                    }
                    for c in p.checks
                ],
                "failure_groups": [
                    {
                        "pattern": g.pattern,
                        "students": g.students,
                        "failures": g.failures,
                        "checks": [list(item) for item in g.checks],
                        "examples": list(g.examples),
                    }
                    for g in p.groups
                ],
            }
            for p in summary.problems
        ],
        "no_result": [
            {"submission": n.submission, "problem": n.problem, "kind": n.kind}
            for n in summary.no_results
        ],
    }


def _at_a_glance(summary: ClassSummary) -> str:
    totals = summary.totals
    mean = statistics.fmean(totals) if totals else 0.0
    median = statistics.median(totals) if totals else 0.0
    hardest = sorted(
        (c for p in summary.problems for c in p.checks if c.pass_rate is not None),
        key=lambda c: c.pass_rate,
    )[:5]
    stuck = {n.submission for n in summary.no_results}
    items = [
        f"<div><b>{len(totals)}</b> submissions</div>",
        f"<div>mean <b>{mean:.1f}</b>, median <b>{median:g}</b> of {summary.max_total:g}</div>",
        f"<div><b>{len(stuck)}</b> with a problem that got no result (timed out, crashed, "
        "killed, ...)</div>",
        f"<div><b>{len(summary.flagged)}</b> checks flagged</div>",
    ]
    lines = [f'<div class="key">{"".join(items)}</div>']
    if hardest:
        lines.append("<p>Hardest checks:</p><ol>")
        for c in hardest:
            lines.append(
                f"<li><b>{escape(c.problem)}</b>: {escape(c.check)}: {_rate(c.pass_rate)} "
                f"({c.passed} of {c.attempted})</li>"
            )
        lines.append("</ol>")
    return "\n".join(lines)


def _flagged(summary: ClassSummary) -> str:
    flagged = summary.flagged
    if not flagged:
        return "<p>No check is failed by every submission or passed by every submission.</p>"
    fails = [c for c in flagged if c.flag == ALL_FAIL]
    passes = [c for c in flagged if c.flag != ALL_FAIL]
    lines = []
    if fails:
        lines.append(
            '<p class="flag">Failed by every submission that ran it: is the check or the '
            "instruction unclear?</p><ul>"
        )
        lines += [
            f"<li><b>{escape(c.problem)}</b>: {escape(c.check)} (0 of {c.attempted}); "
            f"most often: <code>{escape(c.top_message)}</code></li>"
            for c in fails
        ]
        lines.append("</ul>")
    if passes:
        lines.append(
            f"<details><summary>Passed by every submission that ran it ({len(passes)} checks): "
            "does the check test anything this class gets wrong?</summary><ul>"
        )
        lines += [
            f"<li><b>{escape(c.problem)}</b>: {escape(c.check)} ({c.passed} of {c.attempted})</li>"
            for c in passes
        ]
        lines.append("</ul></details>")
    return "\n".join(lines)


def _check_rows(checks) -> str:
    rows = []
    for c in checks:
        width = 0 if c.pass_rate is None else round(6 * c.pass_rate, 2)
        flag = f' <span class="flag">{escape(c.flag)}</span>' if c.flag == ALL_FAIL else ""
        message = f"<code>{escape(c.top_message)}</code> ({c.top_count})" if c.top_count else ""
        rows.append(
            f"<tr><td>{escape(c.check)}{flag}</td>"
            f'<td class="n"><span class="bar" style="width:{width}em"></span> '
            f"{_rate(c.pass_rate) or 'not attempted'}</td>"
            f'<td class="n">{c.passed} / {c.attempted}</td>'
            f'<td class="n">{c.not_implemented or ""}</td><td class="n">{c.no_result or ""}</td>'
            f"<td>{message}</td></tr>"
        )
    head = (
        "<tr><th>check</th><th>pass rate</th><th>passed / attempted</th><th>not impl.</th>"
        "<th>no result</th><th>most common failure</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _check_table(problem: ProblemSummary) -> str:
    """The checks someone failed (or nobody ran), hardest first; those every attempt passes
    folded away below."""
    open_rows = [c for c in problem.checks if c.flag != ALL_PASS]
    passed = [c for c in problem.checks if c.flag == ALL_PASS]
    parts = [_check_rows(open_rows)] if open_rows else []
    if passed:
        parts.append(
            f"<details><summary>{len(passed)} checks every attempt passes</summary>"
            f"{_check_rows(passed)}</details>"
        )
    return "\n".join(parts)


def _groups(problem: ProblemSummary) -> str:
    if not problem.groups:
        return "<p class='muted'>No failed check.</p>"
    rows = []
    for g in problem.groups[:GROUPS_SHOWN]:
        checks = "; ".join(f"{escape(name)} ({count})" for name, count in g.checks[:4])
        if len(g.checks) > 4:
            checks += f"; and {len(g.checks) - 4} more checks"
        rows.append(
            f'<tr><td class="n">{g.students}</td><td><code>{escape(g.pattern)}</code>'
            f'<div class="muted">in: {checks}</div>'
            f'<div class="muted">e.g. <code>{escape(g.example_message)}</code></div></td>'
            f"<td>{_names(g.examples)}</td></tr>"
        )
    rest = len(problem.groups) - GROUPS_SHOWN
    more = f"<p class='muted'>and {rest} rarer messages.</p>" if rest > 0 else ""
    head = "<tr><th>students</th><th>what the message says</th><th>for example</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>{more}"


def _problem_section(problem: ProblemSummary, pictures: dict[str, bytes]) -> str:
    statuses = ", ".join(
        f"{count} {STATUS_LABELS[status]}" for status, count in problem.statuses.items() if count
    )
    parts = [
        f'<h3 id="p-{escape(problem.id)}">{escape(problem.id)}: {escape(problem.title)} '
        f"<span class='muted'>({problem.max_score:g} points, mean {problem.mean:.2f})</span></h3>",
        f"<p>{escape(statuses)}</p>",
    ]
    picture = pictures.get(file_name(problem.id))
    if picture:
        parts.append(_image(picture, f"pass rate per check of {problem.id}"))
    parts.append(_check_table(problem))
    parts.append("<h4>Most common failures</h4>")
    parts.append(_groups(problem))
    return "\n".join(parts)


def _unimplemented(summary: ClassSummary) -> str:
    rows = []
    for p in summary.problems:
        if not p.unimplemented and not p.stubs:
            continue
        stubs = "; ".join(f"{escape(stub)} ({count})" for stub, count in p.stubs[:6])
        rows.append(
            f"<tr><td>{escape(p.id)}</td><td class='n'>{len(p.unimplemented)}</td>"
            f"<td>{_names(p.unimplemented[:EXAMPLES_UNIMPLEMENTED])}</td><td>{stubs}</td></tr>"
        )
    if not rows:
        return "<p>Every problem was implemented by every submission that got a result.</p>"
    head = (
        "<tr><th>problem</th><th>left unimplemented</th><th>for example</th>"
        "<th>stubs still raising NotImplementedError (submissions)</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _no_results(entries: tuple[NoResult, ...]) -> str:
    if not entries:
        return "<p>Every problem of every submission reported a result.</p>"
    merged: dict[tuple[str, str, str], list[str]] = {}
    for entry in entries:  # one row per submission and message: a hang at import hits them all
        merged.setdefault((entry.submission, entry.kind, entry.message), []).append(entry.problem)
    rows = [
        f"<tr><td>{escape(who)}</td><td>{escape(kind)}</td>"
        f"<td>{escape(', '.join(p for p in problems if p) or 'every problem')}</td>"
        f"<td><code>{escape(message)}</code></td></tr>"
        for (who, kind, message), problems in sorted(merged.items(), key=lambda item: item[0][:2])
    ]
    head = "<tr><th>submission</th><th>what happened</th><th>problems</th><th>message</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def render(summary: ClassSummary, pictures: dict[str, bytes]) -> str:
    mode = "hidden cases" if summary.hidden else "public cases"
    data = json.dumps(page_data(summary), sort_keys=True).replace("</", "<\\/")
    links = " · ".join(f'<a href="#p-{escape(p.id)}">{escape(p.id)}</a>' for p in summary.problems)
    body = [
        "<h1>What the class got wrong</h1>",
        f"<p class='muted'>{len(summary.submissions)} submissions, {len(summary.problems)} "
        f"problems, {mode}. Pass rates count the submissions that ran a check on their own code; "
        "stubs and runs without a result are counted apart.</p>",
        _at_a_glance(summary),
        "<h2>Scores</h2>",
        _image(pictures["scores_total.png"], "histogram of total scores"),
        _image(pictures["scores_by_problem.png"], "scores per problem"),
        _image(pictures["status_by_problem.png"], "outcome per problem"),
        "<h2>Checks worth a look</h2>",
        _flagged(summary),
        "<h2>Problems left unimplemented</h2>",
        _unimplemented(summary),
        "<h2>Timed out, crashed or killed</h2>",
        "<p class='muted'>Problems whose grading process reported no result: these are not wrong "
        "answers, and are not in the pass rates.</p>",
        _no_results(summary.no_results),
        "<h2>Per problem</h2>",
        f"<p>{links}</p>",
        *(_problem_section(p, pictures) for p in summary.problems),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        "<title>Class report</title>\n"
        f"<style>{STYLE}</style>\n"
        f'<script type="application/json" id="report-data">{data}</script>\n'
        "</head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
