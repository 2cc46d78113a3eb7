"""Run a notebook in a real kernel, for the notebook tests (`from kernel import execute`)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

CELL_TIMEOUT = 300  # seconds for one cell; the longest (a few epochs of training) takes seconds


def execute(
    path: Path, use_solutions: bool = False, nb: nbformat.NotebookNode | None = None
) -> nbformat.NotebookNode:
    """Run a notebook (`nb`, else the one at `path`) top to bottom in a fresh ipykernel of this
    interpreter, from the folder of `path`, stopping at the first cell that raises, as
    JupyterLab's Run All does (nbclient's CellExecutionError then fails the test).

    The kernel is "python3" resolved by ipykernel itself (no kernel spec directories searched),
    i.e. the interpreter running the tests, so nothing needs installing on a fresh machine.
    `use_solutions` sets NEEDLEWORK_SOLUTIONS=1 (needle from solutions/, not hw/).
    """
    env = {key: value for key, value in os.environ.items() if key != "NEEDLEWORK_SOLUTIONS"}
    if use_solutions:
        env["NEEDLEWORK_SOLUTIONS"] = "1"
    env["MPLBACKEND"] = "agg"  # the notebooks switch to inline; never open a window
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    manager = AsyncKernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    client = NotebookClient(
        nb,
        km=manager,
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    client.execute(env=env)
    return nb
