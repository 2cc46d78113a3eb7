"""The headless browser the page and JupyterLab tests drive (Debian's chromium, via selenium)."""

from __future__ import annotations

import shutil

import pytest


def find_browser() -> tuple[str, str]:
    """(Chromium, chromedriver) on the PATH, or skip saying how to install them."""
    browsers = [shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")]
    browser = next((path for path in browsers if path), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip(
            "no Chromium browser and chromedriver on the PATH: install them "
            "(Debian/Ubuntu: `apt-get install chromium chromium-driver`, as .ci/run does)"
        )
    return browser, driver
