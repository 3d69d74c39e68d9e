"""What runs next, for both drivers: a wave's jobs as units of work (README "Chunked loads",
"CDC").

A plain job is one unit (`job`). One connection's load_type CDC jobs are one unit together
(`cdc`: its replication slot has one reader at a time, and one read of it feeds all its
tables), started before the wave's other units; its outcome is one result per job.

A job with chunk_size is `split`, then one `chunk` unit per chunk that has not landed yet, then
`commit`; when split finds the load is not chunked (an INCREMENTAL job that has state, a small
table) it is one `job` unit after all. A chunk that fails does not stop its siblings; when all
have ended, the job fails with ChunkedLoadError naming the failed chunks, and nothing is
published (the next run loads only those).

Pure and deterministic: units in, outcomes (small JSON) in, units out, in a fixed order. The
Durable run orchestrator replays it (ingest/drivers/azure/orchestration.py); the local runner
drives it with job processes (ingest/drivers/local/runner.py). Both keep at most N units in
flight and start the next one as soon as one ends (a sliding window).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

JOB, SPLIT, CHUNK, COMMIT, CDC = "job", "split", "chunk", "commit", "cdc"

FailedResult = Callable[[dict[str, Any], str, str], dict[str, Any]]
"""(job spec, error class, message) -> a failed JobResult as a dict."""


@dataclass(frozen=True)
class Unit:
    job_name: str
    """A CDC unit: its first job."""
    kind: str
    chunk: str | None = None
    jobs: tuple[str, ...] = ()
    """A CDC unit: the names of its connection's jobs, in the wave's order."""
    connection: str | None = None
    """A CDC unit: the connection."""

    @property
    def key(self) -> str:
        """Unique in a run (a sub-orchestration's instance id suffix, a process name). Job
        names hold no `:`, so a job's key never meets a CDC unit's `cdc:<connection>`."""
        if self.kind == CDC:
            return f"cdc:{self.connection}"
        return self.job_name if self.kind == JOB else f"{self.job_name}:{self.chunk or self.kind}"

    def to_dict(self) -> dict[str, Any]:
        return {"job_name": self.job_name, "kind": self.kind, "chunk": self.chunk}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Unit":
        return cls(data["job_name"], data.get("kind") or JOB, data.get("chunk"))


def is_cdc(job: dict[str, Any]) -> bool:
    return job.get("load_type") == "CDC"


def cdc_units(jobs: list[dict[str, Any]]) -> list[Unit]:
    """The wave's CDC jobs, one unit per connection, in the order each connection's first job
    comes; each unit's jobs in the wave's order."""
    groups: dict[Any, list[str]] = {}
    for job in jobs:
        if is_cdc(job):
            groups.setdefault(job.get("connection"), []).append(job["job_name"])
    return [Unit(names[0], CDC, jobs=tuple(names), connection=connection) for connection, names in groups.items()]


def is_chunked(job: dict[str, Any]) -> bool:
    return bool(job.get("chunk_size")) and job.get("source_type") != "rest_api"


class JobFlow:
    def __init__(self, job: dict[str, Any], failed: FailedResult):
        self.job, self.failed = job, failed
        self.name = job["job_name"]
        self.result: dict[str, Any] | None = None
        self.total = self.done = 0
        self.running: set[str] = set()
        self.failures: list[dict[str, Any]] = []
        self.split_info: dict[str, Any] = {}

    def start(self) -> list[Unit]:
        return [Unit(self.name, SPLIT if is_chunked(self.job) else JOB)]

    def finished(self, unit: Unit, outcome: dict[str, Any]) -> list[Unit]:
        """The units that follow `unit`'s outcome; sets `result` when the job has ended."""
        if unit.kind in (JOB, COMMIT):
            self.result = outcome
            return []
        if unit.kind == SPLIT:
            return self._after_split(outcome)
        self.running.discard(unit.chunk or "")
        if outcome.get("status") == "succeeded":
            self.done += 1
        else:
            self.failures.append({"chunk": unit.chunk, "error_class": outcome.get("error_class"),
                                  "error_message": outcome.get("error_message")})
        if self.running:
            return []
        if self.failures:
            self.result = self._failed_chunks()
            return []
        return [Unit(self.name, COMMIT)]

    def _after_split(self, outcome: dict[str, Any]) -> list[Unit]:
        if outcome.get("status") != "succeeded":
            self.result = outcome
            return []
        if outcome.get("plain"):
            return [Unit(self.name, JOB)]
        chunks, done = list(outcome["chunks"]), set(outcome.get("done") or ())
        self.total, self.done = len(chunks), len(done & set(chunks))
        self.split_info = {k: outcome.get(k) for k in ("method", "split_column")}
        todo = [chunk for chunk in chunks if chunk not in done]
        self.running = set(todo)
        return [Unit(self.name, CHUNK, chunk) for chunk in todo] or [Unit(self.name, COMMIT)]

    def _failed_chunks(self) -> dict[str, Any]:
        first = self.failures[0]
        names = ", ".join(sorted(str(f["chunk"]) for f in self.failures))
        message = (f"{len(self.failures)} of {self.total} chunk(s) failed ({names}); nothing was published, the"
                   f" next run loads only the chunks that did not land. First: {first['error_class']}:"
                   f" {first['error_message']}")
        result = self.failed(self.job, "ChunkedLoadError", message)
        result["chunks"] = {"total": self.total, "done": self.done, **self.split_info,
                            "failed": sorted(str(f["chunk"]) for f in self.failures)}
        return result


class WaveFlows:
    """The units of one wave's jobs: `take` the next ready one, report each that `ended`."""

    def __init__(self, jobs: list[dict[str, Any]], failed: FailedResult):
        self.jobs = {job["job_name"]: job for job in jobs}
        self.flows = {job["job_name"]: JobFlow(job, failed) for job in jobs if not is_cdc(job)}
        self.ready: deque[Unit] = deque([*cdc_units(jobs), *(unit for flow in self.flows.values()
                                                             for unit in flow.start())])

    def take(self) -> Unit | None:
        return self.ready.popleft() if self.ready else None

    def ended(self, unit: Unit, outcome: Any) -> list[dict[str, Any]]:
        """The results of the jobs whose last unit `unit` was: each of a CDC unit's (its
        outcome: a list, one result per job), or the job's when it has ended, else none."""
        if unit.kind == CDC:
            return list(outcome) if isinstance(outcome, list) else [outcome]
        result = self.finished(unit, outcome)
        return [] if result is None else [result]

    def finished(self, unit: Unit, outcome: dict[str, Any]) -> dict[str, Any] | None:
        """The job's result when `unit` was its last, else None."""
        flow = self.flows[unit.job_name]
        self.ready.extend(flow.finished(unit, outcome))
        return flow.result if flow.result is not None and not self.ready_for(unit.job_name) else None

    def ready_for(self, job_name: str) -> bool:
        return any(unit.job_name == job_name for unit in self.ready)

    def chunk_counts(self) -> tuple[int, int]:
        """(chunks done, chunks planned) over the wave's chunked jobs, for progress."""
        return (sum(f.done for f in self.flows.values()), sum(f.total for f in self.flows.values()))
