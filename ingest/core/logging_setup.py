"""Console and rotating-file logging, with secrets masked in every record."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from ingest.core.redact import SecretMaskingFilter

LOG_FILE = "ingest.log"
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"


_MASKING = SecretMaskingFilter()

LIBRARY_LOGGERS = ("azure", "urllib3", "fsspec", "adlfs")
"""Libraries that log every request at INFO (the Azure SDK's http_logging_policy: one line per
blob request and one per response; azure.identity per token): WARNING and up only, in the CLI
and in the Functions app alike (Application Insights bills by volume)."""


def quiet_library_loggers() -> None:
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def install_secret_masking() -> None:
    """Mask secrets in records of dlt's logger (it does not propagate and has its own
    stderr handler, which dlt recreates; a logger-level filter survives that) and in every
    handler of the root logger (ours, or the Functions host's)."""
    dlt_logger = logging.getLogger("dlt")
    if _MASKING not in dlt_logger.filters:
        dlt_logger.addFilter(_MASKING)
    for handler in logging.getLogger().handlers:
        if _MASKING not in handler.filters:
            handler.addFilter(_MASKING)


def setup_logging(log_dir: Path, verbose: bool = False) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    masking = SecretMaskingFilter()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 * 1024 * 1024,
                                                        backupCount=5, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    for handler in (file_handler, console):
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(masking)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ingest", False):
            root.removeHandler(handler)
    for handler in (file_handler, console):
        handler._ingest = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("dlt").setLevel(logging.INFO if verbose else logging.WARNING)
    install_secret_masking()
    quiet_library_loggers()
    return path
