"""Send OpenLineage events where the settings say: nowhere (`none`, the default), the log
(`console`), a JSON-lines file (`file`, beside the audit trail) or an OpenLineage HTTP endpoint
(`http`: Marquez, DataHub, the Purview connector), with the client's own transports.

Sending never raises: a failure is logged (redacted) and counted; the caller puts the count in
the JobResult or the run summary. An event that would carry a secret the process knows is
never sent (counted as a failure). After 3 failures in a row in one process, the endpoint is
taken as down and the process sends no more (each further event is counted, not tried), so a
dead endpoint costs a run seconds, not minutes."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any

import dlt

from ingest.core.errors import SettingError
from ingest.core.redact import mask_known_secrets, redact, register_secret
from ingest.core.settings import Settings

log = logging.getLogger("ingest.lineage")

API_KEY = "lineage.api_key"
"""The endpoint's API key, read like every secret: LINEAGE__API_KEY, Key Vault
(<prefix>--lineage--api-key) or [lineage] api_key in .dlt/secrets.toml."""
BREAKER_AFTER = 3
HTTP_RETRY = {"total": 2, "read": 2, "connect": 1, "backoff_factor": 0.5,
              "status_forcelist": [500, 502, 503, 504], "allowed_methods": ["POST"]}


def enabled(settings: Settings) -> bool:
    return settings.lineage_transport != "none"


def lineage_file(settings: Settings) -> Path:
    return settings.lineage_file or settings.audit_dir / "lineage.jsonl"


class Emitter:
    """One process's sender: the transport is built on first use (the client's import is
    ~0.3 s; nothing loads it while lineage is off)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.failures = 0
        self._transport: Any = None
        self._in_a_row = 0
        self._lock = threading.Lock()

    def emit(self, event: Any) -> bool:
        """Send one event; False (logged, counted) when it was not sent."""
        from openlineage.client.serde import Serde

        what = f"{event.eventType.value} {event.job.namespace}/{event.job.name}"
        try:
            text = Serde.to_json(event)
            if mask_known_secrets(text) != text:
                raise ValueError("the event holds a secret value; not sent")
            with self._lock:
                if self._in_a_row >= BREAKER_AFTER:
                    raise ConnectionError(f"{self._in_a_row} lineage events failed in a row; not tried")
                self._transport = self._transport or make_transport(self.settings)
            self._transport.emit(event)
        except Exception as exc:  # see module docstring: lineage never fails a load
            with self._lock:
                self.failures += 1
                self._in_a_row += 1
            log.warning("lineage event %s not sent (%s): %s", what, type(exc).__name__, redact(exc))
            return False
        with self._lock:
            self._in_a_row = 0
        return True


def make_transport(settings: Settings) -> Any:
    kind = settings.lineage_transport
    if kind == "console":
        from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport

        return ConsoleTransport(ConsoleConfig())
    if kind == "file":
        return JsonLinesTransport(lineage_file(settings))
    if kind == "http":
        return _http_transport(settings)
    raise SettingError(f"INGEST_LINEAGE_TRANSPORT={kind!r}: no transport")


def _http_transport(settings: Settings) -> Any:
    import requests
    from openlineage.client.transport.http import HttpConfig, HttpTransport, TokenProvider

    key = _api_key()
    headers: dict[str, str] = {}
    if key and settings.lineage_api_key_header.lower() == "authorization":
        headers["Authorization"] = f"Bearer {key}"
    elif key:
        headers[settings.lineage_api_key_header] = key
    session = requests.Session()
    session.max_redirects = 0  # a redirect is an error: the key header would go on to its target
    config = HttpConfig(url=str(settings.lineage_url), endpoint=settings.lineage_endpoint,
                        timeout=settings.lineage_timeout_s, auth=TokenProvider({}),
                        custom_headers=headers, retry=dict(HTTP_RETRY), session=session)
    return HttpTransport(config)


def _api_key() -> str | None:
    try:
        key = dlt.secrets.get(API_KEY)
    except Exception as exc:  # a provider failing: name the secret, never a value
        raise SettingError(f"the lineage API key ({API_KEY}) could not be read ({type(exc).__name__})") from None
    if key:
        register_secret(str(key))
    return str(key) if key else None


class JsonLinesTransport:
    """The file transport: one event per line, appended. Jobs run in several processes at
    once, so each line is one write() under an exclusive lock (the client's FileTransport
    writes through a buffered file, which can interleave two processes' lines)."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def emit(self, event: Any) -> None:
        from openlineage.client.serde import Serde

        line = (Serde.to_json(event) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def close(self, timeout: float = -1) -> bool:
        return True
