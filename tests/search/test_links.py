from datetime import UTC, datetime
from urllib.parse import unquote

from search.links import kibana_discover_url, log_url, viewer_url


def test_log_and_viewer_urls():
    assert log_url("http://api:8000/", 12) == "http://api:8000/v6/job-executions/12/logs/combined/"
    assert log_url("https://x", 3, "stderr") == "https://x/v6/job-executions/3/logs/stderr/"
    assert viewer_url("http://api:8000", 12) == "http://api:8000/logs/12"


def test_kibana_discover_url():
    assert kibana_discover_url(None, "scale_job_1x1") is None
    assert kibana_discover_url("http://kibana:5601", None) is None
    url = kibana_discover_url("http://kibana:5601/", "scale_job_1x1")
    assert url.startswith("http://kibana:5601/app/discover#/?_g=(time:(from:now-30d,to:now))&_a=(")
    assert "dataSource:(dataViewId:'scalelogs',type:dataView)" in url
    assert "query:(language:kuery,query:'scale_job_exe:\"scale_job_1x1\"')" in unquote(url)
    started = datetime(2024, 1, 1, 12, tzinfo=UTC)
    url = unquote(kibana_discover_url("http://k", "it's\"odd", started, datetime(2024, 1, 1, 13, tzinfo=UTC)))
    assert "_g=(time:(from:'2024-01-01T11:59:00Z',to:'2024-01-01T13:01:00Z'))" in url
    assert "query:'scale_job_exe:\"it!'s\\\"odd\"'" in url  # Rison escapes ' as !', KQL escapes " as \"
    running = unquote(kibana_discover_url("http://k", "a", started))
    assert "to:now" in running
