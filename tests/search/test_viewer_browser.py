"""The viewer page in headless Chromium (Debian's chromium + chromium-driver), served by the real app."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.live_api import serving
from tests.search.browsers import log_in
from tests.search.helpers import BASE_NS, NS, index_ours, our_doc


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


def test_viewer_header_fixed_width_times_and_whole_log_download(
    es, log_prefix, stores, execution, served, browser, downloads
):
    # Times whose shortest forms differ in length (no fraction, 1 ns, 1 us, 120 ms): shown at one width.
    offsets = [0, 1, 1_000, 120_000_000, NS, NS + 5]
    messages = ["first", "second", "third <b>x</b>", "fourth", "fifth", "sixth"]
    index_ours(
        es,
        log_prefix,
        [
            our_doc(execution.cluster_id, BASE_NS + ns, i + 1, m, "stderr" if i == 2 else "stdout")
            for i, (ns, m) in enumerate(zip(offsets, messages))
        ],
    )
    stores.executions.finish_execution(execution.id, "FAILED", error={"category": "DATA", "title": "Bad input"})
    exe = stores.executions.get_execution(execution.id)
    wait = WebDriverWait(browser, 15)
    browser.get(f"{served}/logs/{execution.id}")
    log = browser.find_element(By.ID, "log")
    wait.until(lambda _: "sixth" in log.text)

    def text(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).text

    wait.until(lambda _: text("job-type") != "")
    assert text("title") == f"Execution {execution.id} ({execution.cluster_id})"
    assert text("job-type") == "Test Job 1.0.0 [log-test]"
    assert text("exe-status") == "FAILED: DATA Bad input"
    assert "failed" in browser.find_element(By.ID, "exe-status").get_attribute("class")
    assert text("node") == "on node-1"
    started = exe.started.isoformat().replace("+00:00", "Z")
    ended = exe.ended.isoformat().replace("+00:00", "Z")
    assert text("times") == f"started {started} ended {ended}"
    job_link = browser.find_element(By.ID, "job-link")
    assert job_link.get_attribute("href") == f"{served}/v6/jobs/{execution.job_id}/"
    assert job_link.text == f"Job {execution.job_id}, try 1"
    times = [t.text for t in log.find_elements(By.CSS_SELECTOR, ".line .time")]
    assert times[:2] == ["2023-11-14T22:13:20.000000000Z", "2023-11-14T22:13:20.000000001Z"]
    assert len(times) == 6 and {len(t) for t in times} == {30}

    # Only the last two lines on the page; the download is the whole log of the stream.
    tail = browser.find_element(By.ID, "tail")
    tail.clear()
    tail.send_keys("2")
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", tail)
    wait.until(lambda _: "first" not in log.text and "sixth" in log.text)
    # Exactly the last two: each line is its time, then the message.
    shown = log.find_elements(By.CSS_SELECTOR, ".line")
    assert [line.text.removeprefix(line.find_element(By.CLASS_NAME, "time").text).strip() for line in shown] == [
        "fifth",
        "sixth",
    ]
    download = browser.find_element(By.ID, "download")
    assert download.get_attribute("download") == f"{execution.cluster_id}-combined.log"
    download.click()
    saved = downloads / f"{execution.cluster_id}-combined.log"
    wait.until(lambda _: saved.exists() and not list(downloads.glob("*.crdownload")))
    assert saved.read_text() == "\n".join(messages)

    Select(browser.find_element(By.ID, "stream")).select_by_value("stderr")
    wait.until(lambda _: download.get_attribute("download") == f"{execution.cluster_id}-stderr.log")
    assert download.get_attribute("href").endswith(f"/v6/job-executions/{execution.id}/logs/stderr/?format=txt")
    download.click()
    saved = downloads / f"{execution.cluster_id}-stderr.log"
    wait.until(lambda _: saved.exists() and not list(downloads.glob("*.crdownload")))
    assert saved.read_text() == "third <b>x</b>"


def test_a_token_in_the_fragment_leaves_the_address_at_once(es, log_prefix, stores, execution, make_client, browser):
    index_ours(es, log_prefix, [doc(execution, 0, 1, "read with the fragment's token", "stdout")])
    with serving(make_client(follow_max_seconds=20.0).app) as url:
        wait = WebDriverWait(browser, 15)
        browser.get(f"{url}/logs/{execution.id}#token=a-read-token")
        wait.until(lambda b: "read with the fragment's token" in b.find_element(By.ID, "log").text)
        # Out of the address (so out of this tab's history, bookmarks and copied links), kept for the tab only.
        assert browser.execute_script("return location.href") == f"{url}/logs/{execution.id}"
        assert browser.execute_script("return sessionStorage.getItem('scale-read-token')") == "a-read-token"
        browser.refresh()
        wait.until(lambda b: "read with the fragment's token" in b.find_element(By.ID, "log").text)


def test_viewer_opens_around_a_line_and_loads_more_above_and_below(es, log_prefix, execution, served, browser):
    index_ours(es, log_prefix, [doc(execution, i // 100, i, f"line {i}", "stdout") for i in range(1, 301)])
    wait = WebDriverWait(browser, 15)
    browser.get(f"{served}/logs/{execution.id}?around=150")
    log = browser.find_element(By.ID, "log")
    lines = lambda: [e.text.rsplit("line ", 1)[-1] for e in log.find_elements(By.CSS_SELECTOR, ".line")]  # noqa: E731
    wait.until(lambda _: len(lines()) == 101)
    assert lines()[0] == "100" and lines()[-1] == "200"
    anchor = log.find_elements(By.CSS_SELECTOR, ".line.anchor")
    assert [a.text.rsplit("line ", 1)[-1] for a in anchor] == ["150"]
    click(browser, "more-above")
    wait.until(lambda _: len(lines()) == 200)
    assert not browser.find_elements(By.ID, "more-above")  # the start of the log is shown
    click(browser, "more-below")
    wait.until(lambda _: len(lines()) == 300)
    assert lines() == [str(i) for i in range(1, 301)]


def click(browser, element_id: str) -> None:
    """Click a button after scrolling it to the middle of the window (the sticky header covers the top)."""
    button = browser.find_element(By.ID, element_id)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
