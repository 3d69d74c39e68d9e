"""The run orchestrator's sliding window, through the SDK's real replay engine
(tests/durable_timed.py: sub-orchestrations with simulated durations; the activities are
stand-ins, as no source or lake is needed to prove the schedule; the Functions host itself
cannot run here)."""

from __future__ import annotations

import os

os.environ.setdefault("INGEST_SCHEDULE", "0 0 * * * *")

from function_app import app  # noqa: E402
from tests.durable_timed import TimedDurableDriver  # noqa: E402

RUN = {"run_id": "r1", "started_at": "2026-01-05T06:00:00+00:00"}


def plan_hook(jobs: list[dict], waves: list[list[str]], size: int, chunks: dict[str, list[str]] | None = None):
    chunks = chunks or {}

    def hook(name, payload, attempt):
        if name == "plan_run":
            return {"plan": {"jobs": jobs, "waves": waves, "run": RUN}, "max_parallel": size,
                    "retry": {"attempts": 1, "first_interval_ms": 1000}}
        job = (payload.get("job") or {}).get("job_name")
        if name == "load_job":
            return {"job_name": job, "status": "succeeded", "rows_processed": 1}
        if name == "split_chunks":
            return {"status": "succeeded", "plain": False, "chunks": chunks[job], "done": [], "method": "test",
                    "split_column": "id"}
        if name == "load_chunk":
            return {"status": "succeeded", "chunk": payload["chunk"], "rows": 1}
        if name == "commit_chunks":
            return {"job_name": job, "status": "succeeded", "chunks": {"total": len(chunks[job])}}
        if name == "finalize_run":
            return {"jobs": payload["results"]}
        raise AssertionError(name)

    return hook


def test_one_job_ten_times_longer_does_not_delay_the_others():
    names = ["big", *(f"j{i}" for i in range(8))]
    jobs = [{"job_name": n, "depends_on": []} for n in names]

    def duration(child_input: dict) -> float:
        return 10.0 if child_input["job"]["job_name"] == "big" else 1.0

    driver = TimedDurableDriver(app, duration, activity_hook=plan_hook(jobs, [names], 2))
    outcome = driver.run_timed("ingest_run_orchestrator", {}, "ingest-all")
    assert [j["job_name"] for j in outcome.output["jobs"]] == [*(f"j{i}" for i in range(8)), "big"]
    ends = {key.split(":", 1)[1]: span[1] for key, span in driver.spans.items()}
    assert ends == {"big": 10.0, **{f"j{i}": float(i + 1) for i in range(8)}}  # the ideal schedule
    assert driver.in_flight_peak == 2
    # batches of 2 waited for the slowest of each: the small jobs would have ended at 10, 11, ... 14


def test_chunks_share_the_window_with_jobs_and_commit_after_the_last_chunk():
    jobs = [{"job_name": "big", "depends_on": [], "chunk_size": {"amount": 4, "unit": "chunks"}},
            {"job_name": "small", "depends_on": []}]
    ids = ["c000", "c001", "c002", "c003"]

    def duration(child_input: dict) -> float:
        return {"split": 0.5, "chunk": 2.0, "commit": 1.0}.get((child_input.get("unit") or {}).get("kind"), 3.0)

    driver = TimedDurableDriver(app, duration, activity_hook=plan_hook(jobs, [["big", "small"]], 3, {"big": ids}))
    outcome = driver.run_timed("ingest_run_orchestrator", {}, "ingest-all")
    assert {j["job_name"]: j["status"] for j in outcome.output["jobs"]} == {"big": "succeeded", "small": "succeeded"}
    spans = {key.split(":", 1)[1]: span for key, span in driver.spans.items()}
    assert spans["big:split"] == (0.0, 0.5) and spans["small"] == (0.0, 3.0)
    assert driver.in_flight_peak == 3
    assert spans["big:commit"][0] == max(spans[f"big:{c}"][1] for c in ids)
    assert outcome.custom_status["chunks_done"] == outcome.custom_status["chunks_total"] == 4


def test_the_window_replays_the_same_way():
    """Deterministic: a second drive of the same plan schedules the same units in the same order."""
    names = ["big", "a", "b", "c"]
    jobs = [{"job_name": n, "depends_on": []} for n in names]

    def drive():
        driver = TimedDurableDriver(app, lambda i: 5.0 if i["job"]["job_name"] == "big" else 1.0,
                                    activity_hook=plan_hook(jobs, [names], 2))
        driver.run_timed("ingest_run_orchestrator", {}, "ingest-all")
        return driver.spans

    assert drive() == drive()
