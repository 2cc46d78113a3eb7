"""Shared pytest set-up: the library under test is the reference in solutions/.

`solutions/` goes first on sys.path so that `import needle` and `import apps` load the reference;
`tests/` is added so that test modules can share helpers (`from checks import ...`).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "tests", ROOT / "solutions", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
