"""Lake tables have owners (README "What the app will not do without asking").

Each lake table records, beside its data, the job that writes it and the source it reads:

    {dataset}/_ingest_owners/{table}.json     {"job_name", "source_type", "connection", "source", ...}

A folder dlt never treats as a table (as `_ingest_chunks/`), written through dlt's own
filesystem client, so a local folder lake and an `az://` lake work alike. The owner is the
job's name and its source (source type, connection name, schema and table, or the API
endpoint), never the workbook's path: the same job run from a copy of its workbook (locally,
then on Azure after `workbook push`) is the same owner.

Every load claims its tables right before it writes (ingest/load.py, the CDC connection load):
- no record and no data: the record is created, first writer wins (a local file is linked
  into place, which fails when it exists; a blob is uploaded with If-None-Match: *);
- no record but data (a lake from before owners were recorded): adopted once, said in the log;
- a record of another owner: TableOwnedError naming both and the override, unless the run
  takes the table over on purpose (`--take-over`), which is logged and recorded in the
  result's `consents` (the audit trail).
A job's derived tables are its own (`<t>_deleted_keys`, SCD2 and CDC staging tables: a record
each) and so are the nested tables dlt makes for lists and objects (`<t>__<field>`: the record
of `<t>` covers them), so another job whose target is one of those names is refused too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

from ingest.config.dlt_names import NESTED, dlt_table_path, lake_tables, nested_parents
from ingest.config.model import JobConfig, SourceType
from ingest.core.errors import TableOwnedError
from ingest.core.result import RunContext
from ingest.core.settings import Settings

log = logging.getLogger("ingest.owners")
OWNERS_FOLDER = "_ingest_owners"


@dataclass(frozen=True)
class TableOwner:
    """Who writes a lake table; `job_name`, `source_type`, `connection` and `source` are who,
    the rest says when and why (not compared)."""

    job_name: str
    source_type: str
    connection: str
    source: str
    """`schema.table` (or `table`) of a database; `GET scheme://host/path` of an API."""
    table: str = ""
    """The job's own lake table (a derived table's record names its parent)."""
    role: str = ""
    """Empty for the job's own table; else what the derived table is (deleted-keys table...)."""
    claimed_at: str = ""
    run_id: str = ""

    def same_owner(self, other: "TableOwner") -> bool:
        return _identity(self) == _identity(other)

    def describe(self) -> str:
        return f"job '{self.job_name}' ({self.source_type} {self.connection} {self.source})".replace("  ", " ")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TableOwner":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: str(v or "") for k, v in data.items() if k in known})


def _identity(owner: TableOwner) -> tuple[str, str, str, str]:
    return (owner.job_name.lower(), owner.source_type.lower(), owner.connection.lower(), owner.source.lower())


def owner_of(job: JobConfig, run_id: str = "") -> TableOwner:
    """The job as the owner of its tables: name and source, no path, no secret."""
    if job.source_type is SourceType.REST_API and job.api is not None:
        parts = urlsplit(f"{job.api.base_url.rstrip('/')}/{job.api.path.lstrip('/')}")
        source = f"GET {parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
    else:
        source = ".".join(p for p in (job.source_schema, job.source_table) if p)
    return TableOwner(job.job_name, job.source_type.value, job.connection or "", source,
                      dlt_table_path(job.table_name), claimed_at=datetime.now(timezone.utc).isoformat(
                          timespec="seconds"), run_id=run_id)


def owned_tables(job: JobConfig) -> list[tuple[str, str]]:
    """(dlt table name, role) of every lake table the job writes; its own table first."""
    return [(dlt_table_path(t.name), t.role) for t in lake_tables(job)]


@dataclass
class OwnerBook:
    """The owner records of one dataset of the lake."""

    fs: Any
    """The lake's fsspec filesystem (dlt's)."""
    dataset_path: str

    @classmethod
    def open(cls, settings: Settings) -> "OwnerBook":
        """Through dlt's filesystem client, made without a pipeline (as ingest/lake/chunk_staging.py)."""
        from dlt.common.schema import Schema
        from dlt.dataset.utils import get_destination_clients

        from ingest.lake.destination import make_destination

        client, _ = get_destination_clients(Schema("ingest_owners"), make_destination(settings),
                                            destination_dataset_name=settings.dataset)
        return cls.of_client(client)

    @classmethod
    def of_client(cls, client: Any) -> "OwnerBook":
        """For a load's own lake client (ingest/lake/client.py)."""
        return cls(client.fs_client, client.dataset_path.rstrip("/"))

    def _path(self, table: str = "") -> str:
        folder = f"{self.dataset_path}/{OWNERS_FOLDER}"
        return f"{folder}/{table}.json" if table else folder

    def read(self, table: str) -> TableOwner | None:
        try:
            return TableOwner.from_dict(json.loads(self.fs.cat_file(self._path(table))))
        except FileNotFoundError:
            return None
        except ValueError:  # a record being written this very moment (local lake): as if absent
            return None

    def tables(self) -> list[str]:
        """The tables that have a record."""
        with contextlib.suppress(AttributeError):
            self.fs.invalidate_cache(self._path())
        try:
            names = self.fs.ls(self._path(), detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(n).rsplit("/", 1)[-1].removesuffix(".json") for n in names if str(n).endswith(".json"))

    def has_data(self, table: str) -> bool:
        """Whether the table's folder holds anything (a table from before owners were recorded)."""
        folder = f"{self.dataset_path}/{table}"
        with contextlib.suppress(AttributeError):
            self.fs.invalidate_cache(folder)
        try:
            return bool(self.fs.ls(folder, detail=False))
        except FileNotFoundError:
            return False

    def create(self, table: str, owner: TableOwner) -> bool:
        """Write the record unless one exists (first writer wins); False when one did."""
        data = json.dumps(asdict(owner), indent=1, sort_keys=True).encode()
        self.fs.makedirs(self._path(), exist_ok=True)
        if _is_local(self.fs):
            return _link_into_place(self._path(table), data)
        try:
            with self.fs.open(self._path(table), "xb") as handle:  # adlfs: If-None-Match: *
                handle.write(data)
        except FileExistsError:
            return False
        return True

    def replace(self, table: str, owner: TableOwner) -> None:
        """Write the record whatever was there (a take-over on purpose)."""
        data = json.dumps(asdict(owner), indent=1, sort_keys=True).encode()
        self.fs.makedirs(self._path(), exist_ok=True)
        if _is_local(self.fs):
            fd, temp = tempfile.mkstemp(dir=self._path(), prefix=".owner-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, self._path(table))
        else:
            self.fs.pipe_file(self._path(table), data)


def _is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def _link_into_place(path: str, data: bytes) -> bool:
    """A complete file appears at `path` at once, or not at all when one is there."""
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".owner-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)


@dataclass(frozen=True)
class Conflict:
    """One of the job's tables that another owner holds."""

    table: str
    """The job's table (dlt name)."""
    record: str
    """The table whose record says so: `table`, a table it is nested in, or one nested in it."""
    owner: TableOwner

    def text(self) -> str:
        if self.record == self.table:
            return f"lake table '{self.table}' is owned by {self.owner.describe()}"
        if self.record in nested_parents(self.table):
            return (f"lake table '{self.table}' is a nested table of '{self.record}', owned by"
                    f" {self.owner.describe()}")
        return (f"its nested tables '{self.table}{NESTED}*' include lake table '{self.record}', owned by"
                f" {self.owner.describe()}")


def conflicts(book: OwnerBook, job: JobConfig) -> list[Conflict]:
    """The job's tables whose record names another owner (see the module docstring)."""
    me = owner_of(job)
    mine = [name for name, _ in owned_tables(job)]
    found: list[Conflict] = []
    for name in mine:
        for record in (name, *nested_parents(name)):
            owner = book.read(record)
            if owner is not None and not owner.same_owner(me):
                found.append(Conflict(name, record, owner))
                break
    for record in book.tables():  # the job's own table's nested tables that another job writes
        if record.startswith(mine[0] + NESTED) and record not in mine:
            owner = book.read(record)
            if owner is not None and not owner.same_owner(me):
                found.append(Conflict(mine[0], record, owner))
    return found


def takes_over(job: JobConfig, found: Iterable[Conflict], take_over: Sequence[str]) -> bool:
    """Whether the run's `--take-over` names the job or each table it would take."""
    wanted = {dlt_table_path(name) for name in take_over}
    if job.job_name in take_over or dlt_table_path(job.job_name) in wanted:
        return True
    return all(c.table in wanted or c.record in wanted for c in found)


def refusal(job: JobConfig, found: list[Conflict]) -> str:
    tables = ",".join(dict.fromkeys(c.table for c in found))
    return (f"{owner_of(job).describe()} is refused before loading: "
            + "; ".join(c.text() for c in found)
            + f". Nothing was written. To hand it over on purpose run with --take-over {tables}"
              f" (HTTP/ADF start body: \"take_over\": [\"{tables}\"]); the audit trail records it")


def claim_tables(book: OwnerBook, job: JobConfig, run_id: str, take_over: Sequence[str] = ()) -> list[str]:
    """Claim the job's tables before it writes; the consents the claim took (a take-over).
    Raises TableOwnedError (a configuration error: never retried) when another job owns one."""
    found = conflicts(book, job)
    if found and not takes_over(job, found, take_over):
        raise TableOwnedError(refusal(job, found))
    me = owner_of(job, run_id)
    roles = dict(owned_tables(job))
    consents = []
    for conflict in found:
        sentence = (f"took over lake table '{conflict.record}' from {conflict.owner.describe()} for"
                    f" {me.describe()} (--take-over)")
        log.warning("%s", sentence)
        consents.append(sentence)
        if conflict.record not in nested_parents(conflict.table):  # a parent stays its owner's
            book.replace(conflict.record, replace(me, role=roles.get(conflict.record, "")))
    taken = {c.record for c in found}
    for name, role in roles.items():
        if name not in taken:
            _claim_one(book, job, replace(me, role=role), name)
    return consents


def claim_pipeline_tables(pipeline: Any, jobs: Sequence[JobConfig], run: RunContext) -> dict[str, list[str]]:
    """The one ownership check every load makes before it writes, in the pipeline's lake:
    the plain, chunked (its commit) and Durable loads (ingest/load.py) and the CDC connection
    load (its jobs together: all are checked before any record is written). The consents a
    take-over recorded, per job."""
    from ingest.lake.client import lake_client

    with lake_client(pipeline) as client:
        if not client.is_storage_initialized():  # dlt makes the dataset folder itself, refusing one that exists
            client.initialize_storage()
        book = OwnerBook.of_client(client)
        for job in jobs:
            found = conflicts(book, job)
            if found and not takes_over(job, found, run.take_over):
                raise TableOwnedError(refusal(job, found))
        return {job.job_name: claim_tables(book, job, run.run_id, run.take_over) for job in jobs}


def _claim_one(book: OwnerBook, job: JobConfig, me: TableOwner, name: str) -> None:
    """Create the record of one table when it has none (adopting data that is there)."""
    if book.read(name) is not None:
        return
    had_data = book.has_data(name)
    if not book.create(name, me):  # another load created it a moment ago: look again
        again = conflicts(book, job)
        if again:
            raise TableOwnedError(refusal(job, again))
        return
    if had_data:
        log.warning("lake table '%s' had data but no owner record (written before owners were recorded):"
                    " adopted by %s", name, me.describe())


def refuse_if_owned(job: JobConfig, settings: Settings, take_over: Sequence[str] = ()) -> None:
    """Raise TableOwnedError now when another job owns one of the job's tables and the run does
    not take it over; nothing is written (a chunked load's split: before any chunk is staged)."""
    found = conflicts(OwnerBook.open(settings), job)
    if found and not takes_over(job, found, take_over):
        raise TableOwnedError(refusal(job, found))


def owner_notes(jobs: Sequence[JobConfig], settings: Settings, take_over: Sequence[str] = ()) -> dict[str, str]:
    """For the plan and `validate --destination`: per job whose tables another job owns,
    "REFUSED: ..." or "takes over ..."; nothing is written."""
    book = OwnerBook.open(settings)
    notes = {}
    for job in jobs:
        found = conflicts(book, job)
        if not found:
            continue
        if takes_over(job, found, take_over):
            notes[job.job_name] = "takes over " + "; ".join(c.text() for c in found) + " (--take-over)"
        else:
            notes[job.job_name] = "REFUSED: " + refusal(job, found)
    return notes
