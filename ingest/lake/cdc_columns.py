"""The columns of load_type CDC rows (README "Change data capture"), spelled once: the source
writes them (ingest/sources/postgres_cdc/changes.py, landing.py, connection_load.py) and the
lake's merges read them (cdc_merge.py, cdc_scd2.py; scd2.py leaves them out of a row's hash).
They live in the lake, the lowest stage that reads them (the lake may not import sources)."""

from __future__ import annotations

PREFIX = "_cdc_"
"""Every change column starts with it (scd2.py's hash leaves such columns out)."""
OP = "_cdc_op"
"""I, U or D."""
LSN = "_cdc_lsn"
"""The commit LSN of the change's transaction, a number."""
COMMIT_TS = "_cdc_commit_ts"
"""The commit time (UTC); empty for snapshot rows."""
SEQ = "_cdc_seq"
"""The change's position in its transaction: (LSN, SEQ) is commit order."""
CHANGE_COLUMNS = (OP, LSN, COMMIT_TS, SEQ)
"""What every change row carries besides the table's columns."""
DELETED = "_cdc_deleted"
"""delta, deletes delete: dlt's hard-delete column of the net change."""
HAS_VALUES = "_cdc_has_values"
"""delta, cdc_deletes mark, stage only: whether the row's data columns are its last values
(False: a delete that carries the key only)."""
INGEST_DELETED = "_ingest_deleted"
"""delta, cdc_deletes mark: the row was deleted at the source and keeps its last values."""
