"""The orchestrators, as plain generator functions. Deterministic: no I/O, no clock but
`context.current_utc_datetime`, no randomness; they only route small JSON between activities."""

from __future__ import annotations

from typing import Any, Generator

import azure.durable_functions as df

from ingest.drivers.azure.activities import crashed_job_result
from ingest.drivers.azure.cdc_units import flatten, unit_input, unit_instance, wave_units
from ingest.config.dependencies import skipped_result_dict, split_wave
from ingest.core.redact import redact

RUN_ORCHESTRATOR = "ingest_run_orchestrator"
JOB_ORCHESTRATOR = "ingest_job_orchestrator"
PLAN_ACTIVITY = "plan_run"
LOAD_ACTIVITY = "load_job"
CDC_ACTIVITY = "load_cdc_connection"
FINALIZE_ACTIVITY = "finalize_run"


def run_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict]:
    request = context.get_input() or {}
    planned = yield context.call_activity(PLAN_ACTIVITY, {
        "instance_id": context.instance_id,
        "started_at": context.current_utc_datetime.isoformat(),
        "request": request.get("request"),
        "jobs": request.get("jobs"),  # the input of an older version
    })
    plan, retry = planned["plan"], planned["retry"]
    jobs = {job["job_name"]: job for job in plan["jobs"]}
    waves = plan.get("waves") or ([list(jobs)] if jobs else [])
    size = max(1, int(planned["max_parallel"]))
    # dependencies: a job whose dependency did not succeed is skipped (ingest/config/dependencies.py,
    # pure: the same decision on every replay)
    depends = {name: job.get("depends_on") or [] for name, job in jobs.items()}
    outcomes = {r["job_name"]: r["status"] for r in plan.get("invalid") or []}
    results: list[dict] = []

    def progress(wave: int) -> dict:
        return {"jobs_total": len(jobs), "jobs_done": len(results), "run_id": plan["run"]["run_id"],
                "wave": wave, "waves": len(waves)}

    context.set_custom_status(progress(0))
    for number, wave in enumerate(waves, start=1):
        start, skip = split_wave(wave, depends, outcomes)
        now = context.current_utc_datetime.isoformat()
        results.extend(skipped_result_dict(plan["run"], jobs[name], reason, now) for name, reason in skip.items())
        units = wave_units(start, jobs)  # a job, or one connection's CDC jobs (ingest/drivers/azure/cdc_units.py)
        for first in range(0, len(units), size):
            batch = units[first:first + size]
            # one sub-orchestration per unit: each catches its own failure, so task_all (fail-fast)
            # never loses the other jobs' results
            tasks = [context.call_sub_orchestrator(JOB_ORCHESTRATOR, unit_input(plan["run"], jobs, unit, retry),
                                                   unit_instance(context.instance_id, unit, jobs))
                     for unit in batch]
            results.extend(flatten((yield context.task_all(tasks))))
            context.set_custom_status(progress(number))
        outcomes.update({r["job_name"]: r["status"] for r in results})
        context.set_custom_status(progress(number))
    # the trigger tells finalize whether this is the scheduled run (the timer): it sends the daily summary
    summary = yield context.call_activity(FINALIZE_ACTIVITY, {"plan": plan, "results": results,
                                                              "trigger": request.get("trigger")})
    return summary


def job_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict | list[dict]]:
    """One job ({"job": ...}: its result), or one connection's CDC jobs ({"jobs": [...]}: a
    result per job, from one activity, as the slot has one reader)."""
    payload = context.get_input()
    retry = payload["retry"]
    options = df.RetryOptions(first_retry_interval_in_milliseconds=int(retry["first_interval_ms"]),
                              max_number_of_attempts=int(retry["attempts"]))
    cdc = "jobs" in payload
    activity, body = ((CDC_ACTIVITY, {"run": payload["run"], "jobs": payload["jobs"]}) if cdc
                      else (LOAD_ACTIVITY, {"run": payload["run"], "job": payload["job"]}))
    try:
        result = yield context.call_activity_with_retry(activity, options, body)
    except Exception as exc:  # the activity itself failed every attempt
        message = redact(" ".join(str(exc).split()))[:600]
        crashed = [crashed_job_result({"run": payload["run"], "job": job},
                                      f"activity failed after {retry['attempts']} attempt(s): {message}",
                                      context.current_utc_datetime.isoformat())
                   for job in (payload["jobs"] if cdc else [payload["job"]])]
        result = crashed if cdc else crashed[0]
    return result
