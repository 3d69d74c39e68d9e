"""`python -m ingest workbook pull | push`: a person's copy of the workbook blob, with the ETag
check the app's watermark write-back uses (workbook_blob.py).

pull saves the blob to FILE and, beside it, FILE.blob.json: the blob's URL (no query), ETag,
last-modified time and the SHA-256 of the bytes pulled. push validates FILE first (errors name
their sheet!cell; nothing is uploaded while one remains), then uploads it only if the blob is
still the version pulled (If-Match on that ETag), or, with no pulled copy, only if no blob
exists yet (If-None-Match: *). A stale copy is refused with when and by whom the blob changed
and how to recover; --force overwrites on purpose. Credentials are those of workbook_blob
(an account key is registered as a secret; messages show the URL without its query)."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from ingest.config.workbook import read_workbook
from ingest.config.writeback import replace_file
from ingest.core.user_files import refuse_existing
from ingest.config.workbook_blob import WRITTEN_BY, display_url, download_workbook, workbook_blob
from ingest.core.errors import WorkbookChangedError, WorkbookError
from ingest.core.settings import Settings

SIDECAR_SUFFIX = ".blob.json"


@dataclass(frozen=True)
class PulledCopy:
    """What FILE.blob.json records about the blob version a local file came from."""

    url: str
    etag: str
    last_modified: str
    sha256: str

    @staticmethod
    def path_for(path: Path) -> Path:
        return path.with_name(path.name + SIDECAR_SUFFIX)

    @classmethod
    def load(cls, path: Path) -> PulledCopy | None:
        sidecar = cls.path_for(path)
        if not sidecar.is_file():
            return None
        try:
            fields = json.loads(sidecar.read_text())
            return cls(**{k: str(fields[k]) for k in ("url", "etag", "last_modified", "sha256")})
        except (ValueError, KeyError, TypeError):
            raise WorkbookError(f"{sidecar}: not a record of a pull (expected url, etag, last_modified,"
                                " sha256); pull again") from None

    def save(self, path: Path) -> None:
        replace_file(self.path_for(path), json.dumps(asdict(self), indent=2).encode())


@dataclass(frozen=True)
class Transfer:
    """The outcome of a pull or push, for the command's output."""

    path: Path
    url: str
    etag: str
    last_modified: str
    size: int
    warnings: tuple[str, ...] = ()


def pull_workbook(settings: Settings, target: Path, force: bool = False) -> Transfer:
    """Download the workbook blob to `target` and record its version beside it. A local file
    with edits not pushed (its bytes differ from the pulled ones), one that was never pulled,
    or one pulled from another workbook blob, is kept unless `force`."""
    url = display_url(_config_url(settings))
    _refuse_to_clobber(target, force, url)
    with _container_must_exist(url):
        data, properties = download_workbook(settings)
    replace_file(target, data)
    copy = PulledCopy(url=url, etag=properties.etag, last_modified=_when(properties.last_modified),
                      sha256=_sha256(data))
    copy.save(target)
    return Transfer(target, url, copy.etag, copy.last_modified, len(data))


def push_workbook(settings: Settings, source: Path, force: bool = False) -> Transfer:
    """Validate `source`, then upload it under the ETag condition its pull recorded."""
    url = display_url(_config_url(settings))
    config = read_workbook(source)
    if config.errors:
        listed = "\n".join(f"  {issue}" for issue in config.errors)
        raise WorkbookError(f"{source}: {len(config.errors)} error(s); nothing uploaded:\n{listed}")
    data = source.read_bytes()
    pulled = PulledCopy.load(source)
    if pulled and pulled.url != url and not force:
        raise WorkbookError(f"{source} was pulled from {pulled.url}, not {url} (INGEST_CONFIG_URL or --url):"
                            " nothing uploaded; pull from this one, or push with --force")
    blob = workbook_blob(settings)
    conditions = _conditions(pulled, force)
    try:
        with _container_must_exist(url):
            done = blob.upload_blob(data, overwrite=True, metadata={WRITTEN_BY: _person()}, **conditions)
    except (ResourceModifiedError, ResourceExistsError):
        raise WorkbookChangedError(_stale_message(blob, source, url, pulled)) from None
    copy = PulledCopy(url=url, etag=done["etag"], last_modified=_when(done["last_modified"]), sha256=_sha256(data))
    copy.save(source)
    return Transfer(source, url, copy.etag, copy.last_modified, len(data),
                    tuple(str(w) for w in config.warnings))


@contextlib.contextmanager
def _container_must_exist(url: str) -> Iterator[None]:
    """A missing container is named, with how to create it (the SDK says only "The specified
    container does not exist.")."""
    try:
        yield
    except ResourceNotFoundError as exc:
        if getattr(exc, "error_code", None) != "ContainerNotFound":
            raise
        parts = urlparse(url)
        account = parts.path.strip("/").split("/")[0] if parts.port else (parts.hostname or "").split(".")[0]
        container = parts.path.strip("/").split("/")[1 if parts.port else 0]
        raise WorkbookError(f"{url}: the container {container!r} does not exist on {parts.netloc}: create it (Azurite:"
                            f" `make azurite` creates config, audit and lake; Azure: `az storage container create"
                            f" --name {container} --account-name {account} --auth-mode login`, or deploy infra/)") from None


def _conditions(pulled: PulledCopy | None, force: bool) -> dict:
    if force:
        return {}
    if pulled is None:  # a first upload: only where no workbook is yet
        return {"match_condition": MatchConditions.IfMissing}
    return {"etag": pulled.etag, "match_condition": MatchConditions.IfNotModified}


def _stale_message(blob, source: Path, url: str, pulled: PulledCopy | None) -> str:
    """Why the push was refused, who changed the blob and when, and the two ways out."""
    try:
        now = blob.get_blob_properties()
        changed = (f"last modified {_when(now.last_modified)} by {_writer(now.metadata)}")
    except ResourceNotFoundError:
        changed = "deleted since"
    if pulled is None:
        head = (f"{url} already exists and {source} was not pulled from it (no {PulledCopy.path_for(source).name}):"
                f" the blob was {changed}")
    else:
        head = (f"{url} changed since {source} was pulled (your copy is of the version last modified {pulled.last_modified});"
                f" the blob was {changed}")
    return (f"{head}. Nothing uploaded: pushing would overwrite that change. To keep it: "
            f"python -m ingest workbook pull --to <new file>, apply your edits to that copy, push it. "
            f"To overwrite it on purpose: python -m ingest workbook push {source} --force")


def _writer(metadata: dict | None) -> str:
    writer = (metadata or {}).get(WRITTEN_BY)
    if writer:
        return writer
    return "someone outside ingest (no ingest_written_by metadata: the portal, az storage blob upload, ...)"


def _refuse_to_clobber(target: Path, force: bool, url: str) -> None:
    if force or not target.exists():
        return
    pulled = PulledCopy.load(target)
    if pulled is not None and pulled.url != url:  # the person's copy of another workbook
        refuse_existing(target, force, "--to", f"a copy pulled from {pulled.url}, not {url}")
    if pulled is None:
        raise WorkbookError(f"{target} exists and was not pulled (no {PulledCopy.path_for(target).name}):"
                            " nothing downloaded; choose another --to, or --force to replace it")
    if _sha256(target.read_bytes()) != pulled.sha256:
        raise WorkbookError(f"{target} has edits that were not pushed: nothing downloaded; push them first,"
                            " pull to another file, or --force to drop them")


def _config_url(settings: Settings) -> str:
    if not settings.config_url:
        raise WorkbookError("no workbook blob: set INGEST_CONFIG_URL (azd env get-value INGEST_CONFIG_URL) or give --url")
    return settings.config_url


def _person() -> str:
    """Who pushed, for the blob's metadata (ASCII: metadata travels as HTTP headers)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    name = f"workbook push by {user}@{socket.gethostname()}"
    return name.encode("ascii", "replace").decode("ascii")


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "at an unknown time"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
