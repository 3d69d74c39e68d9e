"""`python -m ingest.drivers.azure.activity_child`: one Azure activity's work in a child process
of the Functions worker (ingest/drivers/azure/isolation.py has the why and the protocol).

It reads its request (one JSON document) from stdin, then answers in JSON lines on the stdout it
was started with: {"log": record}, {"secret": value}, and last {"result": ...} or {"error":
{"class", "message"}}. Its own fd 1 then points at its stderr, so nothing a library prints can
break those lines; its stderr is the file the worker reads its last words from should it die.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import IO, Any

from ingest.core.child_process import die_with_parent
from ingest.core.redact import SecretMaskingFilter, on_register, redact
from ingest.core.settings import Settings

OOM_SCORE_ADJ = 500
"""Half-way to 'always first' (1000): the kernel's choice still weighs size among children."""
_RECORD_FIELDS = ("name", "levelno", "levelname", "msg", "exc_text", "created", "msecs", "pathname", "lineno",
                  "funcName", "threadName", "processName", "process")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Channel:
    """The child's answers to the worker: JSON lines, one writer at a time (dlt logs from its
    own threads too)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, default=str) + "\n"
        with self.lock:
            self.stream.write(line)
            self.stream.flush()

    def secret(self, value: str) -> None:
        self.send({"secret": value})


def take_stdout() -> Channel:
    """The protocol keeps the stdout the child was started with; fd 1 becomes its stderr."""
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return Channel(protocol)


class _ToWorker(logging.Handler):
    """Each record, masked here (the child knows the secrets it resolved), as JSON to the
    worker, which logs it through its own handlers."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel
        self.addFilter(SecretMaskingFilter())  # also flattens args and tracebacks into text

    def emit(self, record: logging.LogRecord) -> None:
        fields = {key: getattr(record, key, None) for key in _RECORD_FIELDS}
        extras = {key: value for key, value in vars(record).items() if key not in _STANDARD}
        try:
            self.channel.send({"log": {**extras, **fields}})
        except (TypeError, ValueError, OSError):
            self.handleError(record)


def log_to_worker(channel: Channel, levels: dict[str, int]) -> None:
    """Every logger that would write somewhere sends to the worker instead, at the worker's levels."""
    handler = _ToWorker(channel)
    root = logging.getLogger()
    root.handlers = [handler]
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers and logger.name != "dlt":
            logger.handlers = [] if logger.propagate else [handler]


def prefer_to_be_oom_killed() -> None:
    """When memory runs out, the kernel should take this child rather than the worker (and
    every activity on it). Raising one's own score needs no privilege; where it cannot be set,
    the kernel's own choice stands."""
    try:
        with open("/proc/self/oom_score_adj", "r+") as score:
            current = int(score.read().strip() or 0)
            score.seek(0)
            score.write(str(max(current, OOM_SCORE_ADJ)))  # never lower than the worker's own
    except (OSError, ValueError):
        pass


def run(request: dict[str, Any], channel: Channel) -> int:
    """Set up as the Function App does (dlt defaults, Key Vault, masking), run the activity inline."""
    from ingest.lake.dlt_defaults import apply_dlt_defaults

    apply_dlt_defaults()  # before anything imports dlt
    on_register(channel.secret)
    log_to_worker(channel, {str(k): int(v) for k, v in request.get("log_levels", {}).items()})
    from ingest.core.logging_setup import install_secret_masking

    install_secret_masking()
    settings = Settings.from_json(request["settings"]).with_overrides(activity_isolation="inline")
    if settings.key_vault_url:
        from ingest.core.keyvault.registration import register_key_vault

        register_key_vault(settings)
    from ingest.core import interrupts
    from ingest.drivers.azure.activities import INLINE

    interrupts.install_job()  # SIGTERM / SIGINT: a load stops before its commit, or finishes it
    try:
        outcome = INLINE[request["activity"]](request["payload"], settings)
        outcome = interrupts.interrupted_outcome(outcome, interrupts.stopped_before_commit() != 0)
    except Exception as exc:  # raised again in the worker: Durable retries it as it would inline
        logging.getLogger("ingest.activity").exception("activity %s raised in its child", request["activity"])
        channel.send({"error": {"class": type(exc).__name__, "message": redact(str(exc))[:2000]}})
        return 1
    channel.send({"result": outcome})
    return 0


def main() -> int:
    channel = take_stdout()
    request = json.loads(sys.stdin.buffer.read())
    die_with_parent(int(request["parent_pid"]))
    prefer_to_be_oom_killed()
    return run(request, channel)


if __name__ == "__main__":
    sys.exit(main())
