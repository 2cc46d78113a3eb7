"""Hidden cases (instructors only): references computed live from solutions/ for a secret seed.

Kept apart from the public references so that the student release can leave this file out: the
release has no solutions/ to run, and students never see the seed an instructor grades with.
"""

from __future__ import annotations

from grader import judge, references


def reference_outputs(case: judge.Case, timeout_scale: float = 1.0):
    """(outputs, "") computed by running solutions/ on this case, or (None, why not)."""
    if not (references.SOLUTIONS / "needle").is_dir():
        return None, "hidden cases need solutions/ (instructors only)"
    return references.reference_case(case, references.SOLUTIONS, timeout_scale)
