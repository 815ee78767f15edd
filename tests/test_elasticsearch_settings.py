"""Connecting to real clusters, as configured: ELASTICSEARCH_URL with several nodes or credentials in it, API
keys, users, TLS variables, replicas and retention; secrets never in a repr or a description. No node needed:
what the client is given is checked on a real client object."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.elastic import connection_options, describe, elasticsearch_client, hosts
from ingest.retention import expired, first_kept_day, index_day, prunes_daily
from ingest.template import LogTemplate
from settings import ConfigurationError, Settings

PASSWORD = "s3cr3t:p@ss/word"
API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


def from_env(tmp_path, **env) -> Settings:
    return Settings.from_env({"DATA_DIR": str(tmp_path), "API_TOKEN": "admin-token", **env})


def test_several_nodes_and_credentials_written_in_the_url(tmp_path):
    quoted = "s3cr3t%3Ap%40ss%2Fword"
    s = from_env(tmp_path, ELASTICSEARCH_URL=f"https://scale:{quoted}@es1:9200/, https://scale:{quoted}@es2:9200")
    # The URL keeps the nodes only; the user and the (percent-decoded) password move to their fields.
    assert s.elasticsearch_url == "https://es1:9200,https://es2:9200"
    assert (s.elasticsearch_username, s.elasticsearch_password) == ("scale", PASSWORD)
    assert hosts(s) == ["https://es1:9200", "https://es2:9200"]
    client = elasticsearch_client(s)
    nodes = sorted(f"{n.config.host}:{n.config.port}" for n in client.transport.node_pool.all())
    assert nodes == ["es1:9200", "es2:9200"]
    client.close()


def test_secrets_stay_out_of_repr_and_descriptions(tmp_path):
    s = from_env(
        tmp_path,
        ELASTICSEARCH_URL="https://es1:9200",
        ELASTICSEARCH_API_KEY=API_KEY,
        DATABASE_URL=f"postgresql+psycopg://scale:{PASSWORD}@db:5432/scale",
        READ_TOKEN="the-read-token",
    )
    for text in (repr(s), str(s), describe(s)):
        for secret in (API_KEY, PASSWORD, "admin-token", "the-read-token"):
            assert secret not in text
    assert describe(s) == "https://es1:9200 (API key)"
    with_user = from_env(tmp_path, ELASTICSEARCH_URL="https://scale:s3cr3t%3Ap%40ss%2Fword@es1:9200")
    assert with_user.elasticsearch_password == PASSWORD
    assert "s3cr3t" not in repr(with_user) and "s3cr3t" not in describe(with_user)
    assert describe(with_user) == "https://es1:9200 (user scale)"
    # A password with "/" or "@" not percent-encoded can't be told from the host: refused, and not echoed.
    for raw in (f"https://scale:{PASSWORD}@es1:9200", "https://scale:pw/x@es1:9200"):
        with pytest.raises(ConfigurationError) as refused:
            from_env(tmp_path, ELASTICSEARCH_URL=raw)
        assert "s3cr3t" not in str(refused.value) and "pw/x" not in str(refused.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ELASTICSEARCH_URL": "es1:9200"}, "ELASTICSEARCH_URL"),
        ({"ELASTICSEARCH_URL": "https://es1:9200,http://es2:9200"}, "ELASTICSEARCH_URL"),
        ({"ELASTICSEARCH_URL": "https://a:b@es1:9200,https://a:c@es2:9200"}, "ELASTICSEARCH_URL"),
        ({"ELASTICSEARCH_URL": "https://a:b@es1:9200", "ELASTICSEARCH_USERNAME": "x"}, "ELASTICSEARCH_USERNAME"),
        ({"ELASTICSEARCH_USERNAME": "x"}, "ELASTICSEARCH_PASSWORD"),
        ({"ELASTICSEARCH_API_KEY": "k", "ELASTICSEARCH_USERNAME": "x", "ELASTICSEARCH_PASSWORD": "y"}, "API_KEY"),
        ({"ELASTICSEARCH_VERIFY_CERTS": "maybe"}, "ELASTICSEARCH_VERIFY_CERTS"),
        ({"LOG_INDEX_REPLICAS": "-1"}, "LOG_INDEX_REPLICAS"),
        ({"LOG_INDEX_REPLICAS": "two"}, "LOG_INDEX_REPLICAS"),
        ({"LOG_RETENTION_DAYS": "0"}, "LOG_RETENTION_DAYS"),
        ({"SHIPPER_STREAMS": "0"}, "SHIPPER_STREAMS"),
    ],
)
def test_settings_that_cannot_work_name_their_variable(tmp_path, env, named):
    with pytest.raises(ConfigurationError) as refused:
        from_env(tmp_path, **env)
    assert named in str(refused.value)
    assert "b@" not in str(refused.value) and ":c@" not in str(refused.value)  # never the URL's password


def test_client_options_for_api_keys_users_and_tls(tmp_path):
    base = {"ELASTICSEARCH_URL": "https://es1:9200"}
    assert connection_options(from_env(tmp_path, **base, ELASTICSEARCH_API_KEY=API_KEY)) == {"api_key": API_KEY}
    # "id:api_key" as the create API key response gives them apart.
    assert connection_options(from_env(tmp_path, **base, ELASTICSEARCH_API_KEY="id1:secret")) == {
        "api_key": ("id1", "secret")
    }
    user = from_env(tmp_path, **base, ELASTICSEARCH_USERNAME="scale", ELASTICSEARCH_PASSWORD="pw")
    assert connection_options(user) == {"basic_auth": ("scale", "pw")}
    ca = from_env(tmp_path, **base, ELASTICSEARCH_CA_CERTS="/etc/scale/ca.pem")
    assert connection_options(ca) == {"ca_certs": "/etc/scale/ca.pem"}
    pinned = from_env(tmp_path, **base, ELASTICSEARCH_SSL_FINGERPRINT="ab" * 32)
    assert connection_options(pinned) == {"ssl_assert_fingerprint": "ab" * 32}
    unverified = from_env(tmp_path, **base, ELASTICSEARCH_VERIFY_CERTS="false")
    assert connection_options(unverified) == {"verify_certs": False, "ssl_show_warn": False}
    assert from_env(tmp_path).elasticsearch_verify_certs is True
    # http:// takes no TLS options (the client would refuse to start): preflight warns instead.
    plain = from_env(tmp_path, ELASTICSEARCH_URL="http://es1:9200", ELASTICSEARCH_CA_CERTS="/etc/scale/ca.pem")
    assert connection_options(plain) == {}
    elasticsearch_client(plain).close()


def test_replicas_and_lifecycle_policy_go_into_the_template_and_its_checksum(tmp_path):
    default = from_env(tmp_path)
    assert default.log_index_replicas == 1 and default.log_ilm_policy is None
    one, zero = LogTemplate.of(default).body(), LogTemplate("scalelogs", replicas=0).body()
    assert one["template"]["settings"]["index"]["number_of_replicas"] == 1
    assert zero["template"]["settings"]["index"]["number_of_replicas"] == 0
    assert "lifecycle" not in one["template"]["settings"]["index"]
    policy = LogTemplate.of(from_env(tmp_path, LOG_INDEX_REPLICAS="2", LOG_ILM_POLICY="scalelogs-30d")).body()
    assert policy["template"]["settings"]["index"]["lifecycle"] == {"name": "scalelogs-30d"}
    assert policy["template"]["settings"]["index"]["number_of_replicas"] == 2
    checksums = {body["_meta"]["checksum"] for body in (one, zero, policy)}
    assert len(checksums) == 3  # any change puts the template again


def test_retention_window_and_daily_index_names():
    assert first_kept_day(date(2026, 3, 10), 7) == date(2026, 3, 3)
    assert index_day("scalelogs-2026.03.02", "scalelogs") == date(2026, 3, 2)
    for other in (
        "scalelogs-eu-2026.03.02",  # another prefix that starts with ours
        "scalelogs-2026.02.30",  # no such day
        "scalelogs-2026.3.2",
        "scalelogs-2026.03.02-restored",
        "scalelogs-2026.03.02x",
        "scalelogsx-2026.03.02",
        "other-2026.03.02",
    ):
        assert index_day(other, "scalelogs") is None, other
    today = date(2026, 3, 10)
    assert expired(datetime(2026, 3, 2, 23, 59, tzinfo=UTC), today, 7)
    assert not expired(datetime(2026, 3, 3, 0, 0, tzinfo=UTC), today, 7)
    assert not expired(datetime(2020, 1, 1, tzinfo=UTC), today, None)  # kept forever


def test_the_service_prunes_by_itself_unless_a_lifecycle_policy_does(tmp_path):
    assert not prunes_daily(from_env(tmp_path))
    assert prunes_daily(from_env(tmp_path, LOG_RETENTION_DAYS="30"))
    assert not prunes_daily(from_env(tmp_path, LOG_RETENTION_DAYS="30", LOG_ILM_POLICY="scalelogs-30d"))
