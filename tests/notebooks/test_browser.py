"""The student release in a real browser: JupyterLab started by the release's own `make lab`,
driven by headless Chromium through selenium, the way a student clicks through it.

On a fresh release: the server opens at notebooks/; Run All in two notebooks executes every cell
and each check cell prints its score line; hw/needle/ops/ops_logarithmic.py opens from the file
browser in JupyterLab's editor, is edited and saved there; re-running the check cell then shows
the score the grader gives the edited file, and a demonstration re-run uses the edited code
(autoreload). Screenshots of each step are kept in dist/browser-test/.

Needs Chromium and its driver (Debian: `apt-get install chromium chromium-driver`, as .ci/run
does); without them the test is skipped.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import find_browser

from grader import release

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "dist" / "browser-test"
NOTEBOOKS = ("00_ops_and_autodiff.ipynb", "02_numerical_stability.ipynb")
EDITED_FILE = "hw/needle/ops/ops_logarithmic.py"
STUB_LINE = 'raise NotImplementedError("LogSumExp.compute in needle/ops/ops_logarithmic.py")'
# A correct LogSumExp forward on one line (so that typing it needs no indentation).
NEW_LINE = (
    "return array_api.log(array_api.exp(Z - Z.max(self.axes, keepdims=True)).sum(self.axes))"
    " + Z.max(self.axes)"
)
SCORE_LINE = re.compile(r"^Score for (\w+): (\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$", re.MULTILINE)
CHECK_CALL = re.compile(r'_ = check\("(\w+)"\)')
SERVER_START = 180  # seconds for `make lab` to serve (it writes the digits data first)
RUN_ALL = 300  # seconds for Run All of one notebook (about 10 s in a kernel of its own)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root (CI, containers) Chromium refuses to start with its sandbox
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # the machine's network is closed: ask nothing
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
# JupyterLab settings for the test's own settings folder: no question about the news feed.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_env() -> dict[str, str]:
    """The environment without the outer `make test`'s make variables."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}


def start_lab(kit: Path, scratch: Path, port: int, token: str) -> subprocess.Popen:
    """The release's `make lab` with this interpreter, on 127.0.0.1:port with `token`, its
    Jupyter configuration, data and settings in `scratch` (nothing of the machine's own)."""
    config = scratch / "jupyter-config"
    config.mkdir(parents=True)
    server = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            # The project's jupytext pairs notebooks with .py files; a student has no jupytext.
            "jpserver_extensions": {"jupyterlab_jupytext": False},
        },
        "IdentityProvider": {"token": token},
    }
    (config / "jupyter_server_config.json").write_text(json.dumps(server))
    (config / "labconfig").mkdir()
    page = {"disabledExtensions": {"jupyterlab-jupytext": True}}
    (config / "labconfig" / "page_config.json").write_text(json.dumps(page))
    settings = scratch / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {
        **make_env(),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(scratch / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "jupyter-runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "lab-workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONPATH": "",
    }
    log = (scratch / "lab.log").open("w")
    return subprocess.Popen(
        ["make", "lab", f"PYTHON={sys.executable}"],
        cwd=kit,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole at the end
    )


def wait_until_serving(base: str, token: str, lab: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START
    while time.monotonic() < deadline:
        if lab.poll() is not None:
            pytest.fail(f"make lab exited with {lab.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START} s:\n{log.read_text()}")


def stop(lab: subprocess.Popen) -> None:
    """Stop `make lab` and the server and kernels it started (its own process group)."""
    if lab.poll() is None:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=20)


def grader_score(kit: Path, problem: str) -> tuple[float, float]:
    """(score, max score) the grader gives `problem` of the kit's hw/ right now."""
    done = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--submission", "hw", "--problem", problem]
        + ["--json"],
        cwd=kit,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.stdout.strip(), done.stderr
    (graded,) = json.loads(done.stdout)["problems"]
    assert graded["id"] == problem, graded
    return float(graded["score"]), float(graded["max_score"])


class Lab:
    """The JupyterLab page in the browser: the few gestures the test makes."""

    def __init__(self, driver, shots: Path):
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.shots, self.count = driver, shots, 0
        self.By, self.Keys, self.ActionChains = By, Keys, ActionChains
        self.wait_for = lambda seconds: WebDriverWait(driver, seconds, poll_frequency=0.25)
        self.conditions = expected_conditions

    def shot(self, name: str) -> None:
        self.count += 1
        self.driver.save_screenshot(str(self.shots / f"{self.count:02d}-{name}.png"))

    def find(self, xpath: str, seconds: float = 30):
        located = self.conditions.presence_of_element_located((self.By.XPATH, xpath))
        return self.wait_for(seconds).until(located, f"nothing matches {xpath}")

    def clickable(self, xpath: str, seconds: float = 30):
        condition = self.conditions.element_to_be_clickable((self.By.XPATH, xpath))
        return self.wait_for(seconds).until(condition, f"nothing clickable matches {xpath}")

    def listing_item(self, name: str):
        return self.clickable(
            "//li[contains(@class, 'jp-DirListing-item')]"
            f"[.//span[contains(@class, 'jp-DirListing-itemText')][normalize-space()='{name}']]"
        )

    def open_from_file_browser(self, *path: str) -> None:
        """Double-click each folder and then the file, from the file browser's root."""
        self.clickable("//span[contains(@class, 'jp-BreadCrumbs-home')]").click()
        for name in path:
            self.ActionChains(self.driver).double_click(self.listing_item(name)).perform()

    def menu(self, top: str, item: str) -> None:
        self.clickable(
            f"//li[contains(@class, 'lm-MenuBar-item')][.//div[normalize-space()='{top}']]"
        ).click()
        self.clickable(
            f"//li[contains(@class, 'lm-Menu-item')][.//div[contains(@class, 'lm-Menu-itemLabel')]"
            f"[normalize-space()='{item}']]"
        ).click()

    def assert_no_dialog(self) -> None:
        """No modal dialog (a kernel choice, an error) stands in the student's way."""
        dialogs = self.driver.find_elements(self.By.CSS_SELECTOR, ".jp-Dialog")
        shown = [dialog.text for dialog in dialogs if dialog.is_displayed()]
        if shown:
            self.shot("dialog")
        assert not shown, f"a dialog is open: {shown}"

    def keys(self, *keys: str) -> None:
        self.ActionChains(self.driver).send_keys(*keys).perform()

    def chord(self, modifier: str, key: str) -> None:
        """Press `key` with `modifier` held (a modifier inside send_keys is let go at once)."""
        chain = self.ActionChains(self.driver).key_down(modifier).send_keys(key)
        chain.key_up(modifier).perform()

    def save(self) -> None:
        self.chord(self.Keys.CONTROL, "s")

    def current_tab(self, name: str | None = None):
        """The current tab of the main area (and, given `name`, once it is that one)."""
        tab = "//div[@id='jp-main-dock-panel']//li[contains(@class, 'lm-mod-current')]"
        if name is not None:
            tab += f"[.//div[normalize-space()='{name}']]"
        return self.find(tab)

    def notebook_cells(self, name: str) -> list:
        """The code cells of notebook `name`, in order, once its tab is the current one."""
        panel = self.current_tab(name).get_attribute("data-id")
        return self.driver.find_elements(
            self.By.CSS_SELECTOR, f"[id='{panel}'] .jp-Notebook .jp-CodeCell"
        )

    @staticmethod
    def source(cell) -> str:
        return cell.find_element("css selector", ".jp-InputArea-editor .cm-content").get_attribute(
            "textContent"
        )

    @staticmethod
    def prompt(cell) -> str:
        return cell.find_element("css selector", ".jp-InputPrompt").get_attribute("textContent")

    @staticmethod
    def output(cell) -> str:
        return cell.find_element("css selector", ".jp-Cell-outputWrapper").get_attribute(
            "textContent"
        )

    def wait_until_all_ran(self, name: str, seconds: float) -> list:
        """Wait until every code cell shows an execution count and none is queued or running."""

        def all_ran(_driver):
            cells = self.notebook_cells(name)
            prompts = [self.prompt(cell) for cell in cells]
            done = cells and all(re.fullmatch(r"\s*\[\d+\]:\s*", p) for p in prompts)
            return cells if done else False

        return self.wait_for(seconds).until(all_ran, "Run All did not finish")


def saved_notebook(path: Path, seconds: float = 30) -> nbformat.NotebookNode:
    """The notebook at `path` once JupyterLab's save has written its outputs."""
    deadline = time.monotonic() + seconds
    while True:
        notebook = nbformat.read(path, as_version=4)
        if any(cell.get("outputs") for cell in notebook.cells) or time.monotonic() > deadline:
            return notebook
        time.sleep(0.25)


def kernel_idle(lab: Lab, seconds: float) -> None:
    """Wait until the status bar says the notebook's kernel is connected and idle."""
    lab.find(
        "//div[contains(@class, 'jp-StatusBar-Item')]"
        "//span[contains(normalize-space(), 'Python 3 (ipykernel) | Idle')]",
        seconds,
    )


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_student_runs_all_edits_hw_and_sees_the_new_score_in_jupyterlab(tmp_path):
    browser, driver_path = find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    built = release.build(ROOT, tmp_path / "dist")
    assert built.leaks == []
    kit = built.folder
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    lab_process = start_lab(kit, tmp_path / "scratch", port, token)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = None
    try:
        wait_until_serving(base, token, lab_process, tmp_path / "scratch" / "lab.log")
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        lab = Lab(driver, SCREENSHOTS)
        driver.get(f"{base}/?token={token}")

        # make lab opens at notebooks/: the file browser lists the notebooks.
        lab.listing_item(NOTEBOOKS[0])
        assert "/lab/tree/notebooks" in driver.current_url, driver.current_url
        lab.shot("opens-at-notebooks")

        for name in NOTEBOOKS:
            lab.open_from_file_browser("notebooks", name)
            kernel_idle(lab, 120)
            time.sleep(1)  # a dialog would come up with the kernel
            lab.assert_no_dialog()
            lab.menu("Run", "Run All Cells")
            first = lab.notebook_cells(name)[0]
            lab.wait_for(30).until(
                lambda _d, first=first: lab.prompt(first).strip() != "[ ]:",
                "Run All did not start the first cell",
            )
            cells = lab.wait_until_all_ran(name, RUN_ALL)
            kernel_idle(lab, RUN_ALL)
            lab.shot(f"run-all-{name.removesuffix('.ipynb')}")
            # Every check cell of the notebook shows its score line (below full marks).
            sources = [c.source for c in nbformat.read(kit / "notebooks" / name, 4).cells]
            expected = [found for text in sources for found in CHECK_CALL.findall(text)]
            checks = [cell for cell in cells if CHECK_CALL.search(lab.source(cell))]
            shown = []
            for cell in checks:
                scores = SCORE_LINE.findall(lab.output(cell).replace("\u00a0", " "))
                assert scores, f"{name}: no score line in {lab.output(cell)!r}"
                problem, score, max_score = scores[-1]
                assert float(score) < float(max_score), f"{problem} on the skeleton"
                shown.append(problem)
            assert expected and shown == expected, (shown, expected)
            # The saved notebook: every code cell ran, none raised.
            lab.save()
            saved = saved_notebook(kit / "notebooks" / name)
            for cell in saved.cells:
                if cell.cell_type == "code":
                    assert cell.execution_count is not None, f"{name}: {cell.source[:60]!r}"
                    assert not [o for o in cell.outputs if o.output_type == "error"], cell.source

        # Edit hw/ in JupyterLab's editor: the LogSumExp forward replaces its stub.
        target = kit / EDITED_FILE
        before = target.read_text()
        lab.open_from_file_browser(*EDITED_FILE.split("/"))
        stub = lab.clickable(
            "//div[contains(@class, 'jp-FileEditor') and not(contains(@class, 'lm-mod-hidden'))]"
            f"//div[contains(@class, 'cm-line')][normalize-space()='{STUB_LINE}']"
        )
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", stub)
        stub.click()  # the cursor is now on the stub's line
        lab.keys(lab.Keys.END, lab.Keys.HOME)  # Home goes to the end of the indentation
        lab.chord(lab.Keys.SHIFT, lab.Keys.END)
        lab.keys(NEW_LINE)
        lab.shot("editing-ops_logarithmic")
        lab.save()
        deadline = time.monotonic() + 30
        while STUB_LINE in target.read_text() and time.monotonic() < deadline:
            time.sleep(0.25)
        after = target.read_text()
        assert after == before.replace(STUB_LINE, NEW_LINE), "the saved file is not the edit"
        lab.shot("saved-ops_logarithmic")
        score, max_score = grader_score(kit, "logsumexp")
        assert 0 < score < max_score, (score, max_score)  # the forward now passes, not the rest

        # Back in part 2: re-run the LogSumExp demonstration and the check cell.
        lab.clickable(
            f"//li[contains(@class, 'lm-TabBar-tab')][.//div[normalize-space()='{NOTEBOOKS[1]}']]"
        ).click()
        cells = lab.notebook_cells(NOTEBOOKS[1])
        demo = next(c for c in cells if "ndl.logsumexp(z, axes=(1,))" in lab.source(c))
        check = next(c for c in cells if CHECK_CALL.search(lab.source(c)))
        all_cells = [
            cell.source for cell in nbformat.read(ROOT / "notebooks" / NOTEBOOKS[1], 4).cells
        ]
        steps = next(i for i, text in enumerate(all_cells) if CHECK_CALL.search(text)) - next(
            i for i, text in enumerate(all_cells) if "ndl.logsumexp(z, axes=(1,))" in text
        )
        old_prompts = [lab.prompt(demo), lab.prompt(check)]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", demo)
        editor = demo.find_element("css selector", ".jp-InputArea-editor")
        lab.wait_for(30).until(  # a cell scrolled into view is laid out a moment later
            lambda _d: editor.size["height"] > 0, "the demonstration cell is not shown"
        )
        lab.ActionChains(driver).move_to_element(editor).click().perform()  # select it
        lab.chord(lab.Keys.CONTROL, lab.Keys.ENTER)  # run it, stay on it
        lab.keys(lab.Keys.ESCAPE, *[lab.Keys.DOWN] * steps)  # command mode, down to the check
        lab.chord(lab.Keys.CONTROL, lab.Keys.ENTER)
        for cell, old in zip((demo, check), old_prompts, strict=True):
            lab.wait_for(120).until(
                lambda _d, cell=cell, old=old: (
                    re.fullmatch(r"\s*\[\d+\]:\s*", lab.prompt(cell)) and lab.prompt(cell) != old
                ),
                "a re-run cell did not finish",
            )
        kernel_idle(lab, 120)
        lab.shot("check-after-edit")
        assert "logsumexp over axis 1:" in lab.output(demo), lab.output(demo)
        shown = SCORE_LINE.findall(lab.output(check).replace("\u00a0", " "))
        assert shown, lab.output(check)
        assert shown[-1] == ("logsumexp", f"{score:g}", f"{max_score:g}"), shown
    except Exception:
        if driver is not None:
            driver.save_screenshot(str(SCREENSHOTS / "failure.png"))
        raise
    finally:
        if driver is not None:
            driver.quit()
        stop(lab_process)
