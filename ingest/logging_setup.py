"""Console and rotating-file logging, with secrets masked in every record."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from ingest.redact import SecretMaskingFilter

LOG_FILE = "ingest.log"
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"


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
    for noisy in ("azure", "urllib3", "fsspec", "adlfs"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
