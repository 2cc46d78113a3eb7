#!/usr/bin/env bash
# PrairieLearn runs this for every submission, as root, as the question's external-grading
# entrypoint (/grade/serverFilesCourse/needlework/run.sh). It grades /grade/student with the grader
# next to this script and writes /grade/results/results.json. Whatever happens, a results.json is
# written: the Python side writes one for every failure it can catch (a grader failure: "gradable"
# false), and the last lines below write one when Python could not run or was killed.
#
# Environment (for trying it outside PrairieLearn):
#   NEEDLEWORK_GRADE_ROOT   the grading job's folder (default /grade)
#   NEEDLEWORK_PYTHON       the interpreter (default python3: the image's)
#   NEEDLEWORK_DEADLINE     seconds before the whole run is stopped (default 570; keep it below
#                           externalGradingOptions.timeout, at most 600)
set -u

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${NEEDLEWORK_GRADE_ROOT:-/grade}"
RESULTS="$ROOT/results"
PYTHON="${NEEDLEWORK_PYTHON:-python3}"
export NEEDLEWORK_GRADE_ROOT="$ROOT"

mkdir -p "$RESULTS"
rm -f "$RESULTS/results.json"

# The hidden answers are root-only; student code runs under an unprivileged uid and can neither
# read them nor write the results folder. (A course repository does not keep file modes.)
if [ -d "$HERE/answers" ]; then
    chmod 700 "$HERE/answers"
    chmod 600 "$HERE/answers/"*
fi
if [ "$(id -u)" = 0 ]; then
    chown -R root:root "$HERE"
    chown root:root "$RESULTS"
    chmod 755 "$RESULTS"
fi

cd "$HERE" || exit 0
timeout --signal=KILL "${NEEDLEWORK_DEADLINE:-570}" "$PYTHON" -m grader prairielearn --root "$ROOT"
STATUS=$?

if ! "$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "$RESULTS/results.json" \
    2>/dev/null; then
    if [ "$STATUS" = 137 ]; then
        WHY="grading did not finish within ${NEEDLEWORK_DEADLINE:-570} s"
    else
        WHY="the grader stopped with exit status $STATUS before writing results"
    fi
    cat >"$RESULTS/results.json" <<JSON
{
  "gradable": false,
  "message": "The grader could not grade this submission: $WHY. This is not a judgement of your code and costs no attempt; please tell the course staff.",
  "format_errors": ["The grader could not grade this submission: $WHY."],
  "tests": []
}
JSON
fi
exit 0
