"""needlework's grader: problems, runner (untrusted side), judge (trusted side), reports, CLI.

Layers, each importing only those above it in this list:
  regions, channel, compare, problems   data and helpers shared by both sides (numpy only)
  cases, submission, upload              what is graded: seeded cases; a submission's files
  runner                                 one case in one isolated probe process: facts back
  references, hidden                     the reference outputs of cases
  judge                                  outputs -> results, and every student-facing text
  pipeline                               grade(): the one pipeline every entry point calls
  report, junit, ...                     views of the result data
  grade, batch, notebook, gradescope     entry points
"""

from pathlib import Path

# The kit folder: grader/, solutions/ (instructors only), hw/, notebooks/.
REPO_ROOT = Path(__file__).resolve().parent.parent
