"""Send one mail over SMTP (stdlib smtplib + email), STARTTLS or implicit TLS, with a short
retry (tenacity) when the server is unreachable or answers 4xx.

The login comes from dlt's config providers, like a source's credentials: env
`ALERTS__SMTP__USER` / `ALERTS__SMTP__PASSWORD`, `[alerts.smtp]` in .dlt/secrets.toml (and Key
Vault once it is a provider). It is never read from the workbook or the app's INGEST_ settings."""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import dlt
import tenacity

from ingest.alerts.render import RenderedMail
from ingest.core.classify import classify_mail_error
from ingest.core.errors import AlertDeliveryError, SettingError
from ingest.core.redact import register_secret
from ingest.core.settings import Settings

log = logging.getLogger("ingest.alerts.smtp")

USER_KEY, PASSWORD_KEY = "alerts.smtp.user", "alerts.smtp.password"
USER_ENV, PASSWORD_ENV = "ALERTS__SMTP__USER", "ALERTS__SMTP__PASSWORD"
ATTEMPTS = 3
FIRST_WAIT_S = 1.0


@dataclass(frozen=True)
class SmtpLogin:
    user: str
    password: str


def smtp_login(settings: Settings) -> SmtpLogin | None:
    """The SMTP login, or None for a relay that takes mail without one. The password is
    registered for redaction as soon as it is read."""
    try:
        user = dlt.secrets.get(USER_KEY)
        password = dlt.secrets.get(PASSWORD_KEY)
    except Exception as exc:  # a provider failing: say which secret, never its value
        raise SettingError(f"the SMTP login ({USER_KEY}, {PASSWORD_KEY}) could not be read"
                           f" ({type(exc).__name__})") from None
    if password:
        register_secret(str(password))
    if not user and not password:
        return None
    if not user:
        raise SettingError(f"{PASSWORD_KEY} is set but {USER_KEY} is not: set {USER_ENV}"
                           " or [alerts.smtp] user in .dlt/secrets.toml")
    if not password:
        raise SettingError(f"{USER_KEY} is set but {PASSWORD_KEY} is not: set {PASSWORD_ENV}"
                           " or [alerts.smtp] password in .dlt/secrets.toml")
    if settings.smtp_security == "none":
        raise SettingError("INGEST_SMTP_SECURITY=none would send the SMTP password unencrypted:"
                           " use starttls or ssl")
    return SmtpLogin(str(user), str(password))


def build_message(settings: Settings, recipients: list[str], mail: RenderedMail) -> EmailMessage:
    """A multipart/alternative mail: the plain-text part first, then the HTML."""
    assert settings.alert_from, "checked by Settings.from_env"
    # headers folded only past 998 characters: the stdlib folds a subject starting with "[" right
    # after "Subject:" (valid, but shown with a leading space); ours stay far shorter
    message = EmailMessage(policy=policy.default.clone(max_line_length=998))
    message["Subject"] = mail.subject
    message["From"] = settings.alert_from
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.alert_from.rsplit("@", 1)[1])  # no DNS lookup
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class Mailer(Protocol):
    def prepare(self) -> None:
        """Read the credentials (registering them for redaction) before any mail is rendered."""

    def send(self, message: EmailMessage) -> int:
        """Deliver the message; return the attempts it took. Raises AlertDeliveryError."""


@dataclass
class SmtpMailer:
    settings: Settings
    attempts: int = ATTEMPTS
    first_wait_s: float = FIRST_WAIT_S
    _login: SmtpLogin | None = field(default=None, init=False, repr=False)
    _prepared: bool = field(default=False, init=False, repr=False)

    def prepare(self) -> None:
        if not self._prepared:
            self._login = smtp_login(self.settings)
            self._prepared = True

    def _tls(self) -> ssl.SSLContext:
        ca = self.settings.smtp_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host, "SmtpMailer is only built when INGEST_SMTP_HOST is set"
        # local_hostname given: smtplib would otherwise ask DNS for this machine's FQDN
        if s.smtp_security == "ssl":
            return smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, local_hostname=socket.gethostname(),
                                    timeout=s.smtp_timeout_s, context=self._tls())
        return smtplib.SMTP(s.smtp_host, s.smtp_port, local_hostname=socket.gethostname(),
                            timeout=s.smtp_timeout_s)

    def _send_once(self, message: EmailMessage, login: SmtpLogin | None) -> None:
        try:
            with self._connect() as server:
                if self.settings.smtp_security == "starttls":
                    server.starttls(context=self._tls())
                if login:
                    server.login(login.user, login.password)
                refused = server.send_message(message)
        except Exception as exc:
            raise classify_mail_error(exc) from None  # the original may quote the login
        if refused:
            raise AlertDeliveryError("sent, but the mail server refused: "
                                     + ", ".join(f"{addr} ({code})" for addr, (code, _) in refused.items()))

    def send(self, message: EmailMessage) -> int:
        """Deliver; return the attempts it took. A failure carries them as `.attempts`."""
        self.prepare()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_exponential(multiplier=self.first_wait_s, max=30),
            retry=tenacity.retry_if_exception(lambda exc: getattr(exc, "retryable", False)),
            before_sleep=lambda state: log.warning(
                "mail not sent (attempt %d), retrying: %s", state.attempt_number, state.outcome.exception()),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._send_once(message, self._login)
        except AlertDeliveryError as exc:
            exc.attempts = retrying.statistics.get("attempt_number", 1)  # type: ignore[attr-defined]
            raise
        return retrying.statistics.get("attempt_number", 1)
