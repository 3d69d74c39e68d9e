"""Turn any exception from a driver, dlt or the storage SDK into one of ingest.errors,
in one place, with a message safe to log and store."""

from __future__ import annotations

from typing import Iterator

from ingest import errors
from ingest.redact import redact
from ingest.sources.driver_errors import classify_driver_error

MAX_MESSAGE = 600

# PostgreSQL SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_PG_AUTH = {"28000", "28P01"}
_PG_NOT_FOUND = {"42P01", "42703", "3F000", "3D000"}
_PG_TRANSIENT_PREFIXES = ("08", "53", "57P")  # connection, resources, operator intervention
_PG_TRANSIENT = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available


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
    text = " ".join(str(exc).split())
    text = redact(text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _classify_one(exc: BaseException) -> type[errors.IngestError] | None:
    if isinstance(exc, errors.IngestError):
        return type(exc)
    module = type(exc).__module__ or ""
    name = type(exc).__name__
    if name == "NoSuchTableError":
        return errors.SourceObjectNotFoundError
    if module.startswith("psycopg2") or module.startswith("psycopg"):
        code = getattr(exc, "pgcode", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
        if code in _PG_AUTH:
            return errors.SourceAuthenticationError
        if code in _PG_NOT_FOUND:
            return errors.SourceObjectNotFoundError
        if code in _PG_TRANSIENT or (code and code.startswith(_PG_TRANSIENT_PREFIXES)):
            return errors.TransientSourceError
        text = str(exc).lower()
        if "password authentication failed" in text or "no pg_hba.conf entry" in text:
            return errors.SourceAuthenticationError
        if name == "OperationalError":  # no SQLSTATE: could not connect, server closed, timeout
            return errors.TransientSourceError
        return errors.PermanentSourceError
    if module.startswith("azure"):
        if name in ("ServiceRequestError", "ServiceResponseError"):
            return errors.DestinationError
        return errors.DestinationError
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return errors.TransientSourceError
    return None


def classify(exc: BaseException) -> errors.IngestError:
    """The most specific engine error for `exc`, carrying the innermost useful message."""
    chain = list(_chain(exc))
    for candidate in chain:
        driver_error = classify_driver_error(candidate)  # oracledb, pyodbc
        if driver_error is not None:
            return driver_error.error(safe_message(candidate))
        kind = _classify_one(candidate)
        if kind is not None:
            if isinstance(candidate, errors.IngestError):
                return type(candidate)(safe_message(candidate))
            return kind(safe_message(candidate))
    innermost = chain[-1] if chain else exc
    return errors.UnexpectedError(f"{type(innermost).__name__}: {safe_message(innermost)}")
