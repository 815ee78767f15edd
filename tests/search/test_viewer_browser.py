"""The viewer page in headless Chromium (Debian's chromium + chromium-driver), served by the real app."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.search.helpers import BASE_NS, NS, index_ours, our_doc

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(app):
    server = make_server("127.0.0.1", 0, app, server_class=ThreadingServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served(make_client):
    """The app on 127.0.0.1 in a server thread; follows end within 20 s so the server can stop."""
    with serving(make_client(follow_max_seconds=20.0).app) as url:
        yield url


@pytest.fixture
def served_read_token(make_client):
    """The same in READ_TOKEN mode: every read needs a token or a session."""
    with serving(make_client(follow_max_seconds=20.0, read_token="a-read-token").app) as url:
        yield url


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
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
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def doc(exe, seconds: int, order: int, message: str, stream: str) -> dict:
    return our_doc(exe.cluster_id, BASE_NS + seconds * NS, order, message, stream)


def test_viewer_shows_lines_switches_stream_and_follows(es, log_prefix, stores, execution, served, browser):
    index_ours(
        es,
        log_prefix,
        [
            doc(execution, 0, 1, "hello from stdout", "stdout"),
            doc(execution, 1, 2, "oops on stderr", "stderr"),
            doc(execution, 2, 3, "<b>not bold</b><img src=x onerror=alert(1)>", "stdout"),
        ],
    )
    wait = WebDriverWait(browser, 15)
    browser.get(f"{served}/logs/{execution.id}")
    log = browser.find_element(By.ID, "log")
    wait.until(lambda _: "hello from stdout" in log.text and "oops on stderr" in log.text)
    assert "<b>not bold</b><img src=x onerror=alert(1)>" in log.text  # shown as text ...
    assert log.find_elements(By.CSS_SELECTOR, "b, img") == []  # ... never as markup
    assert log.find_elements(By.CSS_SELECTOR, ".line.stderr")[0].text.endswith("oops on stderr")

    Select(browser.find_element(By.ID, "stream")).select_by_value("stderr")
    wait.until(lambda _: "hello from stdout" not in log.text and "oops on stderr" in log.text)

    browser.find_element(By.ID, "follow").click()
    status = browser.find_element(By.ID, "status")
    wait.until(lambda _: status.text.startswith("Following"))
    index_ours(
        es,
        log_prefix,
        [
            doc(execution, 3, 4, "a followed line", "stderr"),
            doc(execution, 3, 5, "followed stdout stays hidden", "stdout"),
        ],
    )
    wait.until(lambda _: "a followed line" in log.text)
    assert "followed stdout stays hidden" not in log.text
    stores.executions.finish_execution(execution.id, "COMPLETED")
    wait.until(lambda _: "ended" in status.text)

    box = browser.find_element(By.ID, "search")
    box.send_keys("oops")
    box.submit()
    wait.until(lambda _: log.find_elements(By.TAG_NAME, "mark"))
    assert [m.text for m in log.find_elements(By.TAG_NAME, "mark")] == ["oops"]
    assert "a followed line" not in log.text


def log_in(browser, wait, username: str, password: str) -> None:
    form = wait.until(lambda b: next((f for f in b.find_elements(By.ID, "login-form") if f.is_displayed()), None))
    for field_id, value in (("login-username", username), ("login-password", password)):
        box = form.find_element(By.ID, field_id)
        box.clear()
        box.send_keys(value)
    form.find_element(By.ID, "login-submit").click()


def test_viewer_logs_in_with_a_session_in_read_token_mode(
    es, log_prefix, stores, execution, served_read_token, browser
):
    stores.users.add_user("reader1", "the reader's password")
    index_ours(es, log_prefix, [doc(execution, 0, 1, "a line behind the login", "stdout")])
    wait = WebDriverWait(browser, 15)
    browser.get(f"{served_read_token}/logs/{execution.id}")
    # No session: the server answers the page with the login form (its 401); a wrong password says so.
    assert browser.find_element(By.ID, "login-page")
    log_in(browser, wait, "reader1", "not the password")
    message = browser.find_element(By.ID, "login-message")
    wait.until(lambda _: message.text == "Invalid username/password.")
    assert browser.get_cookie("sessionid") is None
    log_in(browser, wait, "reader1", "the reader's password")
    # Logged in: the page loads again, now the viewer, and reads the log with the session cookie.
    log = wait.until(lambda b: b.find_element(By.ID, "log"))
    wait.until(lambda _: "a line behind the login" in log.text)
    session = browser.get_cookie("sessionid")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert not browser.get_cookie("csrftoken")["httpOnly"]
    assert browser.execute_script("return document.cookie").count("sessionid") == 0  # not readable by scripts

    # The session ends while the viewer is open: its next read answers 401 and the viewer shows the form itself.
    browser.delete_cookie("sessionid")
    Select(browser.find_element(By.ID, "stream")).select_by_value("stdout")
    log_in(browser, wait, "reader1", "the reader's password")
    wait.until(lambda b: "a line behind the login" in b.find_element(By.ID, "log").text)
    assert not any(f.is_displayed() for f in browser.find_elements(By.ID, "login-form"))
