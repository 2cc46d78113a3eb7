#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image; the bundle is unpacked
# in $ROOT/source. It makes a virtual environment, $ROOT/venv, with a Python >= 3.11 (what the pinned
# numpy and scipy need) and the bundle's pinned requirements; run_autograder uses that environment.
# A virtual environment, not the system pip: Ubuntu 24.04 refuses system-wide pip installs.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

PYTHON="$(find_python || true)"
if [ -z "$PYTHON" ]; then
    # Ubuntu 22.04's python3 is 3.10; its universe component has 3.11.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
if ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
    VERSION="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "python${VERSION}-venv"
fi

"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --no-cache-dir --quiet -r "$SOURCE/requirements.txt"
"$ROOT/venv/bin/python" -c 'import numpy, scipy, numdifftools; print("setup: numpy", numpy.__version__)'

# The answers (hidden-case references and seed) are readable by root only; run_autograder checks
# this again before every run.
if [ "$(id -u)" = 0 ]; then
    chown -R root:root "$SOURCE"
fi
chmod 700 "$SOURCE/answers"
chmod 600 "$SOURCE/answers/"*
