"""One chunk of a CDC table's initial snapshot, read in its own process: started by
snapshot_chunks.py as `python -m ingest.sources.postgres_cdc.snapshot_reader`. The task comes as
one JSON object on stdin (it holds the connection's URL: never on a command line), the rows go
to an arrow IPC file typed by the changes' own converters (values.py: a row lands alike from a
chunk, the one-stream snapshot or the log), and one JSON line goes to stdout: {"rows": n}, or
{"error_class", "message"} with exit status 1."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from ingest.core.classify import classify

BATCH_ROWS = 20_000


def read_chunk(task: dict[str, Any]) -> int:
    """Read rows of blocks [first_block, end_block) of the table in the exported snapshot
    `task["snapshot"]` into the arrow file `task["path"]`; the rows read."""
    import psycopg2
    import pyarrow as pa

    from ingest.sources.postgres_cdc.slot import session_settings
    from ingest.sources.postgres_cdc.values import typed_column

    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(task["schema"])))
    conn = psycopg2.connect(task["url"], application_name="ingest-cdc-snapshot")
    try:
        session_settings(conn)
        conn.commit()
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        conn.cursor().execute("SET TRANSACTION SNAPSHOT %s", (task["snapshot"],))
        columns = [typed_column(name, oid, modifier, conn.cursor()) for name, oid, modifier in task["catalog"]]
        rows = 0
        with pa.OSFile(task["path"], "wb") as sink, pa.ipc.new_file(sink, schema) as writer, \
                conn.cursor(name="snapshot_chunk") as cursor:
            cursor.itersize = BATCH_ROWS
            cursor.execute(chunk_query(task))
            while page := cursor.fetchmany(BATCH_ROWS):
                writer.write_batch(arrow_batch(page, columns, schema, task["extra"]))
                rows += len(page)
        return rows
    finally:
        conn.close()


def chunk_query(task: dict[str, Any]) -> Any:
    """The chunk's rows: its block range, a TID range scan (PostgreSQL 14+) reads only those blocks."""
    from psycopg2 import sql

    where = sql.SQL("ctid >= {}::tid").format(sql.Literal(f"({int(task['first_block'])},0)"))
    if task.get("end_block") is not None:
        where = sql.SQL("{} AND ctid < {}::tid").format(where, sql.Literal(f"({int(task['end_block'])},0)"))
    return sql.SQL("{} WHERE {}").format(snapshot_query(task["catalog"], tuple(task["table"])), where)


def snapshot_query(catalog: list[Any], table: tuple[str, str]) -> Any:
    """Every column of `catalog` ((name, type oid, modifier)) as text, read from `table`
    (schema, name): how the one-stream snapshot and each chunk read the rows."""
    from psycopg2 import sql

    return sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(name)) for name, _, _ in catalog),
        sql.Identifier(*table))


def arrow_batch(page: list[tuple], columns: list[Any], schema: Any, extra: dict[str, Any]) -> Any:
    """The page's values converted column by column into the schema's types, then the constant
    columns every snapshot row carries (`_cdc_*`, the landing's delete flag)."""
    import pyarrow as pa

    arrays = []
    for index, column in enumerate(columns):
        convert = column.convert
        values = [None if row[index] is None else convert(row[index]) for row in page]
        arrays.append(pa.array(values, type=schema.field(column.name).type))
    arrays.extend(pa.array([value] * len(page), type=schema.field(name).type) for name, value in extra.items())
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def main() -> int:
    task = json.loads(sys.stdin.read())
    try:
        rows = read_chunk(task)
    except Exception as exc:  # the parent raises it again, redacted, naming the job and chunk
        error = classify(exc)
        print(json.dumps({"error_class": type(error).__name__, "message": str(error)}), flush=True)
        return 1
    print(json.dumps({"rows": rows}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
