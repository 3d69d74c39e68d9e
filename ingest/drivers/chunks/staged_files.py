"""Chunks that stage dlt's own files, and the commit that publishes them as they are (README
"Chunked loads").

- A chunk runs the job's own resource (its incremental cursor, maps, hints and table format)
  over its range through dlt's extract, in a scratch pipeline with the lake's destination (so
  the same capabilities shape the files), and stages the parquet files dlt's extract wrote for
  the table: names normalized, columns in the schema's order, the writer's settings. Beside
  them, in done.json: the rows of each file, the arrow schema the resource yielded (before
  dlt's steps) and the cursor's state dlt left (the chunk's highest watermark and the hashes of
  its boundary rows).
- The commit (the job's own run_job) imports those files into its load with
  `dlt.mark.with_file_import`: dlt computes the table's schema from the resource's hints and
  an empty table of that arrow schema, exactly as for the plain load's first batch, links each
  file into the load package and publishes it without reading a row (dlt's normalize imports a
  parquet file whose schema already matches the table's as it is). The cursor's state is set to
  what one load over every chunk leaves: the highest last value, with the boundary hashes of
  every chunk that reached it.

Not for a snapshot table (its date column is the commit run's) or a `discard_row` /
`discard_value` contract (dlt filters rows or values of the commit's items, which the imported
files bypass): those chunks stage their raw batches and the commit reads them through the
resource (tasks.py).
"""

from __future__ import annotations

import base64
import logging
import tempfile
from typing import Any, Callable, Iterator

import pyarrow as pa

from ingest.config.model import JobConfig
from ingest.config.rules import SchemaContract
from ingest.core import progress
from ingest.core.errors import ChunkedLoadError
from ingest.core.settings import Settings
from ingest.lake import chunk_names
from ingest.lake.chunk_staging import ChunkStage
from ingest.lake.table_formats import dlt_table_name, is_snapshot
from ingest.sources.job_source import SqlJobSource
from ingest.sources.strategies import Strategies

log = logging.getLogger("ingest.chunks")

LAYOUT = "dlt-files"
"""done.json's and the manifest's `layout` when the chunks stage dlt's files."""


def stages_dlt_files(job: JobConfig) -> bool:
    return not is_snapshot(job) and job.schema_contract in (SchemaContract.EVOLVE, SchemaContract.FREEZE) \
        and not _dlt_adds_load_id()


def _dlt_adds_load_id() -> bool:
    """dlt configured to add `_dlt_load_id` to arrow rows while extracting: a chunk's files
    would carry its scratch load's id instead of the commit's, so they are not published as
    they are. (`add_dlt_id` is fine: dlt's normalize then rewrites the imported files itself.)"""
    from dlt.common.configuration import known_sections, resolve_configuration
    from dlt.normalize.configuration import ItemsNormalizerConfiguration

    config = resolve_configuration(ItemsNormalizerConfiguration(),
                                   sections=(known_sections.NORMALIZE, "parquet_normalizer"))
    return bool(config.add_dlt_load_id)


def clear_scratch(settings: Settings, job_name: str) -> None:
    """Remove the chunk scratch pipeline folders of the job a killed process left (a chunk
    removes its own when it ends); called when the job's next load is planned."""
    import shutil

    from ingest.lake.destination import working_dir

    folder = working_dir(settings)
    if folder.is_dir():
        for left in folder.iterdir():
            if chunk_names.is_scratch_of(left.name, job_name):
                shutil.rmtree(left, ignore_errors=True)


# --- a chunk ---------------------------------------------------------------------------------

def stage(job: JobConfig, window: Any, settings: Settings, source: SqlJobSource, stage_: ChunkStage,
          chunk_id: str, strategies: Strategies) -> dict[str, Any]:
    """Extract the chunk through the job's resource (`strategies` narrows its query to the
    chunk; `window`: the load's LoadWindow, as the plain load gets it) and stage dlt's files."""
    import dlt

    from ingest import load  # installs the parquet encoding the plain load writes with
    from ingest.checks.contract import apply_contract
    from ingest.lake.destination import make_destination, working_dir
    from ingest.lake.table_formats import apply_table_format
    from ingest.sources.sql import build_resource

    resource = build_resource(job, source.engine, source.reflected, settings.chunk_size, settings.sql_backend,
                              window, strategies)
    apply_table_format(resource, job, None)  # parquet | delta hints and maps (no snapshot: see module)
    apply_contract(resource, job.schema_contract)
    seen: dict[str, pa.Schema] = {}
    resource.add_map(_capture_schema(seen), insert_at=1)  # as the resource yields it, before dlt's steps
    resource.add_map(_count_rows(job.job_name))
    scratch = working_dir(settings)
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix=chunk_names.scratch_prefix(job.job_name, chunk_id)) as workdir:
        pipeline = dlt.pipeline(pipeline_name=load.pipeline_name(job), pipelines_dir=workdir,
                                destination=make_destination(settings), dataset_name=settings.dataset)
        info = pipeline.extract(resource, loader_file_format="parquet", schema=dlt.Schema(load.pipeline_name(job)))
        files = _table_files(pipeline, info, dlt_table_name(job))
        state = _cursor_state(pipeline.state, resource.name)
        attempt, names = stage_.put_files(chunk_id, [path for path, _ in files])
    from dlt.common.json import json as dlt_json

    schema = seen.get("schema")
    return {"layout": LAYOUT, "attempt": attempt, "files": names, "file_rows": [rows for _, rows in files],
            "rows": sum(rows for _, rows in files),
            "arrow_schema": None if schema is None else base64.b64encode(schema.serialize().to_pybytes()).decode(),
            "state": None if state is None else dlt_json.typed_dumps(state)}


def _capture_schema(seen: dict[str, pa.Schema]) -> Callable[[Any], Any]:
    def capture(item: Any) -> Any:
        if "schema" not in seen and isinstance(item, (pa.Table, pa.RecordBatch)):
            seen["schema"] = item.schema
        return item

    return capture


def _count_rows(job_name: str) -> Callable[[Any], Any]:
    def count(item: Any) -> Any:
        if isinstance(item, (pa.Table, pa.RecordBatch)):
            progress.rows_extracted(job_name, item.num_rows)
        return item

    return count


def _table_files(pipeline: Any, info: Any, table: str) -> list[tuple[str, int]]:
    """The parquet files dlt's extract wrote for `table` (where its extracted package holds them
    now), with their rows, in writing order."""
    rows = {item.file_path.rsplit("/", 1)[-1]: int(item.items_count) for load_id in info.loads_ids
            for metrics in info.metrics[load_id] for item in metrics["job_metrics"].values()}
    files: list[tuple[str, int]] = []
    for load_id in info.loads_ids:
        for job in pipeline.get_load_package_info(load_id).jobs.get("new_jobs", []):
            if job.job_file_info.table_name != table:
                continue
            if job.job_file_info.file_format != "parquet":
                raise ChunkedLoadError(f"table {table}: dlt's extract wrote {job.job_file_info.file_format},"
                                       " not parquet (a chunked load needs an arrow backend)")
            files.append((job.file_path, rows[job.file_path.rsplit("/", 1)[-1]]))
    return sorted(files, key=lambda f: f[0])


def _cursor_state(state: dict[str, Any], resource_name: str) -> dict[str, Any] | None:
    """The resource's incremental state (cursor path -> dlt's column state); None when dlt
    keeps none (no cursor, or a backfill window: dlt's state stays out of it)."""
    for source in state.get("sources", {}).values():
        incremental = source.get("resources", {}).get(resource_name, {}).get("incremental")
        if incremental:
            return dict(incremental)
    return None


# --- the commit ------------------------------------------------------------------------------

def imports(manifest: dict[str, Any], records: dict[str, dict]) -> bool:
    """The chunks staged dlt's files: the commit imports them."""
    return manifest.get("layout") == LAYOUT and all(r.get("layout") == LAYOUT for r in records.values())


def import_feed(stage_: ChunkStage, manifest: dict[str, Any], records: dict[str, dict], workdir: str
                ) -> Callable[[Any], None]:
    """The `feed` (ingest/load.py) that makes the job's resource yield the staged files as
    file imports, then set the cursor's state. Every record is checked before the load starts."""
    parts = [part for chunk in manifest["chunks"] for part in _parts(stage_, chunk["id"], records[chunk["id"]])]
    kept = [part for part in parts if part[1] > 0] or parts[:1]  # empty chunks add no empty file
    state = merged_state([_state(chunk_id, record) for chunk_id, record in records.items()])

    def feed(resource: Any) -> None:
        from dlt.extract.incremental import Incremental, IncrementalResourceWrapper

        # dlt's incremental step drops the empty table each import carries for the schema; its
        # state is set below instead (dlt 1.31, pinned; Pipe.replace_gen as before)
        resource._pipe.remove_by_type(Incremental, IncrementalResourceWrapper)
        name = resource.name

        def staged() -> Iterator[Any]:
            import dlt

            for path, rows, schema in kept:
                yield dlt.mark.with_file_import(stage_.local_copy(path, workdir), "parquet", rows,
                                                hints=schema.empty_table())
            if state:  # after the last file: nothing in this load moves it again
                dlt.current.resource_state(name).setdefault("incremental", {}).update(state)

        resource._pipe.replace_gen(staged)

    return feed


def _parts(stage_: ChunkStage, chunk_id: str, record: dict[str, Any]) -> list[tuple[str, int, pa.Schema]]:
    paths = stage_.part_paths(chunk_id, record)
    rows = record.get("file_rows")
    if not isinstance(rows, list) or len(rows) != len(paths) or \
            not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in rows):
        raise ChunkedLoadError(f"chunk {chunk_id}: its done.json does not give each staged file's rows;"
                               " nothing was published (remove the job's staging folder and run it again)")
    if not paths:
        return []
    try:
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(record["arrow_schema"], validate=True)))
    except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
        raise ChunkedLoadError(f"chunk {chunk_id}: its done.json holds no readable arrow schema"
                               f" ({type(exc).__name__}); nothing was published") from exc
    return [(path, n, schema) for path, n in zip(paths, rows)]


def _state(chunk_id: str, record: dict[str, Any]) -> dict[str, Any]:
    if record.get("state") is None:
        return {}
    from dlt.common.json import json as dlt_json

    try:
        state = dlt_json.typed_loads(record["state"])
    except (TypeError, ValueError) as exc:
        raise ChunkedLoadError(f"chunk {chunk_id}: its done.json holds an unreadable cursor state;"
                               " nothing was published") from exc
    if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
        raise ChunkedLoadError(f"chunk {chunk_id}: its done.json holds an unreadable cursor state")
    return state


def merged_state(states: list[dict[str, Any]]) -> dict[str, Any]:
    """What one load over every chunk leaves per cursor: the highest last value (dlt's default
    last_value_func, max, the one the jobs use) and the hashes of the boundary rows of every
    chunk that reached it (dlt keeps the hashes of the rows at the last value)."""
    merged: dict[str, Any] = {}
    for path in dict.fromkeys(p for state in states for p in state):
        entries = [state[path] for state in states if path in state]
        values = [e["last_value"] for e in entries if e.get("last_value") is not None]
        if not values:
            merged[path] = dict(entries[0])
            continue
        top = max(values)
        at_top = [e for e in entries if e.get("last_value") == top]
        hashes = {h for e in at_top for h in (e.get("unique_hashes") or [])}
        merged[path] = {**at_top[0], "unique_hashes": list(hashes)}
    return merged

