"""Isolation between probes (as root): a hostile submission graded beside honest ones costs them
nothing, reaches no network, and leaves no process behind.

Each hostile submission is solutions/ with an attack at the top of needle/__init__.py, so that it
runs in every probe, at import; after the attack it exits, scoring nothing. The honest ones are
plain copies of solutions/ and must keep full marks.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from grader import REPO_ROOT, sandbox
from grader import problems as registry

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="probe isolation needs the grader to run as root"),
]

SOLUTIONS = REPO_ROOT / "solutions"
# Each batch below gets ids of its own (the runs of other tests on the machine use the default
# range), so that "no process of them is left" speaks of that batch alone.
RANGES = {
    "kills_every_process_of_its_user": "64400-64407",
    "stops_them": "64410-64417",
    "setsid_grandchild_keeps_killing": "64420-64427",
    "network": "64430-64437",
}

KILL_EVERYTHING = """
import os, signal, time
end = time.monotonic() + 4
while time.monotonic() < end:
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
os._exit(3)
"""

STOP_EVERYTHING = """
import os, signal, time
end = time.monotonic() + 4
while time.monotonic() < end:
    try:
        os.kill(-1, signal.SIGSTOP)
    except OSError:
        pass
os._exit(3)
"""

# A grandchild in a session of its own outlives the probe's process group and goes on killing
# every process of its user for a minute: whatever probe is given that user next.
GRANDCHILD_KEEPS_KILLING = """
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.01)
    os._exit(0)
time.sleep(0.5)
os._exit(3)
"""

CONNECT = """
import os, socket
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=2) as connection:
        connection.sendall(b"leak")
except OSError:
    pass
os._exit(3)
"""


def copy_solutions(dest: Path, attack: str = "") -> Path:
    for package in ("needle", "apps"):
        shutil.copytree(SOLUTIONS / package, dest / package, ignore=shutil.ignore_patterns("__py*"))
    if attack:
        init = dest / "needle" / "__init__.py"
        init.write_text(attack + init.read_text())
    return dest


def processes_of(ids: str) -> list[int]:
    return [pid for uid in sandbox.parse_range(ids) for pid in sandbox.processes_of(uid)]


def batch(folder: Path, tmp_path: Path, ids: str) -> dict[str, dict[str, str]]:
    """`python -m grader batch folder --jobs 2` with probe ids `ids`: {submission: row}."""
    out = tmp_path / "gradebook.csv"
    subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(folder), "--jobs", "2", "--out", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "NEEDLEWORK_PROBE_UIDS": ids},
        check=True,
        capture_output=True,
        timeout=900,
    )
    with open(out) as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


def assert_isolated(rows: dict[str, dict[str, str]], hostile: str, ids: str) -> None:
    for name in ("honest1", "honest2"):
        assert float(rows[name]["total"]) == registry.total_points(), rows[name]
    assert float(rows[hostile]["total"]) == 0, rows[hostile]
    assert processes_of(ids) == [], "processes of the probe users survived the run"


@pytest.mark.parametrize(
    "attack",
    [KILL_EVERYTHING, STOP_EVERYTHING, GRANDCHILD_KEEPS_KILLING],
    ids=["kills_every_process_of_its_user", "stops_them", "setsid_grandchild_keeps_killing"],
)
def test_hostile_submission_costs_its_batch_neighbours_nothing(tmp_path, request, attack):
    ids = RANGES[request.node.callspec.id]
    folder = tmp_path / "class"
    copy_solutions(folder / "a_hostile", attack)
    copy_solutions(folder / "honest1")
    copy_solutions(folder / "honest2")
    assert_isolated(batch(folder, tmp_path, ids), "a_hostile", ids)


def test_probes_reach_no_network(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connections.append(connection.recv(16))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        # The listener is reachable from here, outside the probes.
        with socket.create_connection(("127.0.0.1", port), timeout=2) as check:
            check.sendall(b"ok")
        folder = tmp_path / "class"
        copy_solutions(folder / "a_hostile", CONNECT.format(port=port))
        copy_solutions(folder / "honest1")
        copy_solutions(folder / "honest2")
        rows = batch(folder, tmp_path, RANGES["network"])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
    assert connections[:1] == [b"ok"] and connections[1:] == [], connections
    assert_isolated(rows, "a_hostile", RANGES["network"])


READ_OTHERS = """
import glob, os, time
found = []
own = os.path.realpath("..")
end = time.monotonic() + 6
while time.monotonic() < end and not found:
    for pattern in ("needlework-probe-*/submission/needle/*.py", "needlework-probe-*/work/*"):
        for path in glob.glob(os.path.join(os.path.dirname(own), pattern)):
            if path.startswith(own + os.sep):
                continue  # this probe's own folder
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
                found.append(path)
            except OSError:
                pass
    time.sleep(0.05)
raise RuntimeError(f"read {len(found)} files of other probes")
"""

# Grades the hostile submission (sgd) and an honest one at the same time, in one grader process,
# and prints the hostile messages and the honest score.
BESIDE = """
import json, sys, threading
from grader import pipeline
hostile, honest = sys.argv[1:3]
results = {}
def grade(name, folder, problems):
    results[name] = pipeline.grade(folder, problems, jobs=1)
threads = [threading.Thread(target=grade, args=("hostile", hostile, ["sgd"])),
           threading.Thread(target=grade, args=("honest", honest, None))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
(sgd,) = results["hostile"].problems
print(json.dumps({"messages": [c.message for c in sgd.checks], "honest": results["honest"].score}))
"""


def test_a_probe_cannot_read_another_concurrent_probe_s_folder(tmp_path):
    hostile = copy_solutions(tmp_path / "hostile", READ_OTHERS)
    honest = copy_solutions(tmp_path / "honest")
    # The probes' scratch folders go to a folder of this test's own, open to every user like
    # /tmp, so that only these two graders' probes are in it.
    scratch = Path(tempfile.mkdtemp(prefix="needlework-test-scratch-", dir="/tmp"))
    scratch.chmod(0o1777)
    try:
        done = subprocess.run(
            [sys.executable, "-c", BESIDE, str(hostile), str(honest)],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(scratch)},
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    messages = found["messages"]
    assert messages and all("read 0 files of other probes" in m for m in messages), messages[:1]
    assert found["honest"] == registry.total_points()
