-- The current state of a CDC table landed as parquet, keeping deleted rows marked (docs/cdc.md,
-- the parquet side of cdc_deletes mark): per key the values of its last insert or update, in
-- commit order, with _ingest_deleted true when the key's last change is a delete (a later
-- insert of the key revives it). {files}: the table's parquet files (a glob such as
-- 'lake/raw/orders/**/*.parquet' works too); {key}: the primary key column(s).
SELECT * EXCLUDE (_cdc_op, _cdc_lsn, _cdc_commit_ts, _cdc_seq, _dlt_load_id, _dlt_id, _last_op, _rank),
       _last_op = 'D' AS _ingest_deleted
FROM (
    SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY _cdc_lsn DESC, _cdc_seq DESC) AS _rank
    FROM (
        SELECT *, first_value(_cdc_op) OVER (PARTITION BY {key} ORDER BY _cdc_lsn DESC, _cdc_seq DESC) AS _last_op
        FROM read_parquet({files}, union_by_name = true)
    )
    WHERE _cdc_op <> 'D'
)
WHERE _rank = 1
