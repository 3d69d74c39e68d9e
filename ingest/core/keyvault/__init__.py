"""Azure Key Vault as a dlt config provider.

names.py         dlt keys <-> Key Vault secret names (the documented mapping)
audit.py         which job is running, and one log line per secret access (never the value)
provider.py      the dlt ConfigProvider: TTL cache, refresh after a rejected credential
registration.py  SecretClient with DefaultAzureCredential, placing the provider in dlt's order

Kept free of imports so `ingest.core.settings` can use `names` without a cycle.
"""
