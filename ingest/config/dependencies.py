"""Job dependencies (`depends_on`): validation of the graph, dependency waves, and which jobs
of a wave must be skipped because a job they depend on did not succeed.

Semantics:
- `depends_on` orders jobs *within one run*: a job starts after every job it depends on that
  is in the same run. A dependency that is not in the run (disabled, not selected, not due)
  does not hold the job back.
- A dependency in the run that failed, was rejected by validation (invalid row) or was itself
  skipped makes the job `skipped` with the reason; skipped jobs are not failures (they did not
  run) and are counted apart in the run summary.

Everything here is pure (no I/O, no clock): the Durable orchestrator calls `split_wave`
directly, deterministically, between its fan-outs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ingest.core.result import JobResult, JobStatus, RunContext


@dataclass(frozen=True)
class GraphProblem:
    job_name: str
    message: str


def graph_problems(depends: Mapping[str, Sequence[str]], known: Iterable[str]) -> list[GraphProblem]:
    """Unknown names and cycles. `depends`: job -> the jobs it depends on (valid rows);
    `known`: every job name of the workbook (valid or rejected rows). One problem per job
    whose own cell is at fault: its unknown names, or its part in a cycle."""
    names = set(known) | set(depends)
    problems: list[GraphProblem] = []
    for job, deps in depends.items():
        unknown = [d for d in deps if d not in names]
        if unknown:
            problems.append(GraphProblem(job, "depends_on names no job of the workbook: "
                                         + ", ".join(repr(u) for u in unknown)))
    for cycle in find_cycles(depends):
        path = " -> ".join(cycle + [cycle[0]])
        for job in cycle:
            problems.append(GraphProblem(job, f"depends_on forms a cycle: {path}"))
    return problems


def find_cycles(depends: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Every cycle (as a list of job names in dependency order), each reported once; a job
    that depends on itself is a cycle of one. Iterative DFS: deep chains cannot overflow."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {job: WHITE for job in depends}
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for root in depends:
        if colour[root] != WHITE:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = GREY
        while stack:
            job, index = stack[-1]
            deps = [d for d in depends.get(job, ()) if d in depends]
            if index < len(deps):
                stack[-1] = (job, index + 1)
                nxt = deps[index]
                if colour[nxt] == WHITE:
                    colour[nxt] = GREY
                    stack.append((nxt, 0))
                    path.append(nxt)
                elif colour[nxt] == GREY:
                    cycle = path[path.index(nxt):]
                    key = frozenset(cycle)
                    if key not in seen:
                        seen.add(key)
                        cycles.append(cycle)
            else:
                colour[job] = BLACK
                stack.pop()
                path.pop()
    return cycles


def waves(order: Sequence[str], depends: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Jobs of one run in waves: a job's wave is one after the latest wave of the jobs it
    depends on *in this run*. Inside a wave, the given order (the workbook's) is kept.
    The graph must be acyclic (the workbook validation guarantees it)."""
    in_run = set(order)
    parents = {job: {d for d in depends.get(job, ()) if d in in_run and d != job} for job in order}
    children: dict[str, list[str]] = {job: [] for job in order}
    for job in order:
        for parent in parents[job]:
            children[parent].append(job)
    waiting = {job: len(parents[job]) for job in order}
    position = {job: i for i, job in enumerate(order)}
    result: list[list[str]] = []
    current = [job for job in order if waiting[job] == 0]
    placed = 0
    while current:  # Kahn's algorithm, one layer at a time (no recursion: chains can be long)
        result.append(current)
        placed += len(current)
        ready = []
        for job in current:
            for child in children[job]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        current = sorted(ready, key=position.__getitem__)
    if placed != len(order):
        stuck = [job for job in order if waiting[job] > 0]
        raise ValueError("dependency cycle among: " + ", ".join(stuck))
    return result


def blocked_reason(depends_on: Sequence[str], outcomes: Mapping[str, str]) -> str | None:
    """Why a job must not start: a dependency of this run that did not succeed. `outcomes`:
    job name -> status (`succeeded`, `failed`, `invalid`, `skipped`) of jobs already done."""
    bad = [(d, outcomes[d]) for d in depends_on if d in outcomes and outcomes[d] != JobStatus.SUCCEEDED.value]
    if not bad:
        return None
    words = {JobStatus.FAILED.value: "failed", JobStatus.INVALID.value: "has an invalid workbook row",
             JobStatus.SKIPPED.value: "was skipped"}
    return "not run: " + "; ".join(f"depends on '{d}', which {words.get(s, s)}" for d, s in bad)


def split_wave(wave: Sequence[str], depends: Mapping[str, Sequence[str]],
               outcomes: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """(jobs of the wave to start, {job: reason} of those to skip)."""
    start: list[str] = []
    skip: dict[str, str] = {}
    for job in wave:
        reason = blocked_reason(depends.get(job, ()), outcomes)
        if reason is None:
            start.append(job)
        else:
            skip[job] = reason
    return start, skip


def skipped_result(job_name: str, table_name: str | None, run: RunContext, reason: str, at: str,
                   workbook_watermark: object = None) -> JobResult:
    """The result recorded for a job that was not started (it loads nothing)."""
    return JobResult(job_name=job_name, status=JobStatus.SKIPPED, run_id=run.run_id, table_name=table_name,
                     started_at=at, finished_at=at, workbook_watermark=workbook_watermark,
                     error_message=reason, attempts=0)


def skipped_result_dict(run: dict, job: dict, reason: str, at: str) -> dict:
    """`skipped_result` from and to the plain JSON the Durable orchestrator holds."""
    from ingest.config.model import JobConfig

    config = JobConfig.from_dict(job)
    return skipped_result(config.job_name, config.table_name, RunContext.from_dict(run), reason, at,
                          config.last_watermark).to_dict()
