"""The fixed cost of an Azure activity's child process (ingest/drivers/azure/isolation.py): from
starting `python -m ingest.drivers.azure.activity_child` to its answer, for an activity name
the child does not know, so it does all a real child does before the load (interpreter, the
dlt defaults, logging, settings, importing the activities with ingest's load modules) and
nothing after. Prints each run's wall, user and system seconds and the median of each.
`warm`: the children are forked by the warm server (ingest/drivers/azure/warm_child.py),
started (and warmed up) before the runs measured; its own start is printed apart.

    .venv/bin/python -m bench.activity_child [runs] [process|warm]
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time

from ingest.core.errors import ActivityChildError
from ingest.core.settings import Settings
from ingest.drivers.azure.isolation import run_isolated


def once(mode: str) -> tuple[float, float, float]:
    """Wall, user and system seconds; in warm mode user and system are the worker's own (the
    child is the server's, not ours: its CPU is not counted here)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    try:
        run_isolated("no_such_activity", {}, Settings(activity_isolation=mode),
                     lambda dead: sys.exit(f"the child died: {dead}"))
    except ActivityChildError:
        pass  # its answer: KeyError for the unknown name, after everything a load needs was imported
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - clock, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    mode = sys.argv[2] if len(sys.argv) > 2 else "process"
    if mode == "warm":
        clock = time.perf_counter()
        once(mode)
        print(f"warm server started, warmed up and its first child answered: {time.perf_counter() - clock:.2f} s")
    samples = [once(mode) for _ in range(runs)]
    for wall, user, system in samples:
        print(f"wall {wall:.2f} s  user {user:.2f} s  sys {system:.2f} s")
    print(f"{mode}: median of {runs}: wall {statistics.median(s[0] for s in samples):.2f} s, user "
          f"{statistics.median(s[1] for s in samples):.2f} s, sys {statistics.median(s[2] for s in samples):.2f} s"
          f" (load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
