"""Turn any exception from a driver, dlt or the storage SDK into one of ingest.core.errors, in one
place, with a message safe to log and store. `classify(exc).retryable` is what the retry
policy (ingest/core/retry.py) asks."""

from __future__ import annotations

import re
import smtplib
import ssl
from typing import Iterator

from ingest.core import errors
from ingest.core.redact import redact
from ingest.core.driver_errors import classify_driver_error

MAX_MESSAGE = 600

# PostgreSQL SQLSTATE codes (PostgreSQL manual, appendix "Error Codes")
_PG_AUTH = {"28000", "28P01"}
_PG_PERMISSION = {"42501"}  # insufficient_privilege
_PG_NOT_FOUND = {"42P01", "42703", "3F000", "3D000", "42883"}
_PG_TRANSIENT_PREFIXES = ("08", "53", "57P")  # connection, resources, operator intervention
_PG_TRANSIENT = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available

# Words of connection-level failures, for drivers that give no code (connectorx, libpq at
# connect time): all mean "could not talk to the server now".
_TRANSIENT_TEXT = ("connection refused", "could not connect", "server closed the connection",
                   "connection reset", "timeout expired", "timed out", "terminating connection",
                   "the database system is starting up", "the database system is shutting down",
                   "connection closed", "broken pipe", "error connecting to server",
                   "no connection to the server", "connection to server", "temporarily unavailable")
_AUTH_TEXT = ("password authentication failed", "no pg_hba.conf entry", "authentication failed")
_PERMISSION_TEXT = "permission denied for"
_HTTP_TRANSIENT = {408, 429, 500, 502, 503, 504}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attr in ("exception", "orig", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                todo.append(nested)


def safe_message(exc: BaseException) -> str:
    text = str(exc)
    if (type(exc).__module__ or "").startswith("azure") and getattr(exc, "error_code", None):
        # the storage SDK appends the whole XML error body; its first line says it all
        text = f"{text.splitlines()[0]} (ErrorCode: {exc.error_code})"
    text = " ".join(text.split())
    text = redact(text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _postgres(exc: BaseException) -> type[errors.IngestError]:
    code = getattr(exc, "pgcode", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
    return _postgres_code(code, exc)


_CX_SQLSTATE = re.compile(r"SqlState\(E?([0-9A-Z]{5})\)")


def _connectorx(exc: BaseException) -> type[errors.IngestError] | None:
    """connectorx reports a server error inside a RuntimeError or a Rust panic's text, with
    PostgreSQL's SQLSTATE as `SqlState(E42501)`."""
    found = _CX_SQLSTATE.search(str(exc))
    return _postgres_code(found.group(1), exc) if found else None


_CX_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


def _server_message(exc: BaseException) -> str | None:
    """The server's own message out of connectorx's Rust debug text (`... message: "permission
    denied for table orders", ...`), with its SQLSTATE."""
    text = str(exc)
    code, message = _CX_SQLSTATE.search(text), _CX_MESSAGE.search(text)
    if code is None or message is None:
        return None
    return safe_message(f"{message.group(1)} (SQLSTATE {code.group(1)})")


def _postgres_code(code: str | None, exc: BaseException) -> type[errors.IngestError]:
    if code in _PG_AUTH:
        return errors.SourceAuthenticationError
    if code in _PG_PERMISSION:
        return errors.SourcePermissionError
    if code in _PG_NOT_FOUND:
        return errors.SourceObjectNotFoundError
    if code in _PG_TRANSIENT or (code and code.startswith(_PG_TRANSIENT_PREFIXES)):
        return errors.TransientSourceError
    text = str(exc).lower()
    if any(t in text for t in _AUTH_TEXT):
        return errors.SourceAuthenticationError
    if _PERMISSION_TEXT in text:
        return errors.SourcePermissionError
    if "does not exist" in text:
        return errors.SourceObjectNotFoundError
    if type(exc).__name__ in ("OperationalError", "InterfaceError"):  # lost or no connection
        return errors.TransientSourceError
    return errors.PermanentSourceError


def _azure(exc: BaseException) -> type[errors.IngestError]:
    name = type(exc).__name__
    if name in ("ServiceRequestError", "ServiceResponseError", "ServiceRequestTimeoutError",
                "ServiceResponseTimeoutError", "IncompleteReadError"):
        return errors.TransientDestinationError
    status = getattr(exc, "status_code", None)
    if status in _HTTP_TRANSIENT:
        return errors.TransientDestinationError
    return errors.DestinationError


def _requests(exc: BaseException) -> type[errors.IngestError] | None:
    name = type(exc).__name__
    if name in ("ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout", "ChunkedEncodingError"):
        return errors.TransientSourceError
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status in _HTTP_TRANSIENT:
        return errors.TransientSourceError
    if status in (401, 403):
        return errors.SourceAuthenticationError
    if status == 404:
        return errors.SourceObjectNotFoundError
    if status is not None:
        return errors.PermanentSourceError
    return None


def _classify_one(exc: BaseException) -> type[errors.IngestError] | None:
    if isinstance(exc, errors.IngestError):
        return type(exc)
    module = type(exc).__module__ or ""
    name = type(exc).__name__
    if name == "NoSuchTableError":
        return errors.SourceObjectNotFoundError
    if name == "DataValidationError" and module.startswith("dlt"):  # schema_contract refused the load
        return errors.SchemaContractError
    if module.startswith(("psycopg2", "psycopg")):
        return _postgres(exc)
    if module.startswith("azure"):
        return _azure(exc)
    if module.startswith("requests") or module.startswith("urllib3"):
        return _requests(exc)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return errors.TransientSourceError
    if (isinstance(exc, RuntimeError) or name == "PanicException") and (server := _connectorx(exc)) is not None:
        return server
    if isinstance(exc, (RuntimeError, OSError)) or name == "PanicException":  # connectorx, from Rust
        text = str(exc).lower()
        if any(t in text for t in _AUTH_TEXT):
            return errors.SourceAuthenticationError
        if _PERMISSION_TEXT in text:
            return errors.SourcePermissionError
        if any(t in text for t in _TRANSIENT_TEXT):
            return errors.TransientSourceError
    return None


def classify(exc: BaseException) -> errors.IngestError:
    """The most specific engine error for `exc`, carrying the innermost useful message."""
    chain = list(_chain(exc))
    for candidate in chain:
        value_error = _value_error(candidate)
        if value_error is not None:
            return value_error
        driver_error = classify_driver_error(candidate)  # oracledb, pyodbc
        if driver_error is not None:
            return driver_error.error(safe_message(candidate))
        kind = _classify_one(candidate)
        if kind is not None:
            if isinstance(candidate, errors.IngestError):
                return type(candidate)(safe_message(candidate))
            return kind(_server_message(candidate) or safe_message(candidate))
    innermost = chain[-1] if chain else exc
    return errors.UnexpectedError(f"{type(innermost).__name__}: {safe_message(innermost)}")


def _value_error(exc: BaseException) -> errors.SourceValueError | None:
    """The error a source query raised on purpose for a value with no exact form in the lake
    (its text starts with VALUE_ERROR_MARKER, wrapped in the driver's own words)."""
    text = " ".join(str(exc).split())
    start = text.find(errors.VALUE_ERROR_MARKER)
    if start < 0:
        return None
    start += len(errors.VALUE_ERROR_MARKER)
    end = text.find(errors.VALUE_ERROR_END, start)
    message = text[start:end] if end >= 0 else text[start:].split('"', 1)[0]
    return errors.SourceValueError(safe_message(message.replace('\\"', '"').strip()))


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def classify_mail_error(exc: BaseException) -> errors.AlertDeliveryError:
    """An error from sending a mail (smtplib, ssl, socket) as an alert error: a server that
    cannot be reached, drops the line or answers 4xx is worth a retry; anything else is not."""
    if isinstance(exc, errors.AlertDeliveryError):
        return exc
    unavailable, refused = errors.AlertServerUnavailableError, errors.AlertDeliveryError
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return refused(f"the mail server rejected the login: {safe_message(_smtp_reply(exc))}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = exc.recipients
        kind = unavailable if all(400 <= code < 500 for code, _ in replies.values()) else refused
        listed = "; ".join(f"{addr}: {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
                           for addr, (code, msg) in replies.items())
        return kind(safe_message(f"the mail server refused every recipient ({listed})"))
    if isinstance(exc, smtplib.SMTPResponseException):
        kind = unavailable if 400 <= exc.smtp_code < 500 else refused
        return kind(f"the mail server answered {safe_message(_smtp_reply(exc))}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return refused(f"the mail server's certificate is not trusted: {safe_message(exc)}"
                       " (INGEST_SMTP_CA_FILE trusts a private CA)")
    if isinstance(exc, ssl.SSLError):
        return refused(f"TLS with the mail server failed: {safe_message(exc)}")
    if isinstance(exc, smtplib.SMTPException) and not isinstance(exc, smtplib.SMTPServerDisconnected):
        return refused(f"{type(exc).__name__}: {safe_message(exc)}")  # e.g. no AUTH offered
    if isinstance(exc, OSError):  # refused, reset, timed out, disconnected
        return unavailable(f"the mail server could not be reached: {type(exc).__name__}: {safe_message(exc)}")
    return refused(f"{type(exc).__name__}: {safe_message(exc)}")
