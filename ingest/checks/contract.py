"""The job's `schema_contract` as a dlt schema contract on its resource.

dlt applies the contract while extracting, against the table's schema as dlt last stored it
(in the pipeline folder, or restored from the lake on a fresh machine). What each policy does
with this project's sources (arrow batches into the filesystem destination), measured with
dlt 1.31 (tests/integration/test_schema_drift.py):

- evolve: no contract (dlt's default). A new column is added to the table; a changed type
  replaces the old one (later files carry the new type). A column dropped at the source stays
  in dlt's schema and is written as all-NULL.
- freeze: a new column or a changed type (data type, precision, scale, timezone) fails the
  load with dlt's DataValidationError, classified SchemaContractError: nothing is written.
- discard_row: rows carrying a non-NULL value in a new column, or in a column whose type
  changed, are left out (for a type change that is usually every row); the rest load.
- discard_value: a new column is left out of the files; a retyped column is written with the
  type dlt already knows, all NULL.

Tables are always allowed to evolve (the job's first load creates its table), and a
dropped column never violates a contract: schema drift reports it.
"""

from __future__ import annotations

from typing import Any

from ingest.config.rules import SchemaContract


def dlt_schema_contract(policy: SchemaContract) -> dict[str, str] | None:
    """dlt's contract for the policy; None for evolve (dlt's default, nothing to set)."""
    if policy is SchemaContract.EVOLVE:
        return None
    return {"tables": "evolve", "columns": policy.value, "data_type": policy.value}


def apply_contract(resource: Any, policy: SchemaContract) -> None:
    contract = dlt_schema_contract(policy)
    if contract is not None:
        resource.apply_hints(schema_contract=contract)
