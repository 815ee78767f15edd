"""The search page (/search) in headless Chromium, served by the real app over one corpus of 10,550 lines in
real Elasticsearch, indexed once for the module (each test builds its own database with the same runs, so the
cluster ids match: scale_job_{job id}x1)."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from jobs.saved_search_store import Caller
from search.walk import decode
from tests.conftest import remove_log_indices
from tests.factories import manifest
from tests.live_api import serving
from tests.search.browsers import log_in
from tests.search.helpers import BASE_NS, NS, index_ours, our_doc

# The runs, in the order their jobs are made: (job type, version, node, how it ends, lines: (count, step in ns)).
RUNS = (
    ("ingest-scan", "1.0.0", "node-1", ("FAILED", {"category": "DATA", "title": "Bad tile"}), 10_200),
    ("ingest-scan", "2.0.0", "node-2", ("COMPLETED", None), 300),
    ("render", "1.0.0", "node-1", (None, None), 50),
)
SCAN_MATCHES = 10_500  # every line of the two ingest-scan runs says "scan"
SCAN_STDERR = 102  # every 100th line of the first run


def lines_of_run(n: int) -> list[dict]:
    name, version, node, _end, count = RUNS[n]
    cluster = f"scale_job_{n + 1}x1"
    docs = []
    for i in range(1, count + 1):
        if name == "render":
            ns, message, stream = BASE_NS + i * 60 * NS, f"render frame {i} done", "stdout"
        elif n == 0:
            stderr = i % 100 == 0
            ns = BASE_NS + i * 350_000_000
            message = f"scan error tile {i}: checksum mismatch" if stderr else f"scan tile {i} ok"
            stream = "stderr" if stderr else "stdout"
        else:
            ns, message, stream = BASE_NS + 1_800 * NS + i * 2 * NS, f"scan tile {i} ok (v2)", "stdout"
        extra = {"scale_job_type": name, "scale_job_version": version, "scale_job_id": str(n + 1)}
        docs.append(
            our_doc(cluster, ns, i, message, stream, scale_node=node, host=node, scale_job_exe_num="1", **extra)
        )
    return docs


@pytest.fixture(scope="module")
def log_prefix(es) -> str:
    """The module's log indices (the corpus below), shared by its tests; removed at the end."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    remove_log_indices(es, prefix)


@pytest.fixture(scope="module")
def corpus(es, log_prefix) -> None:
    index_ours(es, log_prefix, [d for n in range(len(RUNS)) for d in lines_of_run(n)])


@pytest.fixture
def runs(corpus, stores) -> list:
    """This test's database: the corpus's runs, made in order (job n+1, execution scale_job_{n+1}x1)."""
    made = []
    for name, version, node, (status, error), _count in RUNS:
        job_type, _ = stores.job_types.save_job_type("img:1", manifest(name, version=version, command="run"))
        exe = stores.executions.start_execution(stores.jobs.create_job(job_type.id, {}), node)
        if status:
            stores.executions.finish_execution(exe.id, status, error=error)
        made.append(exe)
    assert [e.cluster_id for e in made] == [f"scale_job_{n}x1" for n in range(1, len(RUNS) + 1)]
    return made


def query_of(browser) -> dict:
    return parse_qs(urlsplit(browser.current_url).query)


def total(browser) -> str:
    return browser.find_element(By.ID, "total").text


def test_query_chart_drag_groups_keyboard_and_context(runs, served, browser):
    wait = WebDriverWait(browser, 30)
    browser.get(f"{served}/search")
    box = browser.find_element(By.ID, "q")
    box.send_keys("scan", Keys.ENTER)
    wait.until(lambda b: total(b) == "10,500 matches")
    assert query_of(browser) == {"q": ["scan"]}  # the search is in the address: a link shares it
    assert browser.find_elements(By.CSS_SELECTOR, "#chart canvas")  # uPlot drew the matches over time
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#results a.hit")) >= 500)
    first = browser.find_element(By.CSS_SELECTOR, "#results a.hit")
    assert [m.text for m in first.find_elements(By.TAG_NAME, "mark")] == ["scan"]

    # The stream filter: stderr only (in the address too).
    Select(browser.find_element(By.ID, "f-stream")).select_by_value("stderr")
    wait.until(lambda b: total(b) == f"{SCAN_STDERR} matches")
    assert query_of(browser) == {"q": ["scan"], "stream": ["stderr"]}
    wait.until(lambda b: b.find_element(By.ID, "status").text == f"Showing {SCAN_STDERR} of {SCAN_STDERR} lines")
    shown = browser.find_elements(By.CSS_SELECTOR, "#results a.hit")
    assert len(shown) == SCAN_STDERR and all("stderr" in r.get_attribute("class").split() for r in shown)

    # Dragging across the chart narrows the window to the buckets it covers.
    over = browser.find_element(By.CSS_SELECTOR, "#chart .u-over")
    width = over.rect["width"]
    ActionChains(browser).move_to_element_with_offset(over, int(-width * 0.45), 0).click_and_hold().move_by_offset(
        int(width * 0.4), 0
    ).release().perform()
    wait.until(lambda b: "started" in query_of(b) and "ended" in query_of(b))
    wait.until(lambda b: total(b).endswith("matches") and total(b) != f"{SCAN_STDERR} matches")
    narrowed = int(total(browser).split()[0].replace(",", ""))
    assert 0 < narrowed < SCAN_STDERR
    wait.until(lambda b: b.find_element(By.ID, "status").text == f"Showing {narrowed} of {narrowed} lines")
    browser.find_element(By.ID, "zoom-out").click()
    wait.until(lambda b: total(b) == f"{SCAN_STDERR} matches" and "started" not in query_of(b))

    # Grouped by execution: one row, the failed run, its status colour, its count and first match.
    browser.find_element(By.ID, "view-execution").click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#results a.group"))
    (group,) = browser.find_elements(By.CSS_SELECTOR, "#results a.group")
    badge = group.find_element(By.CLASS_NAME, "badge")
    assert badge.text == "FAILED" and "failed" in badge.get_attribute("class").split()
    assert "Job 1, try 1" in group.text and "102 matching lines" in group.text
    assert "scan error tile 100: checksum mismatch" in group.text
    assert query_of(browser)["view"] == ["execution"]

    # Back to lines; the keyboard: / to the query, j to the first line, Enter opens the viewer at it.
    browser.back()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#results a.hit")) == SCAN_STDERR)
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    assert browser.switch_to.active_element == browser.find_element(By.ID, "q")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    newest = browser.find_element(By.CSS_SELECTOR, "#results a.hit")
    assert newest.text.endswith("scan error tile 10200: checksum mismatch")  # newest first
    ActionChains(browser).send_keys("j").perform()
    assert "selected" in newest.get_attribute("class").split()
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait.until(lambda b: urlsplit(b.current_url).path == f"/logs/{runs[0].id}")
    assert query_of(browser) == {"around": ["10200"]}
    anchor = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#log .line.anchor"))
    assert [a.text.endswith("scan error tile 10200: checksum mismatch") for a in anchor] == [True]
    lines = browser.find_elements(By.CSS_SELECTOR, "#log .line")
    assert len(lines) == 51 and lines[0].text.endswith("scan tile 10150 ok")  # the 50 before (it is the last)
    assert "failed" in browser.find_element(By.ID, "exe-status").get_attribute("class").split()


def test_scrolls_past_10000_matches_exports_and_fits_a_phone(runs, stores, served_read_token, browser, downloads):
    """In READ_TOKEN mode, logged in with a session: every read, the export's download too, goes with it."""
    stores.users.add_user("reader1", "the reader's password")
    wait = WebDriverWait(browser, 60)
    browser.get(f"{served_read_token}/search?q=scan&order=timestamp")
    assert browser.find_element(By.ID, "login-page")  # no session: the login form, with the 401
    log_in(browser, wait, "reader1", "the reader's password")
    status = wait.until(lambda b: b.find_element(By.ID, "status"))  # the page itself, once logged in
    wait.until(lambda b: status.text.startswith("Showing"))
    # Scrolling loads the walk's next pages (cursor links) until every match is shown: no 10,000 cap.
    everything = f"Showing {SCAN_MATCHES:,} of {SCAN_MATCHES:,} lines"
    count = lambda: browser.execute_script("return document.querySelectorAll('#results a.hit').length")  # noqa: E731
    deadline = time.monotonic() + 120
    while status.text != everything and time.monotonic() < deadline:
        before = count()
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        wait.until(lambda _: count() > before or status.text == everything)
    assert status.text == f"Showing {SCAN_MATCHES:,} of {SCAN_MATCHES:,} lines"
    orders = browser.execute_script(
        "return [...document.querySelectorAll('#results a.hit')].map((a) => a.getAttribute('href'))"
    )
    assert len(orders) == SCAN_MATCHES and len(set(orders)) == SCAN_MATCHES  # each match once
    assert browser.find_element(By.ID, "end-note").text == "The end: every match is shown."

    # Export of the current search: every match, oldest first.
    browser.execute_script("window.scrollTo(0, 0)")
    browser.find_element(By.ID, "export-ndjson").click()
    saved = downloads / "logs.ndjson"
    wait.until(lambda _: saved.exists() and not list(downloads.glob("*.crdownload")))
    exported = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(exported) == SCAN_MATCHES
    assert exported[0]["message"] == "scan tile 1 ok" and exported[0]["job_id"] == 1
    assert [e["@timestamp"] for e in exported] == sorted(e["@timestamp"] for e in exported)

    # A phone-width window: one column, nothing wider than the window.
    browser.set_window_size(390, 844)
    wait.until(lambda b: b.execute_script("return innerWidth") <= 390)
    assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth")
    facets, results = browser.find_element(By.ID, "facets-box"), browser.find_element(By.ID, "results-pane")
    assert facets.rect["y"] < results.rect["y"] and facets.rect["x"] == results.rect["x"]


def test_an_expired_walk_says_so_and_searches_again(es, runs, served, browser):
    """The walk's point-in-time closed under the page (as when it expires): the next page's 410 becomes a message
    and a "Search again" button, which starts the search over."""
    wait = WebDriverWait(browser, 60)
    browser.get(f"{served}/search?q=scan&order=timestamp")
    status = wait.until(lambda b: b.find_element(By.ID, "status"))
    wait.until(lambda b: status.text == f"Showing 500 of {SCAN_MATCHES:,} lines")
    following = browser.find_element(By.ID, "sentinel").get_attribute("data-next")
    es.close_point_in_time(id=decode(parse_qs(urlsplit(following).query)["cursor"][0]).pit_id)
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    again = wait.until(lambda b: b.find_elements(By.ID, "search-again"))[0]
    assert status.text == "These results expired."
    assert "run it again" in browser.find_element(By.ID, "end-note").text
    again.click()
    wait.until(lambda b: status.text == f"Showing 500 of {SCAN_MATCHES:,} lines")
    assert browser.find_elements(By.ID, "search-again") == []
    assert browser.execute_script("return document.querySelectorAll('#results a.hit').length") == 500


def test_facets_beside_the_results_a_click_filters_and_regex(runs, served, browser):
    wait = WebDriverWait(browser, 30)
    browser.get(f"{served}/search?q=scan")
    wait.until(lambda b: total(b) == "10,500 matches")
    # Open mode, no credential: saved searches need a login, offered (not forced) in their closed panel.
    saved = browser.find_element(By.ID, "saved-list")
    wait.until(lambda _: saved.get_attribute("textContent") == "Log in to keep saved searches. Log in")
    assert not browser.find_element(By.ID, "save-form").is_displayed() and not browser.find_elements(
        By.ID, "login-form"
    )
    # 1280x800: the facets beside the results, nothing wider than the window.
    facets = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, '.facet[data-field="stream"] .facet-value'))
    assert browser.find_element(By.ID, "facets-box").rect["x"] < browser.find_element(By.ID, "results-pane").rect["x"]
    assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth")
    counts = {f.get_attribute("data-value"): f.find_element(By.CLASS_NAME, "count").text for f in facets}
    assert counts == {"stdout": "10,398", "stderr": str(SCAN_STDERR)}
    types = browser.find_elements(By.CSS_SELECTOR, '.facet[data-field="job_type"] .facet-value')
    assert {t.get_attribute("data-value") for t in types} == {"ingest-scan"}
    statuses = {
        s.get_attribute("data-value"): s.find_element(By.CLASS_NAME, "count").text
        for s in browser.find_elements(By.CSS_SELECTOR, '.facet[data-field="status"] .facet-value')
    }
    assert statuses == {"FAILED": "10,200", "COMPLETED": "300"}

    # A click on a facet filters by it; a click on the active one (or its chip) removes the filter.
    next(
        s
        for s in browser.find_elements(By.CSS_SELECTOR, '.facet[data-field="status"] .facet-value')
        if s.get_attribute("data-value") == "COMPLETED"
    ).click()
    wait.until(lambda b: total(b) == "300 matches")
    assert query_of(browser) == {"q": ["scan"], "status": ["COMPLETED"]}
    wait.until(lambda b: b.find_element(By.ID, "status").text == "Showing 300 of 300 lines")
    assert all("ingest-scan 2.0.0" in r.text for r in browser.find_elements(By.CSS_SELECTOR, "#results a.hit"))
    active = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".facet-value.active"))
    assert [a.get_attribute("data-value") for a in active] == ["COMPLETED"]
    browser.find_element(By.CSS_SELECTOR, "#chips .chip").click()
    wait.until(lambda b: total(b) == "10,500 matches" and "status" not in query_of(b))

    # regex: in the box searches by pattern (the regex= parameter), kept in the address as typed.
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("regex:.*tile 1019[0-9] ok", Keys.ENTER)
    wait.until(lambda b: total(b) == "10 matches")
    assert query_of(browser) == {"q": ["regex:.*tile 1019[0-9] ok"]}
    wait.until(lambda b: b.find_element(By.ID, "status").text == "Showing 10 of 10 lines")
    shown = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#results a.hit")]
    assert [line.rsplit(" ", 2)[-2] for line in shown] == [str(n) for n in range(10199, 10189, -1)]


def test_save_a_search_open_it_from_the_list_and_delete_it(runs, stores, served_read_token, browser):
    """A read-only user logged in with a session (its writes carry the session's CSRF token) keeps a search."""
    stores.users.add_user("reader2", "another reader's password")
    wait = WebDriverWait(browser, 30)
    browser.get(f"{served_read_token}/search?q=scan&stream=stderr&view=execution")
    log_in(browser, wait, "reader2", "another reader's password")
    wait.until(lambda b: b.find_elements(By.ID, "total") and total(b) == f"{SCAN_STDERR} matches")

    def open_saved(b):
        box = b.find_element(By.ID, "saved-box")
        if box.get_attribute("open") is None:
            box.find_element(By.TAG_NAME, "summary").click()
        return box.find_element(By.ID, "save-form").is_displayed()

    wait.until(open_saved)
    wait.until(lambda b: b.find_element(By.ID, "saved-list").text == "None yet.")
    browser.find_element(By.ID, "save-name").send_keys("stderr of the scans")
    browser.find_element(By.ID, "save-submit").click()
    links = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#saved-list .saved-item a.saved-link"))
    assert [a.text for a in links] == ["stderr of the scans"]
    assert browser.find_element(By.ID, "saved-message").text == "Saved stderr of the scans"
    (kept,) = stores.saved_searches.visible(Caller("reader2"))
    assert (kept.owner, kept.query, kept.shared) == ("reader2", "q=scan&stream=stderr", False)  # the view is the page's

    # Another search, then the saved one from the list: the same address and matches again.
    browser.get(f"{served_read_token}/search?q=render")
    wait.until(lambda b: total(b) == "50 matches")
    wait.until(open_saved)
    link = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#saved-list a.saved-link"))[0]
    link.click()
    wait.until(lambda b: query_of(b) == {"q": ["scan"], "stream": ["stderr"]} and total(b) == f"{SCAN_STDERR} matches")
    wait.until(lambda b: b.find_element(By.ID, "status").text == f"Showing {SCAN_STDERR} of {SCAN_STDERR} lines")

    # Its owner deletes it.
    wait.until(open_saved)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#saved-list .saved-delete"))[0].click()
    wait.until(lambda b: b.find_element(By.ID, "saved-list").text == "None yet.")
    assert browser.find_element(By.ID, "saved-message").text == "Deleted stderr of the scans"
    assert stores.saved_searches.visible(Caller("reader2")) == []

    # With the READ_TOKEN itself (a bearer token, no CSRF token needed) the shared reader saves one too, shared.
    browser.get(f"{served_read_token}/search?q=render#token=a-read-token")
    wait.until(lambda b: total(b) == "50 matches")
    wait.until(open_saved)
    wait.until(lambda b: b.find_element(By.ID, "saved-list").text == "None yet.")
    browser.find_element(By.ID, "save-name").send_keys("renders")
    browser.find_element(By.CSS_SELECTOR, "#save-form label").click()  # the Shared switch
    browser.find_element(By.ID, "save-submit").click()
    wait.until(lambda b: [a.text for a in b.find_elements(By.CSS_SELECTOR, "#saved-list a.saved-link")] == ["renders"])
    (kept,) = stores.saved_searches.visible(Caller(None))  # shared: anyone sees it
    assert (kept.owner, kept.query, kept.shared) == ("reader", "q=render", True)


def test_live_mode_appends_a_new_match(runs, stores, make_client, auth, browser):
    """Last in the module: it adds a run and a line to the shared corpus. The line comes through the ingest route
    (the shipper stamps the arrival time a search follow moves along)."""
    job_type, _ = stores.job_types.save_job_type("img:1", manifest("render", command="run"))
    newcomer = stores.executions.start_execution(stores.jobs.create_job(job_type.id, {}), "node-3")
    client = make_client(follow_max_seconds=20.0)
    with serving(client.app) as served:
        wait = WebDriverWait(browser, 30)
        browser.get(f"{served}/search?q=render&live=true")
        wait.until(lambda b: b.find_element(By.ID, "total").text == "50 matches")
        live = browser.find_element(By.ID, "live-lines")
        wait.until(lambda _: "waiting" in live.text)
        body = b"".join(
            json.dumps({"message": m, "stream": "stdout"}).encode() + b"\n"
            for m in ("render frame 51 done", "a line the search does not match")
        )
        sent = client.simulate_post(
            f"/v6/job-executions/{newcomer.id}/logs/",
            body=body,
            headers={**auth, "Content-Type": "application/x-ndjson"},
        )
        assert sent.status_code == 202, sent.text
        wait.until(lambda _: "render frame 51 done" in live.text)
        rows = live.find_elements(By.CSS_SELECTOR, "a.hit")
        assert len(rows) == 1 and rows[0].get_attribute("href").endswith(f"/logs/{newcomer.id}?around=1")
        assert "1 new match" in live.text and "does not match" not in live.text
        assert "node-3" in rows[0].text and [m.text for m in rows[0].find_elements(By.TAG_NAME, "mark")] == ["render"]
