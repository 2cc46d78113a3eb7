"""The class report of a batch (grader.class_report): counts, groups, names, files, the page in a
real browser, and `batch --report` / `report` on the command line.

The batch with known answers (test_planted_batch_report_counts_exactly_and_renders_in_a_browser)
is copies of solutions/ with planted mistakes in chosen proportions, graded on two problems;
every count in checks.csv and in the page's data follows from which mistake was planted where.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from browser import find_browser

from grader import REPO_ROOT, batch, class_report, judge
from grader.class_report import analysis, messages, names, store
from grader.progress import Progress, duration
from grader.results import CheckResult, ProblemResult, RunResult
from grader.runner import RunOutcome

SOLUTIONS = REPO_ROOT / "solutions"
ARTIFACTS = REPO_ROOT / "dist" / "test-artifacts"
BAR_RGB = (0x2F, 0x6D, 0xB5)  # grader.class_report.plots.BAR
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root (CI, containers) Chromium refuses to start with its sandbox
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no network wanted: the page must need none
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1200,2000",
)


def cli(*args, check=True):
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=check,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert found, "the page carries no data block"
    return json.loads(found.group(1))


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


# ----- failure messages -------------------------------------------------------------------------


def test_messages_that_differ_only_in_numbers_indices_and_paths_share_a_pattern():
    same = [
        ("max abs error 0.0011 at (2, 5)", "max abs error 0.0031 at (0, 1)"),
        (
            "parameter 0 (shape (3, 4)): max abs error 0.00764 at index (1, 3) (relative 0.0433)"
            ": expected -0.176491, got -0.168854 (11 of 12 elements off)",
            "parameter 1 (shape (4,)): max abs error 0.0214 at index (3,) (relative 0.0404)"
            ": expected 0.529321, got 0.507916 (4 of 4 elements off)",
        ),
        (
            "raised ValueError at needle/ops/ops_mathematic.py:42: shapes [1 2 3]",
            "raised ValueError at python/needle/ops/ops_mathematic.py:7: shapes [4, 5]",
        ),
        ("object at 0x7f3a12bc", "object at 0x55aa"),
        ("crashed: /tmp/batch/alice/needle/x.py", "crashed: /srv/bob/needle/y.py"),
    ]
    for first, second in same:
        assert messages.pattern(first) == messages.pattern(second), (first, second)
    assert messages.pattern("max abs error 0.0011 at (2, 5)") == "max abs error <n> at (<i>)"
    different = [
        ("found inf at index (0,)", "found nan at index (0,)"),
        ("dtype float32", "dtype float64"),
        ("values differ", "shape differs"),
    ]
    for first, second in different:
        assert messages.pattern(first) != messages.pattern(second), (first, second)
    # A formula is not a path, a name with digits is not a number.
    assert messages.pattern("rescales by 1/(1-p)") == "rescales by <n>/(<n>-p)"
    assert messages.pattern("beta1 of Adam, eps 0.5.") == "beta1 of Adam, eps <n>."
    assert not re.search(r"\d", messages.pattern("expected 3.25e-05, got -1e+10 at (1, 2, 3)"))


def test_runs_without_result_are_sorted_by_what_happened_in_the_judges_words():
    """Does each way a probe can end without a result get its own kind, from judge's text?"""
    submission = Path("/nonexistent")
    cases = {
        messages.TIMED_OUT: RunOutcome(None, timeout=20.0),
        messages.KILLED: RunOutcome(None, returncode=-signal.SIGKILL),
        messages.CRASHED: RunOutcome(None, returncode=3, stderr_tail="boom"),
        messages.MALFORMED: RunOutcome(None, malformed="truncated frame"),
        messages.MISSING_FILE: RunOutcome(None, missing="needle/optim.py"),
        messages.DOES_NOT_LOAD: RunOutcome(None, broken="SyntaxError in needle/optim.py:3: x"),
    }
    for kind, outcome in cases.items():
        assert messages.failure_kind(judge.failure_text(outcome, submission)) == kind, kind
    assert messages.failure_kind("grader error: no hidden reference for adam") == "grader error"
    assert messages.failure_kind("something new") == messages.OTHER


# ----- counting ---------------------------------------------------------------------------------


def check(name, passed, message="", stub=""):
    return CheckResult(name, passed, message if not passed else "", not_implemented=stub)


def problem(checks=(), error="", pid="p", stubs=()):
    return ProblemResult(pid, "Problem P", 4.0, tuple(checks), error=error, stubs=stubs)


def synthetic_class() -> list[RunResult]:
    """Five submissions of problem p (checks a, b, c, c) and q: known counts everywhere."""
    stub = "P.forward in needle/p.py"
    rows = {
        "ann": [
            check("a", True),
            check("b", False, "off by 0.5 at (1, 2)"),
            check("c", True),
            check("c", True),
        ],
        "bob": [
            check("a", True),
            check("b", False, "off by 0.25 at (0, 0)"),
            check("c", False, "found nan"),
            check("c", True),
        ],
        "cyd": [
            check("a", True),
            check("b", False, "off by 3 at (2, 2)"),
            check("c", True),
            check("c", False, "found nan"),
        ],
        "dan": [check(n, False, "not implemented", stub) for n in ("a", "b", "c", "c")],
    }
    results = [
        RunResult(
            f"/batch/{who}",
            (
                problem(checks, stubs=(stub,) if who == "dan" else ()),
                ProblemResult("q", "Problem Q", 1.0, (check("z", True),)),
            ),
        )
        for who, checks in rows.items()
    ]
    hang = "did not finish within 20 s: stopped while importing needle/p.py (needle/p.py:1)"
    results.append(
        RunResult("/batch/eve", (problem(error=hang), ProblemResult("q", "Q", 1.0, error=hang)))
    )
    results.append(RunResult("/batch/fay", notes=("OSError: /batch/fay/needle unreadable",)))
    return results


def test_check_counts_pass_rates_flags_and_order():
    summary = analysis.summarise(synthetic_class(), ["p", "q"])
    p, q = summary.problems
    table = {
        c.check: (c.attempted, c.passed, c.not_implemented, c.no_result, c.flag) for c in p.checks
    }
    assert table == {
        "a": (3, 3, 1, 2, analysis.ALL_PASS),
        "b": (3, 0, 1, 2, analysis.ALL_FAIL),
        "c": (3, 2, 1, 2, ""),
        "c #2": (3, 2, 1, 2, ""),  # a repeated name is told apart, in declared order
    }
    assert [c.check for c in p.checks] == ["b", "c", "c #2", "a"]  # hardest first, ties declared
    assert p.checks[0].pass_rate == 0 and p.checks[1].pass_rate == pytest.approx(2 / 3)
    assert p.checks[0].top_message == "off by <n> at (<i>)" and p.checks[0].top_count == 3
    assert p.statuses == {"passed": 0, "partial": 3, "failed": 0, "not_implemented": 1, "error": 2}
    assert p.unimplemented == ("dan",)
    assert p.stubs == (("P.forward in needle/p.py", 1),)
    assert [(c.check, c.attempted, c.passed, c.no_result) for c in q.checks] == [("z", 4, 4, 2)]
    assert summary.totals == tuple(result.score for result in synthetic_class())
    assert {c.check for c in summary.flagged} == {"a", "b", "z"}


def test_failures_grouped_by_pattern_with_students_checks_and_examples():
    (p, _) = analysis.summarise(synthetic_class()).problems
    first, second = p.groups
    assert (first.pattern, first.students, first.failures) == ("off by <n> at (<i>)", 3, 3)
    assert first.checks == (("b", 3),) and first.examples == ("ann", "bob", "cyd")
    assert first.example_message == "off by 0.5 at (1, 2)"
    assert (second.pattern, second.students, second.failures) == ("found nan", 2, 2)
    assert second.checks == (("c", 1), ("c #2", 1)) and second.examples == ("bob", "cyd")


def test_examples_stop_at_three_students():
    results = [
        RunResult(f"/b/s{k}", (problem([check("a", False, f"off by {k}")]),)) for k in range(7)
    ]
    (group,) = analysis.summarise(results).problems[0].groups
    assert group.students == 7 and group.examples == ("s0", "s1", "s2")


def test_runs_without_result_are_listed_apart_from_wrong_answers():
    summary = analysis.summarise(synthetic_class(), ["p", "q"])
    entries = [(n.submission, n.problem, n.kind) for n in summary.no_results]
    assert entries == [
        ("fay", "", "grader error"),
        ("eve", "p", "timed out"),
        ("eve", "q", "timed out"),
    ]
    assert all("eve" not in g.examples for p in summary.problems for g in p.groups)
    # The folder's path is not repeated in what is shown.
    assert summary.no_results[0].message == "OSError: <submission>/needle unreadable"


# ----- names ------------------------------------------------------------------------------------


def test_pseudonyms_are_stable_per_key_and_hide_the_folder_name(tmp_path):
    key_file = tmp_path / "pseudonym.key"
    key = names.load_key(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert names.load_key(key_file) == key  # read back, not made again
    folders = ["/x/alice", "/x/bob"]
    shown = names.Names(folders, key)
    again = names.Names(["/elsewhere/bob", "/elsewhere/alice"], key)  # another run, order, place
    assert shown("/x/alice") == again("/elsewhere/alice") != shown("/x/bob")
    assert re.fullmatch(r"student-[0-9a-f]{8}", shown("/x/alice"))
    other = names.Names(folders, names.load_key(tmp_path / "other.key"))
    assert other("/x/alice") != shown("/x/alice")
    text = shown.scrub("cannot read /x/alice/needle/a.py; alice's file; alicea", "/x/alice")
    assert text == (f"cannot read <submission>/needle/a.py; {shown('/x/alice')}'s file; alicea")
    assert names.Names(["/a/same", "/b/same"])("/b/same") == "same-2"
    key_file.write_text("not a key\n")
    with pytest.raises(names.KeyFileError, match="pseudonym.key does not hold a pseudonym key"):
        names.load_key(key_file)


def test_anonymous_report_shows_no_folder_name(tmp_path):
    results = synthetic_class()
    key = names.load_key(tmp_path / "k")
    written = class_report.write(results, tmp_path / "out", ["p", "q"], key)
    html = written.page.read_text()
    words = set(re.findall(r"\w+", html + written.checks.read_text()))
    assert not words & {"ann", "bob", "cyd", "dan", "eve", "fay", "batch"}
    data = page_data(html)
    group = data["problems"][0]["failure_groups"][0]
    assert group["examples"] == [names.pseudonym(w, key) for w in ("ann", "bob", "cyd")]


# ----- results file -----------------------------------------------------------------------------


def test_results_survive_a_round_trip_through_the_results_file(tmp_path):
    results = synthetic_class()
    path = store.save(results, ["p", "q"], tmp_path / "grades.results.json")
    assert store.results_path(tmp_path / "grades.csv") == path
    loaded, problem_ids = store.load(path)
    assert loaded == results and problem_ids == ["p", "q"]
    assert [r.score for r in loaded] == [r.score for r in results]


@pytest.mark.parametrize(
    "content, words",
    [
        ("{", "not JSON"),
        ('{"format": "other"}', "not a batch results file"),
        ('{"format": "needlework batch results", "version": 9}', "version 9"),
        (
            '{"format": "needlework batch results", "version": 1, "problems": ["p"], '
            '"results": [{"submission": "s", "problems": [{"id": "p", "title": "P", '
            '"max_score": 1, "checks": [{"name": "a", "passed": "yes"}]}]}]}',
            "results[0].problems[0].checks[0].passed is 'yes'",
        ),
        (
            '{"format": "needlework batch results", "version": 1, "problems": [], '
            '"results": [{"submission": "s", "colour": 1}]}',
            "results[0] has unknown field(s) colour",
        ),
    ],
)
def test_a_bad_results_file_is_refused_naming_what_is_wrong(tmp_path, content, words):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(store.ResultsFileError) as caught:
        store.load(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


# ----- progress ---------------------------------------------------------------------------------


def test_progress_prints_a_line_per_submission_with_count_and_time_left():
    clock = iter([0.0, 10.0, 20.0, 30.0]).__next__
    stream = io.StringIO()
    progress = Progress(3, stream, clock, terminal=False)
    progress.advance("alice", "15/15")
    progress.advance("bob", "7/15")
    progress.advance("carol", "0/15")
    assert stream.getvalue().splitlines() == [
        "batch: 1/3 alice 15/15 (about 20 s left)",
        "batch: 2/3 bob 7/15 (about 10 s left)",
        "batch: 3/3 carol 0/15 (done)",
    ]


def test_progress_on_a_terminal_redraws_one_bar():
    clock = iter([0.0, 90.0, 180.0]).__next__
    stream = io.StringIO()
    progress = Progress(2, stream, clock, terminal=True)
    progress.advance("alice")
    first = "batch [##########----------]    1/2   50%  about 1 min 30 s left"
    assert stream.getvalue() == "\r" + first
    progress.advance("bob")
    last = "batch [####################]    2/2  100%  done"
    # Drawn over the first line, blanking out what a shorter line leaves; a newline at the end.
    assert stream.getvalue() == "\r" + first + "\r" + last.ljust(len(first)) + "\n"
    assert [duration(s) for s in (4.4, 65, 3700)] == ["4 s", "1 min 05 s", "1 h 01 min"]


# ----- the files --------------------------------------------------------------------------------


def test_report_files_agree_with_each_other_and_need_no_network(tmp_path):
    written = class_report.write(synthetic_class(), tmp_path / "out", ["p", "q"])
    names_on_disk = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names_on_disk == sorted(
        [
            "report.html",
            "checks.csv",
            "scores_total.png",
            "scores_by_problem.png",
            "status_by_problem.png",
            "checks_p.png",
            "checks_q.png",
        ]
    )
    for picture in written.pictures:
        assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), picture
    html = written.page.read_text()
    # Every picture is inline; nothing is fetched (and the page's policy forbids it).
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith(("data:image/png;base64,", "#")) for s in sources)
    assert len([s for s in sources if s.startswith("data:")]) == len(written.pictures)
    assert "default-src 'none'" in html and "http://" not in html and "https://" not in html
    rows = read_csv(written.checks)
    data = page_data(html)
    from_page = [{"problem": p["id"], **c} for p in data["problems"] for c in p["checks"]]
    assert [(r["problem"], r["check"], int(r["attempted"]), int(r["passed"])) for r in rows] == [
        (c["problem"], c["check"], c["attempted"], c["passed"]) for c in from_page
    ]
    assert rows[0] == {
        "problem": "p",
        "check": "b",
        "attempted": "3",
        "passed": "0",
        "pass_rate": "0.0000",
        "not_implemented": "1",
        "no_result": "2",
        "most_common_message": "off by <n> at (<i>)",
        "flag": "every attempt fails",
    }


def test_a_batch_with_nothing_graded_still_gets_a_report(tmp_path):
    """An empty folder of submissions, or one the grader could not grade at all."""
    empty = class_report.write([], tmp_path / "empty", ["dropout"])
    assert page_data(empty.page.read_text())["submissions"] == 0
    broken = [RunResult("/batch/ann", notes=("OSError: disk full",))]
    written = class_report.write(broken, tmp_path / "broken", ["dropout"])
    data = page_data(written.page.read_text())
    assert data["no_result"] == [{"submission": "ann", "problem": "", "kind": "grader error"}]
    assert data["problems"][0]["statuses"]["error"] == 1 and read_csv(written.checks) == []


def test_hidden_seed_is_not_in_the_report(tmp_path):
    results = [
        RunResult(r.submission, r.problems, hidden=True, seed=987654321) for r in synthetic_class()
    ]
    written = class_report.write(results, tmp_path / "out")
    html = written.page.read_text()
    assert "987654321" not in html + written.checks.read_text()
    assert page_data(html)["hidden"] is True and "hidden cases" in html


# ----- a real browser ---------------------------------------------------------------------------


def open_in_browser(html_file: Path, artifact: Path) -> tuple[list, list[dict], np.ndarray]:
    """Open the page from disk in headless Chromium (selenium): (each picture's [alt, loaded,
    natural width], the console's messages, the screenshot's pixels as RGB 0-255). The
    screenshot is kept as `artifact`."""
    from matplotlib.image import imread
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.wait import WebDriverWait

    browser, driver_path = find_browser()
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            driver.get(html_file.resolve().as_uri())
            WebDriverWait(driver, 60).until(
                lambda d: d.execute_script("return document.readyState") == "complete"
            )
            images = driver.execute_script(
                "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);"
            )
            console = driver.get_log("browser")
            driver.save_screenshot(str(artifact))
        finally:
            driver.quit()
    print(f"screenshot of the class report: {artifact}")
    return images, console, np.round(imread(artifact)[..., :3] * 255).astype(int)


def assert_renders(html_file: Path, artifact: Path, pictures: int) -> None:
    images, console, pixels = open_in_browser(html_file, artifact)
    assert len(images) == pictures
    assert [alt for alt, loaded, width in images if not (loaded and width > 0)] == []
    assert console == [], console  # no error, no warning, nothing blocked by the page's policy
    assert pixels.std() > 10, f"the screenshot is blank: {artifact}"
    # The histogram's bars (the first picture, in view at the top) are drawn in the bar colour.
    bar = (np.abs(pixels - np.array(BAR_RGB)).max(axis=-1) <= 8).sum()
    assert bar > 2000, f"no plot bars in the screenshot ({bar} pixels): {artifact}"


@pytest.mark.slow
def test_report_loads_in_a_headless_browser_and_its_plots_render(tmp_path):
    written = class_report.write(synthetic_class(), tmp_path / "out", ["p", "q"])
    assert_renders(written.page, ARTIFACTS / "class_report_synthetic.png", len(written.pictures))


@pytest.mark.slow
def test_the_browser_check_catches_a_broken_picture_and_a_network_fetch(tmp_path):
    """Can the browser check fail? A page with an undecodable picture and a remote one."""
    written = class_report.write(synthetic_class(), tmp_path / "out", ["p", "q"])
    html = written.page.read_text().replace(
        "<body>",
        '<body><img alt="remote" src="http://example.invalid/x.png">'
        '<img alt="corrupt" src="data:image/png;base64,AAAA">',
        1,
    )
    written.page.write_text(html)
    images, console, _ = open_in_browser(written.page, tmp_path / "broken.png")
    assert [alt for alt, loaded, width in images if not (loaded and width > 0)] == [
        "remote",
        "corrupt",
    ]
    assert any("Content Security Policy" in entry["message"] for entry in console), console


# ----- the batch with known answers -------------------------------------------------------------

LOG = "needle/ops/ops_logarithmic.py"
OPTIM = "needle/optim.py"
NAIVE_LOGSUMEXP = (
    "z_max = array_api.max(Z, axis=self.axes, keepdims=True)\n"
    "        sum_exp = array_api.sum(array_api.exp(Z - z_max), axis=self.axes, keepdims=True)\n"
    "        out = array_api.log(sum_exp) + z_max",
    "out = array_api.log(array_api.sum(array_api.exp(Z), axis=self.axes, keepdims=True))",
)
ADAM_STORES_CORRECTED_MOMENTS = (
    "update = np.sqrt(v)\n"
    "            update += self.eps * root\n"
    "            np.divide(m, update, out=update)\n"
    "            update *= step_size * root\n"
    "            w.data = Tensor.make_const(w.numpy() - update)",
    "m /= 1 - self.beta1**self.t\n"
    "            v /= 1 - self.beta2**self.t\n"
    "            w.data = Tensor.make_const(w.numpy() - self.lr * m / (np.sqrt(v) + self.eps))",
)
# Ten submissions: 30% naive LogSumExp, 20% Adam storing corrected moments, 10% Adam left as
# the skeleton's stub, one that hangs at import, one that crashes at import, two correct.
PLANTED = {
    "lse1": "naive logsumexp",
    "lse2": "naive logsumexp",
    "lse3": "naive logsumexp",
    "adam1": "adam stores corrected moments",
    "adam2": "adam stores corrected moments",
    "stub1": "adam left unimplemented",
    "hang1": "hangs at import",
    "crash1": "exits at import",
    "correct1": "",
    "correct2": "",
}
PROBLEMS = ["logsumexp", "adam"]
TIMEOUT_SCALE = 0.5  # 10 s instead of 20 s: the hang costs 2 x 10 s; logsumexp takes 3 s loaded
LSE_STABILITY = {
    "logsumexp stays finite and correct at 1e5 (float32)",
    "logsumexp stays finite at 1e10 (float64)",
}
INF = "found inf at index (<i>) where a finite value was expected"
VALUES = (
    "max abs error <n> at index (<i>) (relative <n>): expected <n>, got <n> "
    "(<n> of <n> elements off)"
)


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected one {old[:40]!r}"
    path.write_text(text.replace(old, new))


def plant(folder: Path, mistake: str) -> None:
    for package in ("needle", "apps"):
        shutil.copytree(
            SOLUTIONS / package, folder / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    if mistake == "naive logsumexp":
        replace_once(folder / LOG, *NAIVE_LOGSUMEXP)
    elif mistake == "adam stores corrected moments":
        replace_once(folder / OPTIM, *ADAM_STORES_CORRECTED_MOMENTS)
    elif mistake == "adam left unimplemented":
        shutil.copy(REPO_ROOT / "hw" / OPTIM, folder / OPTIM)
    elif mistake == "hangs at import":
        optim = folder / OPTIM
        optim.write_text("while True:\n    pass\n" + optim.read_text())
    elif mistake == "exits at import":
        init = folder / "needle/__init__.py"
        init.write_text("import os\nos._exit(3)\n" + init.read_text())


@pytest.mark.slow
def test_planted_batch_report_counts_exactly_and_renders_in_a_browser(tmp_path):
    """One test, not two sharing a fixture: the grading (about a minute) is done once even
    when the tests are spread over several workers."""
    submissions = tmp_path / "submissions"
    for name, mistake in PLANTED.items():
        plant(submissions / name, mistake)
    folders = sorted(submissions.iterdir())
    results = batch.grade_all(folders, PROBLEMS, jobs=2, timeout_scale=TIMEOUT_SCALE)
    written = class_report.write(results, tmp_path / "report", PROBLEMS)

    students = sorted(PLANTED)
    assert [Path(r.submission).name for r in results] == students
    rows = {(r["problem"], r["check"]): r for r in read_csv(written.checks)}
    data = page_data(written.page.read_text())
    assert data["submissions"] == 10

    lse, adam = data["problems"]
    # logsumexp: the hang and the crash give no result; the 8 others run every check, and the
    # three naive ones fail exactly the two stability checks.
    assert lse["statuses"] == {
        "passed": 5,
        "partial": 3,
        "failed": 0,
        "not_implemented": 0,
        "error": 2,
    }
    for c in lse["checks"]:
        row = rows[("logsumexp", c["check"])]
        failing = c["check"] in LSE_STABILITY
        expected = (8, 5 if failing else 8, 0, 2)
        assert (c["attempted"], c["passed"], c["not_implemented"], c["no_result"]) == expected, c
        assert (int(row["attempted"]), int(row["passed"])) == expected[:2]
        assert row["pass_rate"] == ("0.6250" if failing else "1.0000")
        assert row["most_common_message"] == (INF if failing else "")
        assert row["flag"] == ("" if failing else "every attempt passes")
    assert {c["check"] for c in lse["checks"][:2]} == LSE_STABILITY  # hardest first
    assert lse["failure_groups"] == [
        {
            "pattern": INF,
            "students": 3,
            "failures": 6,
            "checks": [[name, 3] for name in [c["check"] for c in lse["checks"][:2]]],
            "examples": ["lse1", "lse2", "lse3"],
        }
    ]
    assert lse["unimplemented"] == []

    # adam: 7 run it (not the stub, the hang, the crash); the two storing corrected moments
    # fail both moment checks and every trajectory step after the first (at step 1 the stored
    # value does not enter the update yet), and nothing else.
    assert adam["statuses"] == {
        "passed": 5,
        "partial": 2,
        "failed": 0,
        "not_implemented": 1,
        "error": 2,
    }
    moments = {
        "first moment m stored without bias correction",
        "second moment v stored without bias correction",
    }
    trajectory = re.compile(r"parameters after step [234]( #2)?$")
    failing = set()
    for c in adam["checks"]:
        bad = c["check"] in moments or bool(trajectory.search(c["check"]))
        failing |= {c["check"]} if bad else set()
        expected = (7, 5 if bad else 7, 1, 2)
        assert (c["attempted"], c["passed"], c["not_implemented"], c["no_result"]) == expected, c
        assert rows[("adam", c["check"])]["pass_rate"] == ("0.7143" if bad else "1.0000")
    assert len(failing) == 2 + 3 * 3 * 2  # moments; 3 configurations x steps 2-4 x 2 parameters
    groups = adam["failure_groups"]
    assert [(g["pattern"], g["students"], g["failures"], g["examples"]) for g in groups] == [
        ("parameter <n> (shape (<i>)): " + VALUES, 2, 2 * 18, ["adam1", "adam2"]),
        (VALUES, 2, 2 * 2, ["adam1", "adam2"]),
    ]
    assert {name for name, _ in groups[1]["checks"]} == moments
    assert adam["unimplemented"] == ["stub1"]
    assert [count for _, count in adam["stubs"]] == [1] and "Adam" in adam["stubs"][0][0]

    # The hang and the crash are listed apart, by what happened, for both problems.
    assert sorted((n["submission"], n["problem"], n["kind"]) for n in data["no_result"]) == [
        ("crash1", "adam", "crashed"),
        ("crash1", "logsumexp", "crashed"),
        ("hang1", "adam", "timed out"),
        ("hang1", "logsumexp", "timed out"),
    ]
    # No check is failed by every submission that ran it.
    flags = {c["flag"] for p in data["problems"] for c in p["checks"]}
    assert flags == {"", "every attempt passes"}
    # The scores shown are the gradebook's.
    gradebook = batch.gradebook_rows(results, PROBLEMS)
    assert data["total"]["max"] == max(float(row["total"]) for row in gradebook)
    assert data["total"]["mean"] == pytest.approx(
        sum(float(row["total"]) for row in gradebook) / 10
    )

    # What the page shows, and that a browser shows it.
    html = written.page.read_text()
    for words in [
        "found inf at index (&lt;i&gt;) where a finite value was expected",
        "lse1, lse2, lse3",
        "stub1",
        "timed out",
        "crashed",
        "did not finish within 10 s: stopped while importing needle/optim.py",
    ]:
        assert words in html, words
    assert_renders(written.page, ARTIFACTS / "class_report_planted.png", len(written.pictures))


def load_test_module(name: str):
    """A sibling test module (tests are not a package here: --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_hidden_batch_report_shows_no_hidden_expected_value(tmp_path):
    from grader import cases, hidden
    from grader import problems as registry

    leaked = load_test_module("test_hidden").leaked
    seed = 424242
    for name in ("adam1", "adam2"):
        plant(tmp_path / "submissions" / name, "adam stores corrected moments")
    folders = sorted((tmp_path / "submissions").iterdir())
    results = batch.grade_all(folders, ["adam"], hidden=True, seed=seed)
    written = class_report.write(results, tmp_path / "out", ["adam"])
    html = written.page.read_text()
    assert page_data(html)["problems"][0]["failure_groups"], "the mistake must show"
    shown = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    shown += written.checks.read_text()
    assert "values differ from the reference" in shown  # a hidden case's own wording
    assert "max abs error" not in shown and "expected" not in shown.replace("unexpected", "")

    outputs, why = hidden.reference_outputs(cases.make_case(registry.load("adam"), seed))
    assert outputs is not None, why
    values = np.concatenate([np.asarray(a, np.float64).reshape(-1) for a in outputs.values()])
    secret = values[np.isfinite(values) & (values != np.round(values))]
    assert secret.size > 50
    assert leaked(shown, secret) == []
    assert leaked(f"got {secret[3]:.6g}", secret), "the detector itself must work"


# ----- the command line -------------------------------------------------------------------------


def test_batch_report_and_report_command(tmp_path):
    """Does `batch --report` leave the gradebook as it was, save the results, write the report,
    and does `report` make the same report again, with or without names?"""
    folder = tmp_path / "submissions"
    for name in ("alice", "bob"):
        shutil.copytree(SOLUTIONS / "needle", folder / name / "needle")
    nn = folder / "bob/needle/nn/nn_basic.py"
    replace_once(nn, "return x * mask / (1 - self.p)", "return x * mask")
    shutil.copytree(SOLUTIONS / "needle", folder / "mallory" / "needle")
    init = folder / "mallory/needle/__init__.py"
    init.write_text("import os\nos._exit(3)\n" + init.read_text())

    plain = tmp_path / "plain.csv"
    done = cli("batch", str(folder), "--out", str(plain), "--problem", "dropout")
    progress = [line for line in done.stderr.splitlines() if line.startswith("batch: ")]
    assert [line.split()[1] for line in progress] == ["1/3", "2/3", "3/3"]
    assert {line.split()[2] for line in progress} == {"alice", "bob", "mallory"}
    graded = tmp_path / "grades.csv"
    done = cli(
        "batch",
        str(folder),
        "--out",
        str(graded),
        "--problem",
        "dropout",
        "--report",
        str(tmp_path / "out"),
    )
    assert graded.read_bytes() == plain.read_bytes()  # the gradebook as it was
    saved = tmp_path / "grades.results.json"
    assert str(saved) in done.stdout and saved.is_file()
    rows = read_csv(tmp_path / "out/checks.csv")
    kept = {r["check"]: r for r in rows}["training forward (seeded mask, rescaled)"]
    assert (kept["attempted"], kept["passed"], kept["no_result"]) == ("2", "1", "1")

    cli("report", str(saved), "--out", str(tmp_path / "again"))
    first = (tmp_path / "out/report.html").read_text()
    assert (tmp_path / "again/checks.csv").read_text() == (tmp_path / "out/checks.csv").read_text()
    assert page_data((tmp_path / "again/report.html").read_text()) == page_data(first)

    cli("report", str(saved), "--out", str(tmp_path / "anon1"), "--anonymous")
    cli("report", str(saved), "--out", str(tmp_path / "anon2"), "--anonymous")
    anonymous = [page_data((tmp_path / f"anon{k}/report.html").read_text()) for k in (1, 2)]
    assert anonymous[0] == anonymous[1]  # the same pseudonyms: the key beside the results
    assert (tmp_path / names.DEFAULT_KEY_FILE).is_file()
    text = json.dumps(anonymous[0]) + (tmp_path / "anon1/report.html").read_text()
    assert not {"alice", "bob", "mallory"} & set(re.findall(r"\w+", text))
    assert [n["kind"] for n in anonymous[0]["no_result"]] == ["crashed"]

    refused = cli("report", str(graded), "--out", str(tmp_path / "x"), check=False)
    assert refused.returncode == 2 and "not JSON" in refused.stderr
    refused = cli("batch", str(folder), "--out", str(graded), "--anonymous", check=False)
    assert refused.returncode == 2 and "only make sense with --report" in refused.stderr
