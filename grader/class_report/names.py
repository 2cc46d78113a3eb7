"""How the report names submissions: by folder name, or (`--anonymous`) by a stable pseudonym.

A pseudonym is `student-` and the first 8 hex digits of HMAC-SHA256(key, folder name). The key is
32 random bytes kept in a key file (64 hex digits, created on first use, readable by its owner
only), so the same folder gets the same pseudonym in every report made with that key, while
nobody without the key can recompute the pseudonym from a class list. Two folders whose digests
agree on 8 digits (about one class in 200,000 at 200 students) are told apart by a suffix.

Texts shown next to a pseudonym (a crash's last line of stderr, a grader error) may name the
student's folder; `Names.scrub` replaces the submission's path and its folder name there.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

KEY_BYTES = 32
DEFAULT_KEY_FILE = "pseudonym.key"  # beside the saved batch results


class KeyFileError(ValueError):
    """The key file exists but does not hold a key."""


def load_key(path: Path) -> bytes:
    """The key in `path`, written there (mode 0600) first if the file does not exist."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key.hex() + "\n")
        return key
    text = path.read_text().strip()
    if not re.fullmatch(rf"[0-9a-f]{{{2 * KEY_BYTES}}}", text):
        raise KeyFileError(
            f"{path} does not hold a pseudonym key ({2 * KEY_BYTES} hex digits on one line); "
            "remove it to have a new one made (pseudonyms then change)"
        )
    return bytes.fromhex(text)


def report_key(anonymous: bool, key_file: Path | None, results_file: Path) -> bytes | None:
    """The key `--anonymous` uses: from `key_file`, by default pseudonym.key beside the saved
    batch results; None without --anonymous."""
    if not anonymous:
        return None
    return load_key(key_file or Path(results_file).parent / DEFAULT_KEY_FILE)


def pseudonym(name: str, key: bytes) -> str:
    digest = hmac.new(key, name.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
    return f"student-{digest[:8]}"


class Names:
    """Display names of a batch's submissions (keyed by RunResult.submission, a folder path)."""

    def __init__(self, submissions: list[str], key: bytes | None = None) -> None:
        self.anonymous = key is not None
        self._shown: dict[str, str] = {}
        taken: set[str] = set()
        for submission in submissions:
            folder = Path(submission).name
            shown = pseudonym(folder, key) if key is not None else folder
            base, number = shown, 2
            while shown in taken:  # two folders of the same name, or an 8-digit collision
                shown, number = f"{base}-{number}", number + 1
            taken.add(shown)
            self._shown[submission] = shown

    def __call__(self, submission: str) -> str:
        return self._shown[submission]

    def scrub(self, text: str, submission: str) -> str:
        """`text` with the submission's path shown as <submission>; with pseudonyms, also every
        occurrence of its folder name as a whole token (not inside a longer word)."""
        text = text.replace(str(submission), "<submission>")
        if self.anonymous:
            folder = re.escape(Path(submission).name)
            text = re.sub(rf"(?<![\w.-]){folder}(?![\w-])", self._shown[submission], text)
        return text
