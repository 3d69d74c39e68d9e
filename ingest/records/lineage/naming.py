"""Who and what an OpenLineage event names: dataset namespaces and names after the OpenLineage
naming conventions (spec/Naming.md; the client's openlineage.client.naming), and run ids.

Every namespace is built from parsed parts (scheme, host, port, database), never by editing a
connection string, so no user, password or key can reach an event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ingest.core.settings import Settings
from ingest.lake.destination import azure_container, bucket_url, is_azure, lake_account

RUN_JOB_NAME = "ingest_run"
"""The parent job: one run of the workbook's plan; each job load is a child of it."""
_RUN_IDS = uuid.UUID("6f1c2f0e-3a53-4c38-9d0a-2b1f4e0c9a11")
"""Fixed namespace for uuid5: a run id (and a job's within it) always maps to the same UUID, so
a re-delivered Durable activity or a second fan-in reports the same OpenLineage run."""


@dataclass(frozen=True)
class DatasetName:
    namespace: str
    name: str


def parent_run_id(run_id: str) -> str:
    """The OpenLineage runId (a UUID) of the ingest run `run_id`."""
    return str(uuid.uuid5(_RUN_IDS, f"run/{run_id}"))


def job_run_id(run_id: str, job_name: str) -> str:
    """The OpenLineage runId of one job's load in the ingest run `run_id`."""
    return str(uuid.uuid5(_RUN_IDS, f"run/{run_id}/job/{job_name}"))


def sql_dataset(scheme: str, host: str | None, port: int | None, database: str | None,
                schema: str | None, table: str) -> DatasetName:
    """A table: namespace `scheme://host:port`, name `database.schema.table` (the convention for
    PostgreSQL, SQL Server and Oracle, where the database is the service name)."""
    authority = f"{(host or '').lower()}{f':{port}' if port else ''}"
    name = ".".join(part for part in (database, schema, table) if part)
    return DatasetName(f"{scheme}://{authority}", name)


def api_dataset(base_url: str, path: str) -> DatasetName:
    """A REST endpoint: namespace `https://host[:port]`, name the path (no query: parameters
    may hold keys, and they are not the dataset)."""
    parts = urlsplit(base_url)
    authority = f"{(parts.hostname or '').lower()}{f':{parts.port}' if parts.port else ''}"
    full_path = "/".join(p.strip("/") for p in (parts.path, path) if p and p.strip("/"))
    return DatasetName(f"{parts.scheme}://{authority}", f"/{full_path}")


def lake_dataset(settings: Settings, table: str) -> DatasetName:
    """The lake table: `abfss://container@account.dfs.core.windows.net` and the folder below it,
    or `file` and the absolute folder for a local lake."""
    url = bucket_url(settings.destination)
    parts = urlsplit(url)
    if is_azure(url):
        container, account = azure_container(url), lake_account(settings)
        namespace = (f"abfss://{container}@{account}.dfs.core.windows.net" if account
                     else f"abfss://{container}")
        folder = "/".join(p for p in (parts.path.strip("/"), settings.dataset, table) if p)
        return DatasetName(namespace, folder)
    if parts.scheme == "file":
        return DatasetName("file", str(Path(parts.path) / settings.dataset / table))
    return DatasetName(f"{parts.scheme}://{(parts.hostname or '').lower()}",
                       "/".join(p for p in (parts.path.strip("/"), settings.dataset, table) if p))
