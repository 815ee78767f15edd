"""Alert rules' routes and the checker they start (in gunicorn workers or `python -m api.alerts.alert_process`)."""
