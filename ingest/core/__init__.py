"""Core: what every stage stands on. Errors (errors.py, ordered by how a caller recovers) and
their classification (classify.py, driver_errors.py), settings (settings.py, read once),
secret redaction (redact.py), retries (retry.py), the JobResult / RunContext values
(result.py), logging, progress events, fork safety, mail addresses, the storage credential
and Key Vault as a dlt config provider (keyvault/).

May import: nothing of ingest outside core."""
