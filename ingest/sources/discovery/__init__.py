"""Discovery: read a SQL source's catalog and propose a job row per table for the workbook
(`python -m ingest discover`, README "Onboarding a database").

catalog_sql.py  the dialects' statistics queries: row estimates (pg_class.reltuples,
                sys.partitions, all_tables.num_rows, sqlite_stat1), PostgreSQL's column types
                and pg_stats.correlation; never count(*)
catalog.py      tables and views, columns, primary keys, row estimates of one schema
type_notes.py   the columns whose type will not land as it is, and what lands instead
proposals.py    a table -> a job row: name, key, load type, watermark, warnings
discover.py     connection -> catalog -> proposals -> the workbook (ingest/config/workbook_merge.py)

May import: core, config, lake, checks, records, plan, and the other modules of sources."""
