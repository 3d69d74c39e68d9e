"""ingest/drivers/local/job_processes.py hands a job's result on as soon as it arrives and reaps
its process after: a process that takes long to end (here a non-daemon thread it left behind,
which multiprocessing joins before the process exits) does not hold the result back, and the
runner still returns only after every process has ended. Real forked processes, from a fresh
interpreter (a subprocess), as the CLI forks them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, multiprocessing, threading, time
from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.core.settings import Settings
from ingest.drivers.local.job_processes import Task, run_tasks
from ingest.drivers.local.warm_up import preload
from ingest.plan.planner import new_run_context

def slow_to_end():
    threading.Thread(target=time.sleep, args=(1.5,)).start()  # joined before the process exits
    return {"job_name": "a", "status": "succeeded"}

job = JobConfig(job_name="a", enabled=True, source_type=SourceType.SQLITE, connection="demo", source_table="t",
                load_type=LoadType.FULL)
preload({"sqlite"})  # not timed below
started = time.perf_counter()
for task, outcome in run_tasks([Task("a", job, slow_to_end)], new_run_context(), Settings(), workers=1, warm=False):
    first = time.perf_counter() - started
ended = time.perf_counter() - started
print(json.dumps({"first": first, "ended": ended, "outcome": outcome,
                  "left": [p.pid for p in multiprocessing.active_children()]}))
"""


def test_a_result_is_handed_on_before_its_process_has_ended_and_the_process_is_reaped():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["outcome"] == {"job_name": "a", "status": "succeeded"}
    assert seen["first"] < 1.0, seen  # before: the runner waited for the process to end (>= 1.5 s)
    assert seen["ended"] >= 1.5, seen  # the process was still joined before run_tasks returned
    assert seen["left"] == []
