-- The current state of a CDC table landed as parquet (docs/cdc.md): the last change of each
-- key, in commit order, unless it is a delete. {files}: the table's parquet files (a glob such
-- as 'lake/raw/orders/**/*.parquet' works too); {key}: the primary key column(s).
SELECT * EXCLUDE (_cdc_op, _cdc_lsn, _cdc_commit_ts, _cdc_seq, _dlt_load_id, _dlt_id, _rank)
FROM (
    SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY _cdc_lsn DESC, _cdc_seq DESC) AS _rank
    FROM read_parquet({files}, union_by_name = true)
)
WHERE _rank = 1 AND _cdc_op <> 'D'
