"""The orchestrators, as plain generator functions. Deterministic: no I/O, no clock but
`context.current_utc_datetime`, no randomness; they only route small JSON between activities.

The run orchestrator keeps at most INGEST_MAX_PARALLEL_JOBS units in flight (a sliding window:
`task_any`, the next unit starts as soon as one ends, so one long job never holds back the
others). A unit is a plain job, a chunked job's split, one of its chunks, or its commit, or
one connection's CDC jobs together (ingest/plan/flow.py); each runs in its own
sub-orchestration, which catches its own failure, so every unit ends with a result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

import azure.durable_functions as df

from ingest.drivers.azure.activities import crashed_job_result
from ingest.config.dependencies import skipped_result_dict, split_wave
from ingest.core.redact import redact
from ingest.plan.flow import CDC, CHUNK, COMMIT, JOB, SPLIT, Unit, WaveFlows

RUN_ORCHESTRATOR = "ingest_run_orchestrator"
JOB_ORCHESTRATOR = "ingest_job_orchestrator"
PLAN_ACTIVITY = "plan_run"
LOAD_ACTIVITY = "load_job"
CDC_ACTIVITY = "load_cdc_connection"
FINALIZE_ACTIVITY = "finalize_run"
SPLIT_ACTIVITY = "split_chunks"
CHUNK_ACTIVITY = "load_chunk"
COMMIT_ACTIVITY = "commit_chunks"
ACTIVITY_OF = {JOB: LOAD_ACTIVITY, SPLIT: SPLIT_ACTIVITY, CHUNK: CHUNK_ACTIVITY, COMMIT: COMMIT_ACTIVITY}


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

    chunks = [0, 0]  # done, planned (this wave's chunked jobs)

    def progress(wave: int) -> dict:
        status = {"jobs_total": len(jobs), "jobs_done": len(results), "run_id": plan["run"]["run_id"],
                  "wave": wave, "waves": len(waves)}
        if chunks[1]:  # a chunked load in this wave (ingest/drivers/chunks/)
            status.update(chunks_done=chunks[0], chunks_total=chunks[1])
        return status

    context.set_custom_status(progress(0))
    for number, wave in enumerate(waves, start=1):
        start, skip = split_wave(wave, depends, outcomes)
        now = context.current_utc_datetime.isoformat()
        results.extend(skipped_result_dict(plan["run"], jobs[name], reason, now) for name, reason in skip.items())
        flows = WaveFlows([jobs[name] for name in start], _failed_result(context, plan["run"]))
        window = _Window(flows, plan["run"], retry, size)
        for result in (yield from _sliding_window(context, window, chunks)):
            results.append(result)
            context.set_custom_status(progress(number))
        outcomes.update({r["job_name"]: r["status"] for r in results})
        context.set_custom_status(progress(number))
    # the trigger tells finalize whether this is the scheduled run (the timer): it sends the daily summary
    summary = yield context.call_activity(FINALIZE_ACTIVITY, {"plan": plan, "results": results,
                                                              "trigger": request.get("trigger")})
    return summary


@dataclass
class _Window:
    """What the sliding window of one wave starts: the units of `flows`."""

    flows: WaveFlows
    run: dict
    retry: dict
    size: int

    def next_unit(self, context: df.DurableOrchestrationContext) -> tuple[Any, Unit] | None:
        """The sub-orchestration of the next unit to start (None: nothing is left to start);
        its instance id is `<run>:<unit key>` (`<run>:cdc:<connection>` for a CDC unit)."""
        unit = self.flows.take()
        if unit is None:
            return None
        if unit.kind == CDC:  # {"jobs": [...]}: one activity, a result per job
            payload = {"run": self.run, "jobs": [self.flows.jobs[name] for name in unit.jobs], "retry": self.retry}
        else:
            payload = {"run": self.run, "job": self.flows.jobs[unit.job_name], "retry": self.retry,
                       "unit": unit.to_dict()}
        return context.call_sub_orchestrator(JOB_ORCHESTRATOR, payload, f"{context.instance_id}:{unit.key}"), unit


def _sliding_window(context: df.DurableOrchestrationContext, window: _Window,
                    chunks: list[int]) -> Generator[Any, Any, list[dict]]:
    """Run the wave's units, at most `window.size` at a time, the next as soon as one ends; the
    jobs' results in the order they ended. Replays take the same path: task_any answers from
    the history, in the order the units ended."""
    finished: list[dict] = []
    in_flight: list[tuple[Any, Unit]] = []
    while True:
        while len(in_flight) < window.size and (started := window.next_unit(context)) is not None:
            in_flight.append(started)
        if not in_flight:
            return finished
        done = yield _any_of(context, [task for task, _ in in_flight])
        index = next(i for i, (task, _) in enumerate(in_flight) if task is done)
        _, unit = in_flight.pop(index)
        finished.extend(window.flows.ended(unit, done.result))  # a CDC unit: a result per job
        chunks[:] = window.flows.chunk_counts()


def _any_of(context: df.DurableOrchestrationContext, tasks: list[Any]) -> Any:
    """`context.task_any(tasks)` that does not schedule again the tasks an earlier yield
    scheduled. Under the V1 replay protocol the SDK (azure-functions-durable 1.x) lists an
    atomic task's action as a one-item list, and its compound task copies such lists without
    asking whether the task was scheduled already (it asks only for single actions, the V2
    form): every unit still in flight would be started again at each step of the window."""
    any_task = context.task_any(tasks)
    if isinstance(any_task.action_repr, list):
        any_task.action_repr = [action for task in tasks if not task._is_scheduled for action in task.action_repr]
    return any_task


def _failed_result(context: df.DurableOrchestrationContext, run: dict):
    def failed(job: dict, error_class: str, message: str) -> dict:
        return crashed_job_result({"run": run, "job": job}, message, context.current_utc_datetime.isoformat(),
                                  error_class)

    return failed


def job_orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict | list[dict]]:
    """One unit: a plain job by default (the input of an older version has no unit), a chunked
    job's step, or one connection's CDC jobs ({"jobs": [...]}: a result per job, from one
    activity, as the slot has one reader)."""
    payload = context.get_input()
    retry = payload["retry"]
    options = df.RetryOptions(first_retry_interval_in_milliseconds=int(retry["first_interval_ms"]),
                              max_number_of_attempts=int(retry["attempts"]))
    if "jobs" in payload:  # one connection's CDC jobs
        return (yield from _cdc_unit(context, payload, options))
    unit = Unit.from_dict(payload.get("unit") or {"job_name": payload["job"]["job_name"]})
    activity_input = {"run": payload["run"], "job": payload["job"]}
    if unit.kind == CHUNK:
        activity_input["chunk"] = unit.chunk
    try:
        result = yield context.call_activity_with_retry(ACTIVITY_OF[unit.kind], options, activity_input)
    except Exception as exc:  # the activity itself failed every attempt
        message = redact(" ".join(str(exc).split()))[:600]
        result = crashed_job_result(payload, f"activity failed after {retry['attempts']} attempt(s): {message}",
                                    context.current_utc_datetime.isoformat(), error_class="ActivityFailedError")
    return result


def _cdc_unit(context: df.DurableOrchestrationContext, payload: dict,
              options: df.RetryOptions) -> Generator[Any, Any, list[dict]]:
    """One connection's CDC jobs in one activity; a crash on every retry fails each of them."""
    try:
        return (yield context.call_activity_with_retry(CDC_ACTIVITY, options,
                                                       {"run": payload["run"], "jobs": payload["jobs"]}))
    except Exception as exc:  # the activity itself failed every attempt
        message = redact(" ".join(str(exc).split()))[:600]
        return [crashed_job_result({"run": payload["run"], "job": job},
                                   f"activity failed after {payload['retry']['attempts']} attempt(s): {message}",
                                   context.current_utc_datetime.isoformat(), error_class="ActivityFailedError")
                for job in payload["jobs"]]
