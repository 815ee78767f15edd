"""The alert checker: a thread of each API process (or of `python -m api.alerts.alert_process`) that, every tick,
evaluates the rules that are due and attempts the notifications that are due, each after claiming it in SQL
(jobs/alert_store.py), so one process handles each at a time however many run.

Evaluating: the exact count of the saved search's matches in the rule's window (the same filters as /v6/logs/,
the window replacing any times the search had) and its first lines. More than the threshold fires the rule:
one notification per target, once for the whole firing window; at or below it again, the rule resolves and says
so. A failed notification is retried after ALERT_RETRY_SECONDS, doubled each time, until ALERT_MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from alerts.notify import DeliveryFailed, Smtp, post_webhook, send_email
from alerts.payload import line_of_hit, webhook_body
from core import metrics
from core.times import Clock
from jobs.alert_store import WEBHOOK, AlertStore, RuleToCheck
from jobs.log_target_store import LogTargetStore
from search import LogSearch
from search.finder import Filters

log = logging.getLogger("alerts")
MAX_BACKOFF_SECONDS = 3600.0


@dataclass(frozen=True)
class AlertConfig:
    link_url: str
    webhook_allow: tuple[str, ...]
    smtp: Smtp
    tick_seconds: float = 5.0
    retry_seconds: float = 30.0
    max_attempts: int = 6
    # A claim outlives a slow search or target (Elasticsearch's and the webhook's timeouts) by far.
    lease_seconds: float = 120.0


class AlertChecker:
    def __init__(
        self,
        alerts: AlertStore,
        log_targets: LogTargetStore,
        search: LogSearch,
        filters_of: Callable[[str], Filters],
        config: AlertConfig,
        clock: Clock,
        holder: str | None = None,
    ):
        self._alerts = alerts
        self._log_targets = log_targets
        self._search = search
        self._filters_of = filters_of  # a saved query string -> Filters (the API's parser of /v6/logs/)
        self._config = config
        self._clock = clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{threading.get_native_id()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-checker", daemon=True)

    def start(self) -> AlertChecker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database is down, say: log it and try again next tick
                log.exception("alert checks failed")
            self._stop.wait(self._config.tick_seconds)

    def run_once(self) -> None:
        """Evaluate the rules due now, then attempt the notifications due now (those just made included)."""
        for rule_id in self._alerts.due_rules():
            claimed = self._alerts.claim_rule(rule_id, self.holder, self._config.lease_seconds)
            if claimed is not None:
                self._evaluate(claimed)
        metrics.ALERT_FIRING.set(self._alerts.firing_count())
        for delivery_id in self._alerts.due_deliveries():
            if self._stop.is_set():
                return
            self._deliver(delivery_id)

    def _evaluate(self, claimed: RuleToCheck) -> None:
        rule = claimed.rule
        ended = self._clock()
        started = ended - timedelta(minutes=rule.window_minutes)
        try:
            saved = replace(self._filters_of(claimed.search_query), started=started, ended=ended)
            # a job's status changes after its lines are written: status and error_category resolve in each window
            filters = self._search.resolve(saved, self._log_targets)
            count, hits = self._search.search(filters, 0, 3, newest_first=False)
        except Exception as exc:  # Elasticsearch down, the saved query no longer valid: recorded, next interval
            detail = f"the search failed: {getattr(exc, 'description', None) or type(exc).__name__}"
            log.warning("alert %s: %s", rule.id, detail)
            metrics.ALERT_EVALUATIONS.labels("failed").inc()
            self._alerts.fail_check(rule.id, self.holder, detail)
            return
        firing = count > rule.threshold
        payload = None
        if firing != (rule.state == "firing"):
            exe_ids = self._log_targets.execution_ids([h["scale_job_exe"] for h in hits if h.get("scale_job_exe")])
            base = self._config.link_url
            lines = [line_of_hit(base, h, exe_ids) for h in hits]
            payload = webhook_body(base, rule, claimed.search_name, claimed.search_query, count, started, ended, lines)
        event = self._alerts.finish_check(rule.id, self.holder, count, firing, payload)
        metrics.ALERT_EVALUATIONS.labels("firing" if firing else "ok").inc()
        if event is not None:
            log.info("alert %s is %s: %d matches in %d min", rule.id, event, count, rule.window_minutes)

    def _deliver(self, delivery_id: int) -> None:
        delivery = self._alerts.claim_delivery(delivery_id, self.holder, self._config.lease_seconds)
        if delivery is None:
            return
        config = self._config
        try:
            if not delivery.address:
                raise DeliveryFailed(f"refused: the alert has no {delivery.target} target any more", retry=False)
            if delivery.target == WEBHOOK:
                post_webhook(delivery.address, delivery.payload, config.webhook_allow)
            else:
                send_email(config.smtp, delivery.address, delivery.payload)
        except DeliveryFailed as exc:
            attempt = delivery.attempts + 1
            retry = exc.retry and attempt < config.max_attempts
            retry_at = None
            if retry:
                wait = min(config.retry_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
                retry_at = self._clock() + timedelta(seconds=wait)
            # counted before it is recorded: whoever sees the record sees the count
            metrics.ALERT_DELIVERY_FAILURES.labels(delivery.target, "retry" if retry else "gave_up").inc()
            self._alerts.finish_delivery(delivery.id, self.holder, False, str(exc), retry_at)
            log.warning(
                "alert %s: %s notification (attempt %d) failed: %s%s",
                delivery.rule_id,
                delivery.target,
                attempt,
                exc,
                "; retried later" if retry else "; given up",
            )
            return
        metrics.ALERT_DELIVERIES.labels(delivery.target).inc()
        self._alerts.finish_delivery(delivery.id, self.holder, True, None, None)


def config_of(settings) -> AlertConfig:
    """The checker's configuration from Settings (kept out of the signature: alerts/ does not read settings)."""
    smtp = Smtp(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_security,
        settings.smtp_username,
        settings.smtp_password,
        settings.smtp_from,
        settings.smtp_timeout,
    )
    return AlertConfig(
        settings.link_url,
        settings.alert_webhook_allow,
        smtp,
        settings.alert_tick_seconds,
        settings.alert_retry_seconds,
        settings.alert_max_attempts,
    )
