"""Checks run after a load, without reading the source's rows again: row count (rowcount.py),
schema drift and contracts (schema_drift.py, contract.py), quality rules (quality.py), and
the outcome they give the job (outcome.py, post_load.py).

May import: core, config, lake."""
