"""The initial snapshot of a big CDC table in parallel chunks (`chunk_size` on its row; README
"Change data capture"). Each chunk is a range of the table's physical blocks, read by its own
process (snapshot_reader.py) inside the slot's exported snapshot, so together the chunks hold
exactly the rows the slot starts after: each visible row version sits in one block, no key or
split column needed, and the ranges are as even as the table's pages. The rows come back as
arrow files, which dlt takes whole (no Python row per value in this process); the load is still
the one load of the snapshot: all tables replaced at once with the slot's state.

The exported snapshot lives only while the slot's replication connection stays open and idle,
so a killed run cannot resume its chunks: the next run takes a new snapshot (as for a
one-stream snapshot). Needs PostgreSQL 14+ (TID range scans); an older server, a table of one
page or a chunk_size asking for one chunk reads in one stream."""

from __future__ import annotations

import base64
import json
import logging
import math
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ingest.config.columns import MAX_CHUNKS
from ingest.config.model import ChunkSize
from ingest.core import errors
from ingest.core.child_process import python_environment
from ingest.core.redact import redact

log = logging.getLogger("ingest.cdc")
READER_MODULE = "ingest.sources.postgres_cdc.snapshot_reader"
MIN_SERVER_VERSION = 140000


@dataclass(frozen=True)
class BlockRange:
    first_block: int
    end_block: int | None
    """None: to the end of the table."""


def plan_chunks(cursor: Any, schema: str, table: str, chunk_size: ChunkSize) -> tuple[list[BlockRange], str]:
    """The block ranges of the table (empty: read in one stream) and what decided them, asked
    inside the snapshot (`cursor` imported it)."""
    cursor.execute("""SELECT current_setting('server_version_num')::int,
                             pg_relation_size(c.oid) / current_setting('block_size')::int, c.reltuples
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = %s AND c.relname = %s""", (schema, table))
    version, blocks, estimate = cursor.fetchone()
    if version < MIN_SERVER_VERSION:
        return [], f"one stream: the server ({version}) has no TID range scans (PostgreSQL 14+)"
    if chunk_size.unit == "chunks":
        wanted = chunk_size.amount
    else:
        rows = estimate if estimate is not None and estimate >= 0 else _count(cursor, schema, table)
        wanted = math.ceil(rows / chunk_size.amount)
    count = max(1, min(wanted, MAX_CHUNKS, blocks))
    if count < 2:
        return [], f"one stream: {blocks} page(s) make one chunk of {chunk_size}"
    bounds = [blocks * i // count for i in range(count + 1)]
    ranges = [BlockRange(bounds[i], bounds[i + 1] if i < count - 1 else None) for i in range(count)]
    return ranges, f"{count} chunks of about {blocks // count} pages each ({blocks} pages)"


def _count(cursor: Any, schema: str, table: str) -> int:
    from psycopg2 import sql

    cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
    return int(cursor.fetchone()[0])


@dataclass
class ChunkReads:
    """The chunk processes of one table, at most `workers` at a time; `batches()` yields each
    finished chunk's rows (arrow record batches) while the others still read."""

    job_name: str
    base_task: dict[str, Any]
    ranges: list[BlockRange]
    workers: int
    scratch: Path

    def batches(self) -> Iterator[Any]:
        import pyarrow as pa

        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        todo = list(enumerate(self.ranges))
        running: list[tuple[int, subprocess.Popen, Path]] = []
        try:
            while todo or running:
                while todo and len(running) < max(1, self.workers):
                    running.append(self._start(*todo.pop(0)))
                index, process, path = self._next_finished(running)
                self._raise_for(index, process)
                with pa.memory_map(str(path)) as source:
                    reader = pa.ipc.open_file(source)
                    for i in range(reader.num_record_batches):
                        yield reader.get_batch(i)
                path.unlink()
        finally:
            for _, process, _ in running:
                process.kill()
                process.wait()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _start(self, index: int, block_range: BlockRange) -> tuple[int, subprocess.Popen, Path]:
        path = self.scratch / f"chunk_{index:04d}.arrow"
        task = {**self.base_task, "first_block": block_range.first_block, "end_block": block_range.end_block,
                "path": str(path)}
        with (self.scratch / f"chunk_{index:04d}.log").open("wb") as stderr:
            process = subprocess.Popen([sys.executable, "-m", READER_MODULE], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=stderr, env=python_environment(),
                                       close_fds=True)
        assert process.stdin is not None
        process.stdin.write(json.dumps(task).encode())
        process.stdin.close()
        return index, process, path

    @staticmethod
    def _next_finished(running: list[tuple[int, subprocess.Popen, Path]]) -> tuple[int, subprocess.Popen, Path]:
        while True:
            for entry in running:
                if entry[1].poll() is not None:
                    running.remove(entry)
                    return entry
            time.sleep(0.02)

    def _raise_for(self, index: int, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        text = process.stdout.read().decode("utf-8", "replace").strip()
        process.stdout.close()
        try:
            said = json.loads(text.splitlines()[-1]) if text else {}
        except ValueError:
            said = {}
        if process.returncode == 0 and "rows" in said:
            return
        error_class = getattr(errors, str(said.get("error_class")), None)
        if not (isinstance(error_class, type) and issubclass(error_class, errors.IngestError)):
            error_class = errors.PermanentSourceError
        why = said.get("message") or f"its process ended with status {process.returncode}" + _tail(
            self.scratch / f"chunk_{index:04d}.log")
        raise error_class(redact(f"job '{self.job_name}': snapshot chunk {index + 1} of {len(self.ranges)}"
                                 f" failed: {why}"))


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" ({lines[-1][:300]})" if lines else ""


def encoded_schema(schema: Any) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()
