"""Where a chunked load keeps its chunks until one commit publishes them (README "Chunked
loads"), beside the tables in the lake, never inside a table's folder: a reader of the table
sees the old complete table while chunks land.

    {dataset}/_ingest_chunks/{job_name}/manifest.json            the chunks and what they read
    {dataset}/_ingest_chunks/{job_name}/{chunk}/{attempt}/part-NNNNN.parquet
    {dataset}/_ingest_chunks/{job_name}/{chunk}/done.json        written last: the chunk landed

A chunk's parts are either the files dlt's extract wrote for the table (`put_files`: the
commit imports them into its load as they are) or its raw batches (`writer`: the commit reads
them back through the job's resource, `tables`); done.json says which.

A chunk's files are written under a fresh attempt folder and only `done.json` says which
attempt counts, so a chunk retried (or loaded twice by two processes) never mixes attempts.
The manifest outlives a crashed run: the next run of the same load (same job definition,
mode and window) finds it and loads only the chunks without `done.json`. The commit step
removes the whole folder once the table is published.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.core.errors import ChunkedLoadError
from ingest.lake.chunk_names import ATTEMPT, PART_FILE, new_attempt, part_name
from ingest.core.settings import Settings

STAGING_FOLDER = "_ingest_chunks"
ROW_GROUP_ROWS = 256_000


@dataclass
class ChunkStage:
    fs: Any
    """The lake's fsspec filesystem (dlt's)."""
    folder: str
    """{dataset path}/_ingest_chunks/{job_name}"""

    @classmethod
    def open(cls, settings: Settings, job_name: str) -> "ChunkStage":
        """The job's staging folder in the lake `settings` name, through dlt's own filesystem
        client (the same credentials and paths the loads use), made without a pipeline: a
        throw-away one (its working folder, state and schema storage) cost ~15-30 ms per step."""
        from dlt.common.schema import Schema
        from dlt.dataset.utils import get_destination_clients

        from ingest.lake.destination import make_destination

        client, _ = get_destination_clients(Schema("ingest_chunk_stage"), make_destination(settings),
                                            destination_dataset_name=settings.dataset)
        return cls(client.fs_client, f"{client.dataset_path.rstrip('/')}/{STAGING_FOLDER}/{job_name}")

    def _path(self, *parts: str) -> str:
        return "/".join([self.folder, *parts])

    def _read_json(self, *parts: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.fs.cat_file(self._path(*parts)))
        except FileNotFoundError:
            return None
        except ValueError:  # half written by a process that died: as if absent
            return None

    def _write_json(self, data: dict[str, Any], *parts: str) -> None:
        self.fs.makedirs(self._path(*parts[:-1]), exist_ok=True)
        self.fs.pipe_file(self._path(*parts), json.dumps(data, default=str, sort_keys=True).encode())

    def manifest(self) -> dict[str, Any] | None:
        return self._read_json("manifest.json")

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self._write_json(manifest, "manifest.json")

    def done(self, chunk_id: str) -> dict[str, Any] | None:
        """The chunk's record when it landed completely, else None."""
        return self._read_json(chunk_id, "done.json")

    def mark_done(self, chunk_id: str, record: dict[str, Any]) -> None:
        self._write_json(record, chunk_id, "done.json")

    def writer(self, chunk_id: str) -> "PartWriter":
        attempt = new_attempt()
        return PartWriter(self.fs, self._path(chunk_id, attempt), attempt)

    @property
    def is_local(self) -> bool:
        """The lake is a local folder (a file's path is the path to open)."""
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, (tuple, list)) else (protocol,))

    def put_files(self, chunk_id: str, paths: list[str]) -> tuple[str, list[str]]:
        """Stage local files as the parts of a new attempt of the chunk, as they are (moved
        when the lake is a local folder, else uploaded); returns the attempt and part names."""
        attempt = new_attempt()
        folder = self._path(chunk_id, attempt)
        self.fs.makedirs(folder, exist_ok=True)
        names = [part_name(index) for index in range(len(paths))]
        for path, name in zip(paths, names):
            if self.is_local:
                shutil.move(path, self.fs._strip_protocol(f"{folder}/{name}"))  # fsspec's own: the OS path
            else:
                self.fs.put_file(path, f"{folder}/{name}")
        return attempt, names

    def part_paths(self, chunk_id: str, record: dict[str, Any]) -> list[str]:
        """The lake paths of the chunk's parts. The record comes back from the lake: its
        attempt and file names must be ones this module makes before they can name a path
        (ChunkedLoadError otherwise)."""
        if not ATTEMPT.fullmatch(str(record["attempt"])) or \
                not all(PART_FILE.fullmatch(str(name)) for name in record["files"]):
            raise ChunkedLoadError(f"chunk {chunk_id}: its done.json names files that are not staged parts;"
                                   " not read (remove the job's staging folder and run it again)")
        return [self._path(chunk_id, record["attempt"], name) for name in record["files"]]

    def local_copy(self, path: str, into: str) -> str:
        """A local file holding the staged part at `path` (one of part_paths): the part itself
        when the lake is a local folder, else a download into the folder `into`."""
        if self.is_local:
            return self.fs._strip_protocol(path)
        local = os.path.join(into, new_attempt() + ".parquet")
        self.fs.get_file(path, local)
        return local

    def tables(self, chunk_id: str, record: dict[str, Any], batch_rows: int) -> Iterator[pa.Table]:
        """The chunk's rows as it staged them, `batch_rows` at a time (memory stays flat)."""
        for path in self.part_paths(chunk_id, record):
            with self.fs.open(path, "rb") as handle:
                # pre_buffer (pyarrow's default) reads ahead every row group the iteration will
                # ask for and keeps them: the whole staged file in memory at once
                for batch in pq.ParquetFile(handle, pre_buffer=False).iter_batches(batch_size=batch_rows):
                    yield pa.Table.from_batches([batch])

    def clear(self) -> None:
        """Remove the job's staging folder (after the commit, or to start a load afresh)."""
        if self.fs.exists(self.folder):
            self.fs.rm(self.folder, recursive=True)


@dataclass
class PartWriter:
    """Parquet parts of one chunk attempt: a new part when the batches' schema changes."""

    fs: Any
    folder: str
    attempt: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    _writer: Any = None
    _handle: Any = None
    _schema: Any = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None or not table.schema.equals(self._schema):
            self._close_part()
            name = part_name(len(self.files))
            self.fs.makedirs(self.folder, exist_ok=True)
            self._handle = self.fs.open(f"{self.folder}/{name}", "wb")
            self._writer = pq.ParquetWriter(self._handle, table.schema)
            self._schema = table.schema
            self.files.append(name)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows

    def _close_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._handle.close()
            self._writer = self._handle = None

    def close(self) -> None:
        self._close_part()
