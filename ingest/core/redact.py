"""Keep secrets out of every log line, error message, audit row and summary.

Two layers: credentials embedded in URLs (`scheme://user:password@host`) are masked by
pattern, and every secret value the process has resolved is registered here and masked
wherever it appears. `SecretMaskingFilter` applies both to all log records.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Callable
from urllib.parse import unquote

from ingest.core.printable import printable

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>password|passwd|pwd|accountkey|account_key|sharedaccesssignature|sig|secret|token)"
    r"(?P<sep>\s*[=:]\s*)(?P<value>[^;&\s,'\"]+)"
)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_listeners: list[Callable[[str], None]] = []


def register_secret(value: str | None) -> None:
    """Remember a secret value (and its URL-decoded form) so it is masked everywhere."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        new = [v for v in dict.fromkeys((value, unquote(value)))
               if len(v) >= _MIN_SECRET_LENGTH and v not in _secrets]
        _secrets.update(new)
        listeners = list(_listeners)
    for secret in new:
        for listener in listeners:
            listener(secret)


def on_register(listener: Callable[[str], None]) -> None:
    """Call `listener` with each secret registered from now on, as it is registered: an
    activity's child process hands each one to the worker at once, so what the child prints
    before it dies is masked too (ingest/drivers/azure/isolation.py)."""
    with _lock:
        _listeners.append(listener)


def known_secrets() -> frozenset[str]:
    """Every secret registered so far (a job's worker process hands back what it learned)."""
    with _lock:
        return frozenset(_secrets)


def register_url_password(url: str) -> None:
    """Register the password part of a connection URL, if it has one."""
    match = _URL_PASSWORD.search(url or "")
    if match:
        register_secret(match.group("pw"))


def redact(text: object) -> str:
    """Return `text` as a string with every known secret and URL credential masked."""
    out = _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", mask_known_secrets(text))
    return mask_known_secrets(out)


def mask_known_secrets(text: object) -> str:
    """Only URL credentials and registered secret values, without the `key=value` guess: for a
    text whose parts were already redacted one by one and where `api_token: failed` is layout
    (a mail rendered from a template), not a credential."""
    out = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", str(text))
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, MASK)
    return out


_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _redact_value(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v) for v in value)
    return value


class SecretMaskingFilter(logging.Filter):
    """A logging filter that redacts the fully formatted message of every record, and the
    structured fields passed as `extra=` (custom dimensions: strings, and strings inside dicts
    and lists), which exporters such as OpenTelemetry's send on their own."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = printable(redact(message))  # and no terminal escape from a source's names
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = printable(redact(logging.Formatter().formatException(record.exc_info)))
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRIBUTES and isinstance(value, (str, dict, list, tuple)):
                setattr(record, key, _redact_value(value))
        return True
