"""The lake: dlt's filesystem destination for a job (destination.py), the layout and table
formats (table_formats.py, table_format_load.py: parquet, Delta, SCD2, snapshots), repair of
half-written loads (repair.py), Delta maintenance, the parquet encoding decision, dlt's
defaults, a reader of what landed (client.py), the one-load-per-table locks (locks.py), the
staging of chunked loads (chunk_staging.py; the names of chunks and their files: chunk_names.py) and
the wake-up of dlt's loader for jobs finished on creation (load_wakeup.py).

May import: core, config."""
