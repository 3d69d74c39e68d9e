"""An HTTP session for REST sources: bounded retries on 429 / 5xx / connection errors that
honour Retry-After (capped), each retry logged with its reason and a sanitized URL; and every
request, redirect hops included, checked against the job's HostPolicy before it is sent
(ingest/sources/hosts.py: a credential goes only to the hosts its owner allowed).

dlt's own requests client retries too, but it neither logs a retry nor caps a server's
Retry-After; this session is handed to dlt's RESTClient (`client.session`) instead."""

from __future__ import annotations

import logging
import re
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from tenacity import (RetryCallState, Retrying, retry_if_exception, retry_if_exception_type, retry_if_result,
                      stop_after_attempt)

from ingest.core.errors import MalformedResponseError
from ingest.core.retry import HttpPolicy
from ingest.core.redact import redact
from ingest.sources.hosts import HostPolicy

log = logging.getLogger("ingest.http")
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
SECRET_PARAM = re.compile(r"(?i)(key|token|secret|password|passwd|signature|sig|auth|session|code)")


def sanitize_url(url: str, secret_params: tuple[str, ...] = ()) -> str:
    """The URL with credentials and secret-looking query values masked."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    masked = [(k, "***" if k in secret_params or SECRET_PARAM.search(k) else v)
              for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return redact(urlunsplit((parts.scheme, netloc, parts.path, urlencode(masked, safe="*"), "")))


def retry_after_s(response: requests.Response | None) -> float | None:
    header = response.headers.get("Retry-After") if response is not None else None
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _response_of(state: RetryCallState) -> requests.Response | None:
    """The response of an attempt, whether returned or carried by an HTTPError (dlt's
    RESTClient raises for status inside `send`, through a response hook)."""
    if state.outcome is None:
        return None
    if state.outcome.failed:
        return getattr(state.outcome.exception(), "response", None)
    return state.outcome.result()


def _retryable_http_error(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    return isinstance(exc, requests.HTTPError) and response is not None and response.status_code in RETRY_STATUS


class _Wait:
    def __init__(self, policy: HttpPolicy):
        self.policy = policy

    def __call__(self, state: RetryCallState) -> float:
        response = _response_of(state)
        asked = retry_after_s(response)
        if asked is not None:
            return min(asked, self.policy.max_delay_s)
        return min(self.policy.backoff_s * 2 ** (state.attempt_number - 1), self.policy.max_delay_s)


class RetryingSession(requests.Session):
    """A requests session whose `send` retries as described in the module docstring. After
    the last attempt the last response is returned as is (the caller raises for its status).
    A subclass rather than a patched instance: dlt deep-copies its config, and a Session only
    keeps the attributes listed in `__attrs__` when copied."""

    __attrs__ = requests.Session.__attrs__ + ["policy", "secret_params", "hosts"]

    def __init__(self, policy: HttpPolicy | None = None, secret_params: tuple[str, ...] = (),
                 hosts: HostPolicy | None = None):
        super().__init__()
        self.policy = policy or HttpPolicy()
        self.secret_params = secret_params
        self.hosts = hosts

    def send(self, request, **kwargs):  # type: ignore[override]
        if self.hosts is not None:  # requests' resolve_redirects sends each hop through here
            self.hosts.check(request.url or "", "redirect" if kwargs.get("allow_redirects") is False else "page request")
        kwargs.setdefault("timeout", self.policy.timeout_s)
        retrying = Retrying(
            retry=(retry_if_result(lambda r: r is not None and r.status_code in RETRY_STATUS)
                   | retry_if_exception_type((requests.ConnectionError, requests.Timeout))
                   | retry_if_exception(_retryable_http_error)),
            wait=_Wait(self.policy),
            stop=stop_after_attempt(self.policy.max_attempts),
            before_sleep=self._log_retry,
            retry_error_callback=lambda state: state.outcome.result(),
            reraise=True,
        )
        response = retrying(super().send, request, **kwargs)
        self._check_json(response)
        return response

    def _check_json(self, response: requests.Response) -> None:
        """A 2xx JSON page that does not parse fails the job here, naming the page."""
        if not response.ok or "json" not in response.headers.get("Content-Type", ""):
            return
        try:
            response.json()
        except ValueError as exc:
            url = sanitize_url(response.url or "", self.secret_params)
            raise MalformedResponseError(f"malformed page from {url}: {exc} ({len(response.content)} bytes)") from None

    def _log_retry(self, state: RetryCallState) -> None:
        request = state.args[0] if state.args else None
        url = sanitize_url(getattr(request, "url", "") or "", self.secret_params)
        response = _response_of(state)
        if response is None:
            reason = type(state.outcome.exception()).__name__
        else:
            reason = f"HTTP {response.status_code}"
            if response.headers.get("Retry-After"):
                reason += f" (Retry-After: {response.headers['Retry-After']})"
        wait = state.next_action.sleep if state.next_action else 0
        log.warning("GET %s: attempt %d of %d failed with %s; retrying in %.1fs", url, state.attempt_number,
                    self.policy.max_attempts, reason, wait)


def make_session(policy: HttpPolicy, secret_params: tuple[str, ...] = (),
                 hosts: HostPolicy | None = None) -> requests.Session:
    """The session for one REST job; with `hosts`, no request leaves for a host it refuses."""
    return RetryingSession(policy, secret_params, hosts)
