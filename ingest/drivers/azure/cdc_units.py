"""Work units of the run orchestrator: a job alone, or ONE connection's load_type CDC jobs
together (its replication slot has one reader at a time, and one read of it feeds all its
tables: ingest/sources/postgres_cdc/). Pure functions of the plan's JSON, so the orchestrator
stays deterministic on every replay. The local runner groups the same way
(ingest/drivers/local/runner.py `cdc_units`)."""

from __future__ import annotations

from typing import Any

Unit = str | tuple[str, ...]
"""A job's name, or the names of one connection's CDC jobs."""


def is_cdc(job: dict[str, Any]) -> bool:
    return job.get("load_type") == "CDC"


def wave_units(names: list[str], jobs: dict[str, dict[str, Any]]) -> list[Unit]:
    """The wave's jobs to start, each connection's CDC jobs gathered where the first of them was."""
    units: list[list[str] | str] = []
    groups: dict[str, list[str]] = {}
    for name in names:
        job = jobs[name]
        if not is_cdc(job):
            units.append(name)
        elif job.get("connection") in groups:
            groups[job["connection"]].append(name)
        else:
            groups[job.get("connection")] = [name]
            units.append(groups[job.get("connection")])
    return [unit if isinstance(unit, str) else tuple(unit) for unit in units]


def unit_input(run: dict[str, Any], jobs: dict[str, dict[str, Any]], unit: Unit, retry: dict[str, Any]) -> dict:
    """The job sub-orchestration's input: {"job": ...} for a job, {"jobs": [...]} for a CDC unit."""
    if isinstance(unit, str):
        return {"run": run, "job": jobs[unit], "retry": retry}
    return {"run": run, "jobs": [jobs[name] for name in unit], "retry": retry}


def unit_instance(instance_id: str, unit: Unit, jobs: dict[str, dict[str, Any]]) -> str:
    """The sub-orchestration's instance id: `<run>:<job>`, or `<run>:cdc:<connection>` (job names
    hold no `:`, so the two never meet)."""
    if isinstance(unit, str):
        return f"{instance_id}:{unit}"
    return f"{instance_id}:cdc:{jobs[unit[0]].get('connection')}"


def flatten(outputs: list[Any]) -> list[dict[str, Any]]:
    """The sub-orchestrations' outputs as job results: a CDC unit returns one per job."""
    results: list[dict[str, Any]] = []
    for output in outputs:
        results.extend(output if isinstance(output, list) else [output])
    return results
