"""Retry policy for one job: transient errors are retried with exponential backoff and
jitter (tenacity), permanent ones fail at once. Every retry is logged with its reason.

Layers (so retries do not multiply): this policy retries a job's load inside the process,
for errors classified transient (network, throttling, deadlock, a restarting server). The
Durable activity retry (INGEST_JOB_RETRY_ATTEMPTS) only sees crashes and timeouts of the
activity itself, because run_job returns every classified failure as a value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ingest.core import interrupts
from ingest.core.classify import classify

log = logging.getLogger("ingest.retry")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    """Retries after the first attempt (0: no retry)."""
    initial_s: float = 2.0
    """First wait; then doubled: 2, 4, 8 s by default."""
    max_s: float = 60.0
    jitter_s: float = 1.0

    def waits(self) -> list[float]:
        """The waits without jitter, for documentation and tests."""
        return [min(self.initial_s * 2**i, self.max_s) for i in range(self.retries)]


@dataclass(frozen=True)
class HttpPolicy:
    """Retries of a REST source's HTTP requests (ingest/sources/http.py)."""

    max_attempts: int = 5
    backoff_s: float = 1.0
    """Exponential: 1, 2, 4 ... s, unless the server says Retry-After."""
    max_delay_s: float = 60.0
    """Cap on any wait, Retry-After included."""
    timeout_s: float = 60.0


def is_transient(exc: BaseException) -> bool:
    """Never once the run was asked to stop (ingest/core/interrupts.py): a stopped job is not retried."""
    return not interrupts.requested() and classify(exc).retryable


def call_with_retry(func: Callable[[], T], policy: RetryPolicy, label: str,
                    on_retry: Callable[[int, BaseException], None] | None = None) -> T:
    """Call `func`, retrying transient failures by `policy`; re-raises the last error."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = classify(error) if error else None
        log.warning("%s: attempt %d failed with %s: %s; retrying in %.1fs", label, state.attempt_number,
                    type(reason).__name__, reason, state.next_action.sleep if state.next_action else 0)
        if on_retry and error is not None:
            on_retry(state.attempt_number, error)

    retrying = Retrying(
        stop=stop_after_attempt(policy.retries + 1),
        wait=wait_exponential_jitter(multiplier=policy.initial_s, max=policy.max_s, jitter=policy.jitter_s),
        retry=retry_if_exception(is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(func)
