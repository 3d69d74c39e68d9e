"""load_type CDC without a server: the workbook's rules (errors at their cell), the pgoutput
decoder on hand-built messages, names, and the net change per key."""

from __future__ import annotations

import struct

import dlt
import pytest

from ingest.config import read_workbook
from ingest.config.model import CdcDeletes, JobConfig, LoadType
from ingest.sources.postgres_cdc import pgoutput
from ingest.sources.postgres_cdc.names import slot_name
from tests.workbooks import HEADER, job_row, write_workbook

LAKE_CAPABILITIES = dlt.destinations.filesystem("lake").capabilities()
"""dlt's filesystem destination's, as the CDC load passes its pipeline's (arrow types of the rows)."""


def read(tmp_path, rows):
    return read_workbook(write_workbook(tmp_path / "w.xlsx", rows, header=HEADER))


def test_cdc_on_postgres_is_valid_and_survives_json(tmp_path):
    config = read(tmp_path, [job_row(load_type="CDC", watermark_column=None, last_watermark=None)])
    assert config.errors == []
    job = config.jobs[0]
    assert job.load_type is LoadType.CDC and job.is_cdc and not job.is_incremental
    assert JobConfig.from_dict(job.to_dict()) == job


def test_cdc_on_another_source_or_with_a_watermark_is_an_error_at_its_cell(tmp_path):
    config = read(tmp_path, [job_row(job_name="ora", source_type="oracle", load_type="CDC", watermark_column=None,
                                     last_watermark=None),
                             job_row(job_name="wm", load_type="CDC", watermark_column="updated_at", last_watermark=None)])
    messages = {str(issue) for issue in config.errors}
    col = {name: chr(ord("A") + i) for i, name in enumerate(HEADER)}
    assert f"jobs!{col['load_type']}2: load_type CDC is for source_type postgres only, not oracle" \
           " (use INCREMENTAL, or FULL with detect_deleted_keys)" in messages
    assert any(m.startswith(f"jobs!{col['watermark_column']}3: watermark_column does not apply to load_type CDC")
               for m in messages)
    assert config.jobs == []


def test_cdc_deletes_mark_is_read_validated_at_its_cell_and_survives_json(tmp_path):
    from openpyxl.utils import get_column_letter

    header = HEADER
    col = {name: get_column_letter(i + 1) for i, name in enumerate(header)}
    cdc = dict(load_type="CDC", watermark_column=None, last_watermark=None)
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="marked", table_format="delta", cdc_deletes="Mark", **cdc),
        job_row(job_name="plain", source_table="b", **cdc),
        job_row(job_name="full", source_table="c", cdc_deletes="mark"),
        job_row(job_name="typo", source_table="d", cdc_deletes="soft", **cdc),
        job_row(job_name="hist", source_table="e", table_format="delta", scd2="Y", cdc_deletes="mark", **cdc),
        job_row(job_name="versions", source_table="f", table_format="delta", scd2="Y", **cdc),
        job_row(job_name="nokey", source_table="g", table_format="delta", cdc_deletes="mark", primary_key=None, **cdc),
        job_row(job_name="parts", source_table="h", table_format="delta", partition_columns="v", **cdc),
    ], header=header))
    messages = {str(issue) for issue in config.errors}
    cell = col["cdc_deletes"]
    assert f"jobs!{cell}4: cdc_deletes applies to load_type CDC only; leave it empty (a watermark load marks" \
           " deletes with delete_flag_column or detect_deleted_keys)" in messages, messages
    assert f"jobs!{cell}5: cdc_deletes 'soft' is not delete or mark" in messages, messages
    assert any(m.startswith(f"jobs!{cell}6: cdc_deletes mark does not apply with scd2 Y") for m in messages), messages
    assert f"jobs!{cell}8: cdc_deletes mark needs primary_key: a deleted row is found and marked by its key" \
        in messages, messages
    assert f"jobs!{col['partition_columns']}9: partition_columns is not applied to load_type CDC tables yet;" \
           " leave it empty" in messages, messages
    jobs = {j.job_name: j for j in config.jobs}
    assert sorted(jobs) == ["marked", "plain", "versions"]  # scd2 with CDC is valid
    assert jobs["versions"].scd2 and jobs["versions"].is_cdc
    assert jobs["marked"].cdc_deletes is CdcDeletes.MARK and jobs["plain"].cdc_deletes is CdcDeletes.DELETE
    assert JobConfig.from_dict(jobs["marked"].to_dict()) == jobs["marked"]


def _tuple(*values):
    out = struct.pack("!h", len(values))
    for value in values:
        out += b"n" if value is None else b"t" + struct.pack("!i", len(value.encode())) + value.encode()
    return out


def test_pgoutput_messages_decode():
    relation = (b"R" + struct.pack("!I", 42) + b"public\0orders\0d" + struct.pack("!h", 2)
                + b"\x01id\0" + struct.pack("!Ii", 23, -1) + b"\x00note\0" + struct.pack("!Ii", 25, -1))
    decoded = pgoutput.decode(relation)
    assert decoded.table == "orders" and [c.is_key for c in decoded.columns] == [True, False]
    begin = pgoutput.decode(b"B" + struct.pack("!qqI", 0x16B3748, 1_000_000, 7))
    assert begin.final_lsn == 0x16B3748 and begin.commit_ts.isoformat() == "2000-01-01T00:00:01+00:00"
    update = pgoutput.decode(b"U" + struct.pack("!I", 42) + b"K" + _tuple("1", None) + b"N" + _tuple("2", "x"))
    assert (update.op, update.old, update.new) == ("U", ("1", None), ("2", "x"))
    delete = pgoutput.decode(b"D" + struct.pack("!I", 42) + b"K" + _tuple("2", None))
    assert delete.old == ("2", None)
    truncate = pgoutput.decode(b"T" + struct.pack("!ib", 2, 0) + struct.pack("!II", 42, 43))
    assert truncate.relation_oids == (42, 43)
    assert pgoutput.lsn_text(0x16B3748) == "0/16B3748" and pgoutput.parse_lsn("16/B374D848") == 0x16B374D848


def test_an_unknown_message_fails_instead_of_being_skipped():
    import pytest

    from ingest.core.errors import CdcSlotError

    with pytest.raises(CdcSlotError, match="not understood"):
        pgoutput.decode(b"S" + b"\0" * 8)


def _spilled(tmp_path, changes, block=2):
    """(id, v, op) changes of one transaction written to a table's scratch files, `block` a file block."""
    from datetime import datetime, timezone

    from ingest.sources.postgres_cdc.changes import META_HINTS
    from ingest.sources.postgres_cdc.spill import TableSpill, arrow_schema

    spill = TableSpill(tmp_path, "s.t", block)
    schema = arrow_schema([{"name": "id", "data_type": "bigint"}, {"name": "v", "data_type": "text"},
                           *META_HINTS.values()], LAKE_CAPABILITIES)
    at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    for seq, (key, value, op) in enumerate(changes):
        spill.append({"id": key, "v": value, "_cdc_op": op, "_cdc_lsn": 7, "_cdc_commit_ts": at, "_cdc_seq": seq},
                     schema)
    return spill


def _rows(tables, *names):
    return sorted(tuple(r[n] for n in names) for t in tables for r in t.to_pylist())


def test_net_change_keeps_the_last_change_of_each_key_across_blocks(tmp_path):
    from ingest.sources.postgres_cdc.net_change import net_change

    spill = _spilled(tmp_path, [(1, "a", "I"), (1, "b", "U"), (2, "x", "U"), (2, None, "D"), (3, "c", "I")])
    assert len(list(spill.batches())) == 3  # blocks of 2 rows: the net change spans them
    assert _rows(net_change(spill, ["id"]), "id", "v", "_cdc_op", "_cdc_seq", "_cdc_deleted") == [
        (1, "b", "U", 1, False), (2, None, "D", 3, True), (3, "c", "I", 4, False)]


def test_soft_net_change_gives_a_delete_the_batchs_last_values(tmp_path):
    from ingest.sources.postgres_cdc.net_change import soft_net_change

    spill = _spilled(tmp_path, [(1, "a", "I"), (2, None, "D"), (1, "b", "U"), (3, "c", "U"), (1, None, "D"),
                                (3, "d", "U")])
    assert _rows(soft_net_change(spill, ["id"]), "id", "v", "_cdc_op", "_cdc_seq", "_ingest_deleted",
                 "_cdc_has_values") == [(1, "b", "D", 4, True, True), (2, None, "D", 1, True, False),
                                        (3, "d", "U", 5, False, True)]


def test_a_column_added_within_a_batch_reads_back_null_before_it(tmp_path):
    from ingest.sources.postgres_cdc.spill import TableSpill, arrow_schema

    spill = TableSpill(tmp_path, "s.t", 10)
    spill.append({"id": 1}, arrow_schema([{"name": "id", "data_type": "bigint"}], LAKE_CAPABILITIES))
    wider = arrow_schema([{"name": "id", "data_type": "bigint"}, {"name": "w", "data_type": "date"}], LAKE_CAPABILITIES)
    spill.append({"id": 2, "w": None}, wider)
    assert [b.to_pylist() for b in spill.batches()] == [[{"id": 1, "w": None}], [{"id": 2, "w": None}]]
    assert len(spill.files) == 2


def test_slot_names_are_valid_and_keep_connections_apart():
    assert slot_name("sales_db") == "ingest_cdc_sales_db"
    assert slot_name("Sales-DB") != slot_name("sales_db")
    assert len(slot_name("x" * 100)) <= 63
    assert all(c.isalnum() or c == "_" for c in slot_name("Sales-DB"))


def test_a_wave_gathers_a_connections_cdc_jobs_into_one_unit():
    """The one grouping both drivers run (ingest/plan/flow.py): each connection's CDC jobs one
    unit, started before the wave's other units, its outcome one result per job."""
    from dataclasses import replace

    from ingest.plan.flow import CDC, JOB, WaveFlows
    from tests.cdc_helpers import cdc_job

    a, b, c = cdc_job("a", "pg1", "s", "a"), cdc_job("b", "pg2", "s", "b"), cdc_job("c", "pg1", "s", "c")
    full = replace(a, job_name="full", load_type=LoadType.FULL)
    flows = WaveFlows([job.to_dict() for job in (a, full, b, c)], lambda *args: {})
    units = [flows.take(), flows.take(), flows.take()]
    assert flows.take() is None
    assert [(u.kind, u.jobs, u.key) for u in units] == [(CDC, ("a", "c"), "cdc:pg1"), (CDC, ("b",), "cdc:pg2"),
                                                        (JOB, (), "full")]
    results = [{"job_name": "a", "status": "succeeded"}, {"job_name": "c", "status": "failed"}]
    assert flows.ended(units[0], results) == results
    assert flows.ended(units[2], {"job_name": "full", "status": "succeeded"}) == [{"job_name": "full",
                                                                                  "status": "succeeded"}]


def _string_constants(path) -> set[str]:
    """The string literals of a module that are not docstrings."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings}


def test_the_cdc_column_names_are_spelled_in_one_module_only():
    """ingest/lake/cdc_columns.py defines them; every other module imports them (a second spelling
    drifts: the merge would then read a column the source never wrote)."""
    from pathlib import Path

    from ingest.lake import cdc_columns

    names = {cdc_columns.PREFIX, *cdc_columns.CHANGE_COLUMNS, cdc_columns.DELETED, cdc_columns.HAS_VALUES,
             cdc_columns.INGEST_DELETED}
    package = Path(cdc_columns.__file__).resolve().parents[1]
    spelled = {str(path.relative_to(package)): sorted(names & _string_constants(path))
               for path in package.rglob("*.py") if path.name != "cdc_columns.py"}
    spelled = {path: found for path, found in spelled.items() if found}
    # sources/soft_deletes.py: `_ingest_deleted` of the non-CDC soft deletes (a flag column)
    assert spelled == {"sources/soft_deletes.py": [cdc_columns.INGEST_DELETED]}


def test_the_cdc_stage_table_name_comes_from_one_function():
    """dlt writes `<table>__cdc_stage` (landing.py), the merge reads it (cdc_merge.py), the
    workbook checks reserve it (dlt_names.lake_tables): one function names it for all three."""
    from pathlib import Path

    from ingest.config import dlt_names
    from ingest.sources.postgres_cdc import landing
    from tests.cdc_helpers import cdc_job

    job = cdc_job("orders", "pg", "s", "orders", "delta_mark")
    assert dlt_names.cdc_stage_table(job) == "orders__cdc_stage"
    assert landing.stage_tables(job) == ("orders__cdc_stage",)
    assert [t.name for t in dlt_names.lake_tables(job) if t.role] == ["orders__cdc_stage"]
    package = Path(dlt_names.__file__).resolve().parents[1]
    users = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                   if "CDC_STAGE_SUFFIX" in p.read_text(encoding="utf-8"))
    assert users == ["config/dlt_names.py"]


def test_merge_reports_of_several_batches_combine_into_one():
    from ingest.lake.cdc_merge import combined

    first = {"staged_rows": 2, "merged": True, "lsn": 10, "version": 3}
    skipped = {"staged_rows": 0, "merged": False, "lsn": 20, "version": None}
    total = combined(combined(combined(None, first), skipped), {**first, "lsn": 30, "version": 4})
    assert total == {"staged_rows": 4, "merged": True, "lsn": 30, "version": 4}
    assert combined(first, skipped)["version"] == 3 and first["staged_rows"] == 2  # inputs unchanged


def test_the_decoder_writes_committed_changes_and_refuses_a_read_ending_inside_a_transaction(tmp_path):
    from ingest.core.errors import CdcSlotError
    from ingest.sources.postgres_cdc.changes import Decoder
    from ingest.sources.postgres_cdc.spill import Spill

    relation = (b"R" + struct.pack("!I", 42) + b"public\0orders\0d" + struct.pack("!h", 2)
                + b"\x01id\0" + struct.pack("!Ii", 23, -1) + b"\x00note\0" + struct.pack("!Ii", 25, -1))
    begin = b"B" + struct.pack("!qqI", 200, 1_000_000, 7)
    insert = b"I" + struct.pack("!I", 42) + b"N" + _tuple("1", "x")
    commit = b"C" + struct.pack("!bqqq", 0, 200, 210, 1_000_000)
    decoder = Decoder(None, {("public", "orders"): ("id",)}, LAKE_CAPABILITIES)
    messages = [(0, 7, m) for m in (relation, begin, insert, insert, commit)]
    batch = decoder.batch(messages, 100, Spill(tmp_path / "a", 1))
    changes = batch.tables[("public", "orders")]
    assert (batch.last_commit_lsn, batch.last_end_lsn, changes.changes) == (200, 210, 2)
    assert [r["_cdc_seq"] for b in changes.spill.batches() for r in b.to_pylist()] == [0, 1]
    assert len(changes.spill.files) == 1 and len(list(changes.spill.batches())) == 2  # blocks of 1
    skipped = decoder.batch(messages[1:], 200, Spill(tmp_path / "b", 1))  # the lake holds it already
    assert skipped.tables == {} and skipped.last_end_lsn == 210 and skipped.last_commit_lsn is None
    with pytest.raises(CdcSlotError, match="ended inside the transaction"):
        decoder.batch(messages[1:4], 100, Spill(tmp_path / "c", 1))
