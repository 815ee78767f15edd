"""Alerts on saved searches: a checker every API process (and `python -m alerts`) runs, which claims due rules
in SQL (jobs/alert_store.py), counts matches with the log search (search/), and delivers notifications to
webhooks and email. Below the API, above search and jobs (pyproject.toml's layers)."""
