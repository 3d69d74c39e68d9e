"""Sources: a job's dlt resource (job_source.py). SQL databases (sql.py, with dialects.py,
mssql.py, oracle.py, exact_types.py; what each type lands as: postgres_types.py, and
client_types.py with mssql_types.py and oracle_types.py, read by client_loader.py), REST APIs (rest.py over http.py), credentials and
engines (connections.py, engine_cache.py, entra.py), watermark and filter strategies
(strategies.py, watermark_values.py, lookback.py, composite.py, filters.py) and the deleted
keys resource (soft_deletes.py).

May import: core, config, lake, checks, records, plan."""
