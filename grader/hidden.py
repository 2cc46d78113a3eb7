"""Hidden cases (instructors only): references computed live from solutions/ for a secret seed.

Kept apart from the public references so that the student release can leave this file out: the
release has no solutions/ to run, and students never see the seed an instructor grades with.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from grader import references
from grader.cases import Case


def exposure_warning(solutions: Path = references.SOLUTIONS) -> str:
    """Why probes could read the solutions by absolute path, or "" if they cannot.

    Probes drop to an unprivileged user only when the grader runs as root; then solutions/ is
    safe when the probe user cannot enter it (no search permission for others on it or above)."""
    if os.geteuid() != 0:
        return "not running as root: probes run as you and can read solutions/"
    folder = solutions.resolve()
    for path in [*reversed(folder.parents), folder]:
        try:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return ""
        except OSError:
            return ""
    return f"{folder} is readable by other users; `chmod -R go-rwx {folder}` keeps it from probes"


def reference_outputs(case: Case, timeout_scale: float = 1.0, tree=None):
    """(outputs, "") computed by running solutions/ on this case, or (None, why not); `tree`:
    solutions/ already read (see references.reference_case)."""
    if not (references.SOLUTIONS / "needle").is_dir():
        return None, "hidden cases need solutions/ (instructors only)"
    return references.reference_case(case, references.SOLUTIONS, timeout_scale, tree)
