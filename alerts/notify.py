"""Sending a notification: POST the JSON body to a webhook, or mail it over SMTP.

What a failure records (DeliveryFailed's text, kept in the history and logged) names the kind of failure only:
never the webhook URL (it often holds a token, Slack's does), the response body, or anything of the SMTP login.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from alerts.allow import NotAllowed, check_webhook
from alerts.payload import email_of, recipients_of

USER_AGENT = "scale-alerts/1"


class DeliveryFailed(Exception):
    """The target did not take it; `retry` False when trying again can't help (a URL off the allow-list)."""

    def __init__(self, detail: str, retry: bool = True):
        super().__init__(detail)
        self.retry = retry


@dataclass(frozen=True)
class Smtp:
    host: str | None
    port: int
    security: str  # none | starttls | ssl
    username: str | None
    password: str | None
    sender: str
    timeout: float

    def __repr__(self) -> str:  # the password never reaches a log line through a repr
        return f"Smtp(host={self.host!r}, port={self.port}, security={self.security!r})"


def post_webhook(url: str, body: dict[str, Any], allowed: tuple[str, ...], timeout: float = 10.0) -> None:
    """POST the body; only a 2xx is delivered. The allow-list is checked again here: it may have changed since
    the rule was saved. Redirects are not followed (they could lead off the list)."""
    try:
        check_webhook(url, allowed)
    except NotAllowed as exc:
        raise DeliveryFailed(f"refused: the webhook URL {exc}", retry=False) from None
    try:
        resp = httpx.post(url, json=body, timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT})
    except httpx.TimeoutException:
        raise DeliveryFailed("the webhook did not answer in time") from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"the webhook could not be reached ({type(exc).__name__})") from None
    if not 200 <= resp.status_code < 300:
        raise DeliveryFailed(f"the webhook answered HTTP {resp.status_code}")


def send_email(smtp: Smtp, email_to: str, body: dict[str, Any]) -> None:
    if not smtp.host:
        raise DeliveryFailed("refused: no SMTP server is configured (SMTP_HOST)", retry=False)
    recipients = recipients_of(email_to)
    message = email_of(body, smtp.sender, recipients)
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(message, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(f"the SMTP server refused the login (code {exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"the SMTP server answered {exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryFailed("the SMTP server refused every recipient") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"the SMTP server could not be reached ({type(exc).__name__})") from None
