"""Headless Chromium (Debian's chromium + chromium-driver) for the page tests (tests/live_api.py serves the app)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Selenium would otherwise try to send usage statistics: these machines have no internet.
os.environ["SE_AVOID_STATS"] = "true"


@contextmanager
def chromium(profile: Path, downloads: Path, width: int = 1280, height: int = 800) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()


def log_in(browser, wait, username: str, password: str) -> None:
    """Fill and send the login form (login.js) once it shows."""
    form = wait.until(lambda b: next((f for f in b.find_elements(By.ID, "login-form") if f.is_displayed()), None))
    for field_id, value in (("login-username", username), ("login-password", password)):
        box = form.find_element(By.ID, field_id)
        box.clear()
        box.send_keys(value)
    form.find_element(By.ID, "login-submit").click()
